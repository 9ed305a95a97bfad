"""Reads of the agent desk: who sees which conversations, the inbox views with their counts, the
search, one conversation's thread and its customer panel.

The inbox is shaped for a million conversations and more: every view is "one status (one
assignee), newest activity or oldest waiting first, 50 rows" and walks an index ending in that
order (``conversation_recent``, ``conversation_mailbox``, ``conversation_assignee``,
``conversation_waiting``), stopping after one page. Counts stop at ``COUNT_CAP`` ("999+"): an
exact count of 400,000 open conversations costs a scan and tells an agent nothing more.

An agent working several mailboxes gets each mailbox's first rows from its own index range,
merged in Python (one query over all of them sorted every row of those mailboxes).

Search (``search.py`` says what is indexed and how a word is matched) reads the database's own
full-text index from the newest match down, restricted to the mailboxes the agent works, in
growing chunks, checking the other filters (status, agent, dates) per chunk, and stops as soon as
it has a page: a word found in half of a million conversations costs what a rare word costs.
(Sorting every match by last activity instead read and sorted them all: 96 ms at 20,000
conversations, growing with the table.) An end date starts the walk below the last conversation
created by then. A search that finds no page in ``SEARCH_SCAN_LIMIT`` candidates stops there.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from herald.accounts.models import Account, Role, User
from herald.campaigns.links import links_for
from herald.campaigns.models import Delivery
from herald.campaigns.tokens import reply_token
from herald.conversations import search
from herald.conversations.display import safe_html
from herald.conversations.models import (
    ACTIVE_STATUSES,
    Attachment,
    Conversation,
    ConversationRead,
    ConversationStatus,
    MailboxMember,
    Message,
)
from herald.mailboxes.models import Mailbox
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import RenderError, render

INLINE_IMAGE_BYTES = 512 * 1024  # cid: images up to this size are shown inline (data: URLs)
PAGE_SIZE = 50
COUNT_CAP = 999  # counts above this show as "999+"
SEARCH_CHUNKS = (200, 1000, 5000, 20000)  # candidates per look, growing; the last one repeats
SEARCH_SCAN_LIMIT = 200_000  # candidates a search looks at, at most
ANSWERING_SECONDS = 20  # "X is answering" lasts this long after their composer's last sign

VIEWS = ("mine", "unassigned", "all", "pending", "snoozed", "closed")


# -- who sees what ---------------------------------------------------------------------------


def mailbox_ids_of(user: User) -> list[int] | None:
    """The mailboxes whose conversations ``user`` sees: None for managers (every one)."""
    if user.has_role(Role.MANAGER):
        return None
    return list(MailboxMember.objects.filter(user=user).values_list("mailbox_id", flat=True))


def mailboxes_of(user: User) -> QuerySet[Mailbox]:
    ids = mailbox_ids_of(user)
    rows = Mailbox.objects.all()
    return rows if ids is None else rows.filter(pk__in=ids)


def visible(user: User) -> QuerySet[Conversation]:
    ids = mailbox_ids_of(user)
    rows = Conversation.objects.all()
    return rows if ids is None else rows.filter(mailbox_id__in=ids)


def conversation_for(user: User, conversation_id: int) -> Conversation | None:
    """The conversation if ``user`` may see it (agents: their mailboxes' only), else None."""
    return (
        visible(user)
        .select_related("contact", "mailbox", "campaign", "delivery", "assignee", "wrapup_reason")
        .filter(pk=conversation_id)
        .first()
    )


# -- the inbox ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    view: str = "all"
    mailbox_id: int | None = None
    search: str = ""
    status: str = ""  # with a search: any status unless given
    agent_id: int | None = None
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive
    order: str = "recent"  # or "waiting": oldest waiting first


def _in_view(rows: QuerySet[Conversation], view: str, user: User) -> QuerySet[Conversation]:
    if view == "mine":
        return rows.filter(assignee=user, status=ConversationStatus.OPEN)
    if view == "unassigned":
        return rows.filter(assignee__isnull=True, status=ConversationStatus.OPEN)
    if view in ("pending", "snoozed", "closed"):
        return rows.filter(status=view)
    return rows.filter(status=ConversationStatus.OPEN)


def _filtered(user: User, flt: InboxFilter, *, by_mailbox: bool = True) -> QuerySet[Conversation]:
    """The conversations a filter allows, before search and order (``by_mailbox=False``: all
    mailboxes; the caller checks them, see ``_allowed``)."""
    if not by_mailbox:
        rows = Conversation.objects.all()
    elif flt.mailbox_id:
        # One mailbox: said alone. With the agent's "mailbox IN (...)" beside it, SQLite's
        # planner walked every open conversation by activity instead of that mailbox's index.
        allowed = mailbox_ids_of(user)
        rows = Conversation.objects.filter(mailbox_id=flt.mailbox_id)
        if allowed is not None and flt.mailbox_id not in allowed:
            rows = rows.none()
    else:
        rows = visible(user)
    if flt.search.strip():
        if flt.status in ConversationStatus.values:
            rows = rows.filter(status=flt.status)
        elif flt.status == "active":
            rows = rows.filter(status__in=ACTIVE_STATUSES)
    else:
        rows = _in_view(rows, flt.view, user)
    if flt.agent_id:
        rows = rows.filter(assignee_id=flt.agent_id)
    if flt.since:
        rows = rows.filter(last_message_at__gte=_day_start(flt.since))
    if flt.until:
        rows = rows.filter(last_message_at__lt=_day_start(flt.until + dt.timedelta(days=1)))
    return rows


def inbox(user: User, flt: InboxFilter) -> QuerySet[Conversation]:
    """The conversations of one inbox view (or a search), in the order asked for, as one query
    (``inbox_page`` serves pages; a search's fast path is there)."""
    rows = _filtered(user, flt)
    if flt.search.strip():
        return search_rows(rows, flt.search).order_by("-id")
    if flt.order == "waiting":  # nobody waiting: last, on SQLite too
        return rows.order_by(F("waiting_since").asc(nulls_last=True), "-last_message_at", "-id")
    return rows.order_by("-last_message_at", "-id")


def inbox_page(user: User, flt: InboxFilter, page: int = 1) -> list[Conversation]:
    """One page of an inbox view or search (``PAGE_SIZE`` rows, and one more when a next page
    exists), with what each row shows."""
    page = max(1, page)
    if not flt.search.strip():
        return _view_page(user, flt, page)
    words = search.query_words(flt.search)
    visible_ids = mailbox_ids_of(user)
    if flt.mailbox_id and visible_ids is not None and flt.mailbox_id not in visible_ids:
        return []
    mailboxes = [flt.mailbox_id] if flt.mailbox_id else visible_ids
    expression = search.match_expression(words, mailboxes) if words else None
    if expression is None:
        return []
    rows = _filtered(user, flt, by_mailbox=False)  # mailboxes: checked in _allowed
    wanted = page * PAGE_SIZE + 1
    before = _created_until(flt.until)
    few = search.few_matches(expression, before)  # PostgreSQL: a rare word's matches at once
    if few is not None:
        allowed = _allowed(rows, few, mailboxes) if few else set()
        found = [c for c in few if c in allowed]
    elif mailboxes is not None and connection.vendor == "postgresql":
        # Each mailbox walked on its own index range, newest first, then merged: one walk over
        # all conversations reads past every other mailbox's (300,000 rows for an agent whose
        # mailboxes were quiet lately: a second).
        plain = search.match_expression(words) or expression
        found = sorted(
            {
                c
                for mailbox in mailboxes
                for c in _walk(rows, plain, before, wanted, [mailbox], mailbox_id=mailbox)
            },
            reverse=True,
        )[:wanted]
    else:
        found = _walk(rows, expression, before, wanted, mailboxes)
    ids = found[(page - 1) * PAGE_SIZE : wanted]
    return page_of(user, Conversation.objects.filter(pk__in=ids).order_by("-id"), 1)


def _walk(
    rows: QuerySet[Conversation],
    expression: str,
    before: int | None,
    wanted: int,
    mailboxes: list[int] | None,
    *,
    mailbox_id: int | None = None,
) -> list[int]:
    """The first ``wanted`` matches among ``rows`` (or fewer), newest first: the full-text index
    read down from ``before`` in growing chunks (of one mailbox's with ``mailbox_id``), each
    checked against ``rows``."""
    found: list[int] = []
    scanned = 0
    for look in itertools.count():
        size = SEARCH_CHUNKS[min(look, len(SEARCH_CHUNKS) - 1)]
        candidates = search.matching_ids(expression, before, size, mailbox_id=mailbox_id)
        if not candidates:
            break
        scanned += len(candidates)
        allowed = _allowed(rows, candidates, mailboxes)
        found.extend(c for c in candidates if c in allowed)
        before = candidates[-1]
        if len(found) >= wanted or len(candidates) < size or scanned >= SEARCH_SCAN_LIMIT:
            break
    return found


def _allowed(
    rows: QuerySet[Conversation], candidates: list[int], mailboxes: list[int] | None
) -> set[int]:
    """Which of ``candidates`` (ids) are in ``mailboxes`` (None: any) and pass the filters of
    ``rows``: over the range they span when they are dense in it (a range walk of the primary
    key), by their ids otherwise (an IN list of 5,000 ids costs ~40 ms to plan and look up).
    The mailbox is checked here, not in ``rows``: beside "id IN (...)", SQLite's planner took
    "mailbox IN (...)" for the index and read both mailboxes (100 ms for 20 candidates)."""
    high, low = max(candidates), min(candidates)
    if high - low < 4 * len(candidates):
        inside = rows.filter(pk__gte=low, pk__lte=high)
    else:
        inside = rows.filter(pk__in=candidates)
    keep = None if mailboxes is None else set(mailboxes)
    wanted = set(candidates)
    return {
        pk
        for pk, mailbox in inside.values_list("pk", "mailbox_id")
        if pk in wanted and (keep is None or mailbox in keep)
    }


def _view_page(user: User, flt: InboxFilter, page: int) -> list[Conversation]:
    """One page of a view (no search). An agent working several mailboxes gets each mailbox's
    first rows from its own index range (``conversation_mailbox``), merged here: one query over
    all of them sorts every row of those mailboxes in the view (400,000 closed ones). An agent's
    unassigned conversations oldest waiting first come from each mailbox's queue
    (``_waiting_page``); the other views oldest waiting first walk ``conversation_waiting`` for all
    mailboxes at once. (A plain index per mailbox for them made SQLite's planner choose it for
    the other views too, and sort: 1 s. The queue's index is partial: only a query naming all
    of its conditions can use it.)"""
    rows = inbox(user, flt)
    mailboxes = mailbox_ids_of(user)
    start, stop = (page - 1) * PAGE_SIZE, page * PAGE_SIZE + 1
    if flt.order == "waiting":
        boxes = [flt.mailbox_id] if flt.mailbox_id else mailboxes
        per_mailbox = flt.view == "unassigned" and boxes is not None
        reads: list[int | None] = list(boxes) if per_mailbox and boxes else [None]
        return _waiting_page(user, rows, reads, page)
    if flt.mailbox_id or mailboxes is None or len(mailboxes) < 2 or flt.order != "recent":
        return page_of(user, rows, page)
    merged: list[tuple[dt.datetime, int]] = []
    for mailbox in mailboxes:
        merged.extend(rows.filter(mailbox_id=mailbox).values_list("last_message_at", "id")[:stop])
    merged.sort(reverse=True)
    ids = [pk for _, pk in merged[start:stop]]
    return page_of(user, Conversation.objects.filter(pk__in=ids).order_by(*rows.query.order_by), 1)


def _waiting_page(
    user: User, rows: QuerySet[Conversation], mailboxes: list[int | None], page: int
) -> list[Conversation]:
    """A view oldest waiting first: the conversations where a customer waits, by how long
    (``conversation_waiting``; an agent's unassigned ones from each mailbox's queue,
    ``conversation_queue``, merged here), then those where nobody waits, newest activity first.
    ``mailboxes``: the mailboxes read one by one, or ``[None]`` for one read of ``rows``."""
    start, stop = (page - 1) * PAGE_SIZE, page * PAGE_SIZE + 1
    merged: list[tuple[dt.datetime | None, dt.datetime, int]] = []
    for mailbox in mailboxes:
        part = rows.filter(waiting_since__isnull=False)
        if mailbox is not None:
            part = part.filter(mailbox_id=mailbox)
        merged.extend(
            part.order_by("waiting_since", "-last_message_at", "-id").values_list(
                "waiting_since", "last_message_at", "id"
            )[:stop]
        )
    merged.sort(key=lambda row: (row[0].timestamp() if row[0] else 0, -row[1].timestamp(), -row[2]))
    ids = [row[2] for row in merged[:stop]]
    if len(ids) < stop:
        ids += list(
            rows.filter(waiting_since__isnull=True)
            .order_by("-last_message_at", "-id")
            .values_list("id", flat=True)[: stop - len(ids)]
        )
    chosen = ids[start:stop]
    position = {pk: n for n, pk in enumerate(chosen)}
    found = page_of(user, Conversation.objects.filter(pk__in=chosen), 1)
    return sorted(found, key=lambda c: position[c.pk])


def _created_until(until: dt.date | None) -> int | None:
    """With an end date, the id above which no conversation can qualify: the next after the last
    one created by then (conversations get ids in the order they are created)."""
    if until is None:
        return None
    last = (
        Conversation.objects.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
        .order_by("-created_at")
        .values_list("id", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


def page_of(user: User, rows: QuerySet[Conversation], page: int) -> list[Conversation]:
    """One page of an inbox, with what each row shows (contact, mailbox, campaign, assignee,
    unread for ``user``)."""
    start = max(0, page - 1) * PAGE_SIZE
    read = ConversationRead.objects.filter(
        user=user, conversation=OuterRef("pk"), read_at__gte=OuterRef("last_inbound_at")
    )
    return list(
        rows.select_related("contact", "mailbox", "campaign", "assignee")
        .annotate(seen=Exists(read))
        .defer("search_text")[start : start + PAGE_SIZE + 1]
    )


def counts(user: User, mailbox_id: int | None = None) -> dict[str, str]:
    """Each view's number of conversations for ``user`` ("999+" above ``COUNT_CAP``)."""
    rows = visible(user)
    if mailbox_id:
        rows = rows.filter(mailbox_id=mailbox_id)
    found = {}
    for view in VIEWS:
        if view == "closed":
            continue  # grows forever; nobody works it down
        n = _capped_count(_in_view(rows, view, user))
        found[view] = f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)
    return found


def _capped_count(rows: QuerySet[Conversation]) -> int:
    return len(rows.order_by().values_list("id", flat=True)[: COUNT_CAP + 1])


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def search_rows(rows: QuerySet[Conversation], text: str) -> QuerySet[Conversation]:
    """The conversations among ``rows`` having, for every word of ``text``, a word it begins."""
    words = search.query_words(text)
    expression = search.match_expression(words) if words else None
    if expression is None:
        return rows.none()
    return search.filter_matching(rows, expression)


# -- one conversation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    message: Message
    html: str
    blocked_images: int
    attachments: list[Attachment]


def thread(conversation: Conversation, *, show_images: bool) -> list[Shown]:
    """The conversation's messages with their HTML made safe to show."""
    messages = list(
        conversation.messages.select_related("author")
        .prefetch_related("attachments")
        .defer("raw")
        .order_by("at", "id")
    )
    shown = []
    for message in messages:
        parts = list(message.attachments.all())
        inline = {
            a.content_id: f"data:{a.content_type};base64,"
            + base64.b64encode(bytes(a.data)).decode("ascii")
            for a in parts
            if a.content_id
            and a.content_type.startswith("image/")
            and a.content_type != "image/svg+xml"
            and not a.omitted
            and a.size <= INLINE_IMAGE_BYTES
        }
        safe = safe_html(message.html, show_images=show_images, inline=inline)
        shown.append(Shown(message, safe.html if message.html else "", safe.blocked_images, parts))
    return shown


def earlier(conversation: Conversation, limit: int = 20) -> list[Conversation]:
    """The contact's other conversations (any mailbox the viewer sees is filtered by the
    caller), newest first."""
    return list(
        Conversation.objects.filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .select_related("mailbox", "wrapup_reason")
        .defer("search_text")
        .order_by("-id")[:limit]
    )


@dataclass(frozen=True)
class Received:
    campaign_id: int
    campaign: str
    email: str
    state: str
    sent_at: dt.datetime | None
    opens: int
    clicks: int


def campaigns_received(contact_id: int, limit: int = 20) -> list[Received]:
    """The campaigns sent to a contact, newest first, with their opens and clicks by people."""
    from herald.tracking.models import Engagement

    deliveries = list(
        Delivery.objects.filter(contact_id=contact_id)
        .select_related("campaign")
        .order_by("-id")[:limit]
    )
    engagement = {
        e.delivery_id: e
        for e in Engagement.objects.filter(delivery_id__in=[d.pk for d in deliveries])
    }
    return [
        Received(
            d.campaign_id,
            d.campaign.name,
            d.email,
            d.get_state_display(),
            d.sent_at,
            getattr(engagement.get(d.pk), "opens", 0),
            getattr(engagement.get(d.pk), "clicks", 0),
        )
        for d in deliveries
    ]


def answering(conversation: Conversation, user: User) -> User | None:
    """Someone else who has this conversation's composer open now, if anyone."""
    if conversation.answering_id in (None, user.pk) or conversation.answering_at is None:
        return None
    if timezone.now() - conversation.answering_at > dt.timedelta(seconds=ANSWERING_SECONDS):
        return None
    return User.objects.filter(pk=conversation.answering_id).first()


@dataclass(frozen=True)
class Outbound:
    delivery: Delivery
    subject: str
    text: str
    error: str


def outbound(delivery: Delivery | None) -> Outbound | None:
    """The campaign message a conversation answers, rendered again from its pinned template
    version for the contact, as the contact received it."""
    if delivery is None:
        return None
    campaign = delivery.campaign
    version = campaign.version or campaign.template.current_version
    if version is None:
        return Outbound(delivery, "", "", "the campaign's template has no saved version")
    try:
        compiled = compiled_version(version, campaign.mailbox.signature)
        variables = delivery.contact.variables() if delivery.contact_id else {}
        variables["email"] = delivery.email
        links = links_for(reply_token(delivery.pk))
        rendered = render(compiled, variables, Account.load().variables(), links)
    except RenderError as exc:
        return Outbound(delivery, "", "", str(exc))
    return Outbound(delivery, campaign.subject or rendered.subject, rendered.text, "")


def wrapup_counts(
    since: dt.date | None = None, until: dt.date | None = None, mailbox_id: int | None = None
) -> dict[str, list[tuple[str, str, int]]]:
    """Closed conversations by wrap-up reason, per agent, per mailbox and per campaign:
    ``{"agent": [(who, reason, n), ...], "mailbox": [...], "campaign": [...]}``."""
    from django.db.models import Count

    rows = Conversation.objects.filter(status=ConversationStatus.CLOSED)
    if since:
        rows = rows.filter(closed_at__gte=_day_start(since))
    if until:
        rows = rows.filter(closed_at__lt=_day_start(until + dt.timedelta(days=1)))
    if mailbox_id:
        rows = rows.filter(mailbox_id=mailbox_id)
    found: dict[str, list[tuple[str, str, int]]] = {}
    for key, column in (
        ("agent", "closed_by__email"),
        ("mailbox", "mailbox__name"),
        ("campaign", "campaign__name"),
    ):
        grouped = (
            rows.values(column, "wrapup_reason__name")
            .annotate(n=Count("id"))
            .order_by(column, "-n")
        )
        found[key] = [
            (g[column] or "—", g["wrapup_reason__name"] or "(none)", g["n"]) for g in grouped
        ]
    return found


def members_of(mailbox: Mailbox) -> list[MailboxMember]:
    """The mailbox's members, each with ``presence`` (a ``PresenceStatus`` value) and its
    ``presence_label``."""
    from herald.routing.models import Presence, PresenceStatus

    members = list(mailbox.members.select_related("user").order_by("user__email"))
    status = dict(
        Presence.objects.filter(user_id__in=[m.user_id for m in members]).values_list(
            "user_id", "status"
        )
    )
    for member in members:
        member.presence = status.get(member.user_id, PresenceStatus.OFFLINE)  # type: ignore[attr-defined]
        member.presence_label = PresenceStatus(member.presence).label  # type: ignore[attr-defined]
    return members


def assignable(conversation: Conversation) -> list[User]:
    """Who a manager may assign the conversation to: its mailbox's active members and managers."""
    members = MailboxMember.objects.filter(mailbox_id=conversation.mailbox_id).values("user_id")
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(pk__in=members) | Q(role__in=[Role.MANAGER, Role.ADMIN]))
        .order_by("email")
    )


def saved_answer_html(conversation: Conversation, template: object) -> str:
    """A saved answer (a ``Template`` with a saved version) rendered for the conversation's
    contact, as composer HTML; raises ``RenderError`` when it cannot be."""
    from herald.conversations import actions, compose
    from herald.messaging.rendering import Links

    variables = conversation.contact.variables()
    variables["email"] = actions.customer_address(conversation)
    rendered = render(
        compiled_version(template.current_version, None),  # type: ignore[attr-defined]
        variables,
        Account.load().variables(),
        Links(),
    )
    return compose.clean_html(rendered.html)
