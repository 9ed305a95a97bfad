from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "herald.contacts"
    label = "contacts"

    def ready(self) -> None:
        # The loop that resumes imports whose worker died (see herald.contacts.tasks).
        from herald.contacts import tasks  # noqa: F401
