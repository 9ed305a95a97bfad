from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "herald.messaging"
    label = "messaging"
