"""The REST API under /api/v1 (django-ninja, OpenAPI at /api/v1/docs), by API token."""
