"""Writes and side effects of the accounts app, by topic: accounts, sessions, consent, tokens, audit."""
