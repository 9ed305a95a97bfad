"""`herald createuser EMAIL --role R`: the same action the Users page uses, audited as the CLI."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from herald.accounts.actions import do_create_user
from herald.accounts.models import Role
from herald.audit.actors import Actor
from herald.core.management.base import HeraldCommand


class Command(HeraldCommand):
    help = "Create a user. The password comes from HERALD_NEW_USER_PASSWORD or is generated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, email: str, role: str, name: str, **options: Any) -> None:
        try:
            new = do_create_user(
                Actor.system("command line"),
                email=email,
                role=Role(role),
                name=name,
                password=os.environ.get("HERALD_NEW_USER_PASSWORD") or None,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Created {new.user.email} ({new.user.get_role_display()}).")
        if new.password:
            self.stdout.write(f"  password: {new.password}   (shown only now)")
