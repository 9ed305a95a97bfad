"""Mailboxes (the SMTP + IMAP entry points) and the built-in sandbox mailbox."""
