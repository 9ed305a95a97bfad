from django.apps import AppConfig


class MailboxesConfig(AppConfig):
    name = "herald.mailboxes"
    label = "mailboxes"
