"""Posting to X: the outbox, the poster thread and the X client."""
