"""Campaigns: what to send to whom, when and how fast; their deliveries and the event log."""
