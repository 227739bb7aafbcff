"""Writes and side effects of the replication app, by topic (fan-out, placement, actions...)."""
