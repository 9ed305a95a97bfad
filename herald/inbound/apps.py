from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "herald.inbound"
    label = "inbound"
