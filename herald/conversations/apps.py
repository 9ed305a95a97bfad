from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "herald.conversations"
    label = "conversations"
