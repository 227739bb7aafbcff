"""Writes and side effects of the accounts app, by topic: accounts, sessions, tokens, audit."""
