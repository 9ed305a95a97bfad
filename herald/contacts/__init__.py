"""Contacts, contact lists and the suppression list; CSV imports that scale to millions of rows."""
