"""The change history of configuration: who changed what, when, field by field; searchable."""
