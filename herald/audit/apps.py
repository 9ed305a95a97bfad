from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "herald.audit"
    label = "audit"
