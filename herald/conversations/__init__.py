"""Conversations: what contacts write back, threaded per contact and mailbox."""
