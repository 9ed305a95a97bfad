"""Signed webhooks: what happens in Herald, pushed to the URLs admins subscribe."""
