"""Inbound mail: the pure classification of what comes back (bounces, complaints, auto-replies,
opt-outs, replies) and, later, IMAP ingestion and threading built on it."""
