"""Cross-cutting pieces: errors and their rendering, API authentication, log redaction, health."""
