"""`herald campaign start|pause|resume|cancel|status NAME [--json]`: a campaign from the shell.

The same actions as the campaign page and the API, acting as "command line" in the history.
``status --json`` prints one JSON object: the status, its reason, the counts by state, the skip
reasons and the expected end.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from herald.audit.actors import Actor
from herald.campaigns import actions, queries
from herald.campaigns.models import Campaign, CampaignStatus
from herald.core.management.base import HeraldCommand

TRANSITIONS: dict[str, tuple[Callable[..., Campaign], str]] = {
    "start": (actions.do_start_campaign, "started"),
    "pause": (actions.do_pause_campaign, "paused"),
    "resume": (actions.do_resume_campaign, "resumed"),
    "cancel": (actions.do_cancel_campaign, "cancelled"),
}


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment, actions.account_zone()):%Y-%m-%d %H:%M %Z}"


class Command(HeraldCommand):
    help = "Drive a campaign: `herald campaign start|pause|resume|cancel|status NAME`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, what in (
            ("start", "start a draft campaign (a dated or recurring one is scheduled)"),
            ("pause", "pause a running or scheduled campaign"),
            ("resume", "resume a paused campaign"),
            ("cancel", "cancel a campaign for good: what is not sent yet is skipped"),
            ("status", "print the campaign's status and progress"),
        ):
            command = sub.add_parser(name, help=what)
            command.add_argument("name", help="the campaign's name")
            if name == "pause":
                command.add_argument("--reason", default="", help="shown on the campaign page")
            if name == "status":
                command.add_argument("--json", action="store_true", help="one JSON object")

    def handle(self, *args: Any, action: str, name: str, **options: Any) -> None:
        campaign = Campaign.objects.select_related("mailbox", "template").filter(name=name).first()
        if campaign is None:
            raise CommandError(f'no campaign named "{name}"')
        if action == "status":
            self.status(campaign, as_json=options["json"])
            return
        do, done = TRANSITIONS[action]
        extra = {"reason": options["reason"]} if action == "pause" else {}
        try:
            campaign = do(Actor.system("command line"), campaign, **extra)
        except ValidationError as exc:
            problems = " ".join(exc.messages)
            if action == "start":
                raise CommandError(f'campaign "{name}" cannot start: {problems}') from None
            raise CommandError(problems) from None
        if action == "start" and campaign.status == CampaignStatus.SCHEDULED:
            at = campaign.next_run_at
            self.stdout.write(
                f'Campaign "{name}" scheduled' + (f" for {_local(at)}." if at else ".")
            )
            return
        counts = queries.progress(campaign.pk)
        self.stdout.write(
            f'Campaign "{name}" {done}: {counts["to_send"]} to send of {counts["total"]}.'
        )

    def status(self, campaign: Campaign, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(queries.summary(campaign, timezone.now()), ensure_ascii=False)
            )
            return
        counts = queries.progress(campaign.pk)
        lines = [f"{campaign.name}: {campaign.status}"]
        if campaign.status_reason:
            lines.append(f"  why: {campaign.status_reason}")
        lists = ", ".join(campaign.lists.order_by("name").values_list("name", flat=True))
        lines.append(
            f"  mailbox {campaign.mailbox.name}, template {campaign.template.name}, "
            f"lists {lists or '(none)'}"
        )
        lines.append(
            f"  {counts['total']} deliveries: {counts['sent']} sent, {counts['to_send']} to send "
            f"({counts['deferred']} deferred), {counts['failed']} failed, "
            f"{counts['bounced']} bounced, {counts['skipped']} skipped"
        )
        for reason, n in queries.skipped_reasons(campaign.pk):
            lines.append(f"  skipped, {reason or 'no reason'}: {n}")
        outlook = queries.outlook(campaign, counts, timezone.now())
        if outlook.starts_at:
            lines.append(f"  starts at {_local(outlook.starts_at)}")
        if outlook.opens_at:
            lines.append(
                f"  waiting for the send window, which opens at {_local(outlook.opens_at)}"
            )
        if outlook.eta:
            lines.append(f"  expected to finish at {_local(outlook.eta)}")
        self.stdout.write("\n".join(lines))
