from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "herald.inbound"
    label = "inbound"

    def ready(self) -> None:
        # Every worker reads mail: the ingestion loop (herald.inbound.ingest) leases each
        # receiving mailbox, so one worker at a time reads it.
        from herald.core.worker import register_loop
        from herald.inbound import ingest

        register_loop("inbound", 0.5, close=ingest.inbound_close)(ingest.inbound_step)
