from django.apps import AppConfig


class DialerConfig(AppConfig):
    name = "herald.dialer"
    label = "dialer"
