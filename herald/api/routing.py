"""Routing in the API: an agent's presence, everyone's presence for managers, and the
supervisor's figures (the same as the supervisor page's)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from django.http import HttpRequest
from ninja import Router

from herald.accounts.access import current_user
from herald.api import auth
from herald.api.schemas import Error, Input
from herald.routing import actions, queries

router = Router(tags=["routing"])
ERRORS = {403: Error, 422: Error}


class PresenceIn(Input):
    status: Literal["available", "away", "offline"]


@router.put("/presence", auth=auth.AGENT, response={200: dict, **ERRORS})
def set_presence(request: HttpRequest, payload: PresenceIn) -> dict:
    """Sets the caller's own presence; available, they are offered waiting conversations."""
    user = current_user(request)
    row = actions.do_set_presence(user, payload.status)
    return {"user_id": user.pk, "status": row.status, "since": row.since}


@router.get("/presence", auth=auth.MANAGER, response={200: list, **ERRORS})
def list_presence(request: HttpRequest) -> list[dict]:
    """The presence of everyone who works a mailbox."""
    return [
        {"user_id": user.pk, "email": user.email, "status": status}
        for user, status in queries.presence_rows()
    ]


@router.get("/supervisor", auth=auth.MANAGER, response={200: dict, **ERRORS})
def supervisor(request: HttpRequest) -> dict:
    """Per mailbox: queue, oldest waiting, service level (last hour, today) and each agent's
    presence, load, capacity, handled today and median times; per campaign: sent, replies,
    reply rate and replies waiting."""
    mailboxes = [queries.mailbox_figures(m) for m in queries.desk_mailboxes()]
    return {
        "mailboxes": [dataclasses.asdict(m) for m in mailboxes],
        "campaigns": [dataclasses.asdict(c) for c in queries.campaign_figures()],
    }
