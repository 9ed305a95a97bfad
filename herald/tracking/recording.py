"""Recording opens, clicks and ratings: one function for a batch of them, in one transaction.

The endpoints hand over ``Hit``s (what was asked, by whom, when) and get back, for each, whether
its delivery exists and, for a click, where to redirect. The fast path (``fastpath``) gathers the
hits of many concurrent requests into one call (group commit: each request is answered once its
batch is committed); Django's views call it with one hit. Per batch, the database work is:

1. the deliveries not seen yet (one SELECT by primary key; kept per process once sent);
2. each campaign's tracking switches and link targets (kept per process for a few seconds);
3. the engagement rows of the batch's deliveries (an INSERT that ignores existing rows, then a
   SELECT ... FOR UPDATE in delivery order, so concurrent batches never deadlock);
4. one INSERT of the events (the tallies follow by trigger) and one UPDATE of the engagements;
5. the list-member statuses of the campaign's mapping for first opens and first clicks.

Tokens do not expire: a link works for as long as its delivery exists (a campaign deleted, its
links answer 404). Deciding whether a recipient is a person (``machines``) uses the full IP
address; what is stored is anonymized when the account says so.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from herald.accounts.models import Account
from herald.campaigns.actions import apply_status_map
from herald.campaigns.models import Campaign, Delivery, EventKind
from herald.messaging.queries import prepared_version
from herald.tracking import machines
from herald.tracking.linkmap import link_targets

OPEN, CLICK, RATE = "open", "click", "rate"
RATING_SCORES = range(1, 6)
CAMPAIGN_SECONDS = 5.0  # a changed tracking switch applies within this time
DELIVERY_CACHE_SIZE = 200_000  # ~40 MB at most: the deliveries of the campaigns being read now
USER_AGENT_LENGTH = 300
URL_LENGTH = 2000
_CHUNK = 500  # rows per multi-row statement (well under SQLite's variable limit)


@dataclass(frozen=True)
class Hit:
    """One request to a tracking endpoint."""

    kind: str  # open | click | rate
    delivery_id: int
    at: dt.datetime
    user_agent: str = ""
    ip: str = ""
    head: bool = False  # a HEAD request: link checkers use them, people never do
    link: int | None = None  # click: the link number
    score: int | None = None  # rate: 1..5


@dataclass(frozen=True)
class Result:
    found: bool  # False: no such delivery (or link, or score) — answer 404
    url: str | None = None  # a click's destination
    machine: bool = False
    campaign_id: int | None = None


NOT_FOUND = Result(found=False)


@dataclass(frozen=True)
class _Delivery:
    campaign_id: int
    contact_id: int
    email: str
    sent_at: dt.datetime | None


@dataclass
class _Campaign:
    campaign: Campaign
    links: dict[int, str | None]
    expires: float
    status_map: dict[str, str] = field(default_factory=dict)


_lock = threading.Lock()
_deliveries: dict[int, _Delivery] = {}
_campaigns: dict[int, _Campaign] = {}
_links: dict[tuple[int, int | None], dict[int, str | None]] = {}
_account: list[Any] = []  # [anonymize_ips, expires]


def forget() -> None:
    """Drops what this process keeps (tests change campaigns and settings under it)."""
    with _lock:
        _deliveries.clear()
        _campaigns.clear()
        _links.clear()
        _account.clear()


def _delivery_infos(ids: set[int]) -> dict[int, _Delivery]:
    found = {i: _deliveries[i] for i in ids if i in _deliveries}
    missing = sorted(ids - found.keys())
    for start in range(0, len(missing), _CHUNK):
        chunk = missing[start : start + _CHUNK]
        which, params = _among("id", chunk)
        with _cursor() as cursor:  # plain SQL: a thousand of these a second
            cursor.execute(
                "SELECT id, campaign_id, contact_id, email, sent_at "  # noqa: S608
                f"FROM campaigns_delivery WHERE {which}",
                params,
            )
            rows = cursor.fetchall()
        for pk, campaign_id, contact_id, email, sent_at in rows:
            info = _Delivery(campaign_id, contact_id, email, _aware(sent_at))
            found[pk] = info
            if sent_at is not None:  # final enough to keep: opens and clicks come after it
                if len(_deliveries) >= DELIVERY_CACHE_SIZE:
                    _deliveries.clear()
                _deliveries[pk] = info
    return found


def _link_targets(campaign: Campaign) -> dict[int, str | None]:
    version = campaign.version or campaign.template.current_version
    if version is None:
        return {}
    signature = campaign.mailbox.signature
    key = (version.pk, signature.pk if signature is not None else None)
    targets = _links.get(key)
    if targets is None:
        prepared = prepared_version(version, signature)
        targets = _links[key] = link_targets(prepared.html, prepared.text)
    return targets


def _campaign(campaign_id: int) -> _Campaign | None:
    now = time.monotonic()
    held = _campaigns.get(campaign_id)
    if held is not None and held.expires > now:
        return held
    campaign = (
        Campaign.objects.select_related(
            "version", "template__current_version", "mailbox__signature"
        )
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        _campaigns.pop(campaign_id, None)
        return None
    held = _Campaign(
        campaign=campaign,
        links=_link_targets(campaign),
        expires=now + CAMPAIGN_SECONDS,
        status_map=dict(campaign.status_map or {}),
    )
    _campaigns[campaign_id] = held
    return held


def _anonymize_ips() -> bool:
    now = time.monotonic()
    if not _account or _account[1] <= now:
        _account[:] = [Account.load().anonymize_ips, now + CAMPAIGN_SECONDS]
    return bool(_account[0])


def campaign_links(campaign: Campaign) -> dict[int, str | None]:
    """Link number -> URL of the version a campaign sends (None: depends on the recipient)."""
    return _link_targets(campaign)


def _dynamic_url(held: _Campaign, delivery_id: int, index: int) -> str | None:
    """The URL of a link built from the recipient's variables: the message is rendered again."""
    from herald.tracking.sent import render_sent

    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return None
    sent = render_sent(delivery, held.campaign)
    return sent.links.get(index) if sent is not None else None


def _resolve(hit: Hit, held: _Campaign) -> Result:
    """What the request gets, before anything is recorded."""
    campaign_id = held.campaign.pk
    if hit.kind == OPEN:
        return Result(True, campaign_id=campaign_id)
    if hit.kind == RATE:
        ok = hit.score in RATING_SCORES
        return Result(True, campaign_id=campaign_id) if ok else NOT_FOUND
    if hit.link is None or hit.link not in held.links:
        return NOT_FOUND
    url = held.links[hit.link]
    if url is None:
        url = _dynamic_url(held, hit.delivery_id, hit.link)
    if url is None or not url.lower().startswith(("https://", "http://")):
        return NOT_FOUND
    return Result(True, url=url, campaign_id=campaign_id)


def _tracked(hit: Hit, campaign: Campaign) -> bool:
    if hit.kind == OPEN:
        return campaign.track_opens
    if hit.kind == CLICK:
        return campaign.track_clicks
    return True  # a rating is what the recipient meant to tell


@dataclass(frozen=True)
class Cached:
    url: str
    campaign_id: int
    stale: bool  # the campaign is due to be read again (``lookup`` does it)


def cached_url(delivery_id: int, link: int) -> Cached | None:
    """Where a click goes, when this process has its delivery and campaign at hand (a recipient
    clicking again, a scanner trying every link); None when the database must be asked (as it
    is for an unknown link, and for one made of the recipient's variables).

    A campaign held longer than CAMPAIGN_SECONDS still answers, marked stale: a sent message's
    links never change, and reading the campaign again must not keep clicks waiting (under load
    the thread that does it waits for the interpreter lock, hundreds of milliseconds at times).
    A deleted campaign stops answering once it was read again."""
    info = _deliveries.get(delivery_id)
    held = _campaigns.get(info.campaign_id) if info is not None else None
    if held is None:
        return None
    url = held.links.get(link)
    if url is None or not url.lower().startswith(("https://", "http://")):
        return None
    return Cached(url, held.campaign.pk, stale=held.expires <= time.monotonic())


def lookup(hits: Sequence[Hit]) -> list[Result]:
    """What each hit gets (its delivery exists? a click's URL), without recording anything."""
    return [result for result, _, _ in _resolved(hits)]


def _resolved(hits: Sequence[Hit]) -> list[tuple[Result, _Delivery | None, _Campaign | None]]:
    infos = _delivery_infos({h.delivery_id for h in hits})
    campaigns = {cid: _campaign(cid) for cid in {i.campaign_id for i in infos.values()}}
    resolved: list[tuple[Result, _Delivery | None, _Campaign | None]] = []
    for hit in hits:
        info = infos.get(hit.delivery_id)
        held = campaigns.get(info.campaign_id) if info is not None else None
        if info is None or held is None:
            resolved.append((NOT_FOUND, None, None))
        else:
            resolved.append((_resolve(hit, held), info, held))
    return resolved


def record(hits: Sequence[Hit]) -> list[Result]:
    """Records a batch of hits in one transaction; one result per hit, in order."""
    if not hits:
        return []
    with transaction.atomic():
        resolved = _resolved(hits)
        results = [result for result, _, _ in resolved]
        todo: list[tuple[int, Hit, _Delivery, _Campaign]] = []
        for position, (hit, (result, info, held)) in enumerate(zip(hits, resolved, strict=True)):
            if (
                result.found
                and info is not None
                and held is not None
                and _tracked(hit, held.campaign)
            ):
                todo.append((position, hit, info, held))
        if todo:
            _write(todo, results)
    return results


_ENGAGEMENT_FIELDS = [
    "opens",
    "machine_opens",
    "first_open_at",
    "read_at",
    "last_open_at",
    "clicks",
    "machine_clicks",
    "first_click_at",
    "clicked_at",
    "last_click_at",
    "last_link",
    "links",
    "rating",
    "rated_at",
]


class _State:
    """A delivery's engagement row while its batch is being counted."""

    __slots__ = ("delivery_id", "campaign_id", *_ENGAGEMENT_FIELDS)
    delivery_id: int
    campaign_id: int
    opens: int
    machine_opens: int
    first_open_at: dt.datetime | None
    read_at: dt.datetime | None
    last_open_at: dt.datetime | None
    clicks: int
    machine_clicks: int
    first_click_at: dt.datetime | None
    clicked_at: dt.datetime | None
    last_click_at: dt.datetime | None
    last_link: int | None
    links: list[int]
    rating: int | None
    rated_at: dt.datetime | None

    def __init__(self, row: Sequence[Any]) -> None:
        for name, value in zip(self.__slots__, row, strict=True):
            setattr(self, name, value)


_DATETIMES = {f for f in _ENGAGEMENT_FIELDS if f.endswith("_at")}


def _sqlite_time(value: dt.datetime | None) -> Any:
    """A datetime as SQLite takes it (Django's adapter, without its per-call checks)."""
    if value is None:
        return value
    if value.utcoffset():
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ")


def _as_is(value: dt.datetime | None) -> Any:
    return value


def _time_adapter() -> Any:
    # Looked up once per batch: each access to ``connection`` goes through asgiref's Local.
    return _sqlite_time if connection.vendor == "sqlite" else _as_is


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # SQLite keeps UTC without its offset
    return value


# -- plain SQL for a batch --------------------------------------------------------------------
#
# A batch is written in a handful of statements whatever its size. On PostgreSQL the rows travel
# as one array per column (``unnest``): the statement stays short, so psycopg parses it once and
# the server plans it once, where a VALUES list of a thousand parameters is parsed again for
# every batch. SQLite takes a VALUES list. Both read the rows through ``WITH v(...) AS (...)``.
#
# On PostgreSQL these statements go through psycopg's own cursor (``_cursor``), not Django's:
# Django binds parameters on the client, so every element of every array was quoted and escaped
# in Python (psycopg's text array dumper runs a regular expression per element), and every
# timestamp read back was parsed by Django's Python loader. Here the arrays travel in binary
# (``%b``) and timestamps are read by psycopg's C loader: half the worker's time per hit.


def _cursor() -> Any:
    """The cursor for a batch's plain SQL (see above): on PostgreSQL, psycopg's own, binding
    parameters on the server, on Django's connection (so in its transaction)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    loader = _timestamptz_loader()
    if loader is not None:
        cursor.adapters.register_loader("timestamptz", loader)
    return cursor


@functools.cache
def _timestamptz_loader() -> Any:
    """psycopg's default timestamptz loader (C, with psycopg[binary]); Django registers a
    Python one on its connections."""
    import psycopg

    oid = psycopg.postgres.types["timestamptz"].oid
    return psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)


def _among(column: str, values: list[int]) -> tuple[str, list[Any]]:
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%b)", [values]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _rows(columns: list[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``WITH v(columns) AS (...)`` for these rows, and its parameters."""
    names = ", ".join(name for name, _type in columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"CAST(%b AS {sql_type}[])" for _name, sql_type in columns)
        params: list[Any] = [list(column) for column in zip(*rows, strict=True)]
        return f"WITH v({names}) AS (SELECT * FROM unnest({arrays})) ", params  # noqa: S608
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    values = ", ".join([row] * len(rows))
    return f"WITH v({names}) AS (VALUES {values}) ", [v for r in rows for v in r]


def _engagements(ids: list[int], campaign_of: dict[int, int]) -> dict[int, _State]:
    """The engagement rows of these deliveries (created when missing), locked on PostgreSQL.

    Plain SQL: the ORM's bulk_create and bulk_update cost milliseconds per row to compile, far
    more than the database's own work here."""
    postgres = connection.vendor == "postgresql"
    lock = " FOR UPDATE" if postgres else ""
    empty = "CAST('[]' AS jsonb)" if postgres else "'[]'"
    columns = ", ".join(_State.__slots__)
    found: dict[int, _State] = {}
    with _cursor() as cursor:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            source, params = _rows(
                [("delivery_id", "bigint"), ("campaign_id", "bigint")],
                [(i, campaign_of[i]) for i in chunk],
            )
            cursor.execute(
                source + "INSERT INTO tracking_engagement "  # noqa: S608 - placeholders only
                "(delivery_id, campaign_id, opens, machine_opens, clicks, machine_clicks, links) "
                f"SELECT delivery_id, campaign_id, 0, 0, 0, 0, {empty} FROM v WHERE true "
                "ON CONFLICT (delivery_id) DO NOTHING",
                params,
            )
            which, params = _among("delivery_id", chunk)
            cursor.execute(
                f"SELECT {columns} FROM tracking_engagement "  # noqa: S608
                f"WHERE {which} ORDER BY delivery_id{lock}",
                params,
            )
            for row in cursor.fetchall():
                state = _State(row)
                for name in _DATETIMES:
                    setattr(state, name, _aware(getattr(state, name)))
                if isinstance(state.links, str):
                    state.links = json.loads(state.links)
                found[state.delivery_id] = state
    return found


_EVENT_COLUMNS = [
    ("campaign_id", "bigint"),
    ("delivery_id", "bigint"),
    ("kind", "text"),
    ("at", "timestamptz"),
    ("data", "jsonb"),
]
_TALLY_COLUMNS = [
    ("campaign_id", "bigint"),
    ("hour", "timestamptz"),
    ("name", "text"),
    ("n", "bigint"),
]
_ENGAGEMENT_COLUMNS = [
    ("delivery_id", "bigint"),
    *(
        (
            name,
            "timestamptz"
            if name.endswith("_at")
            else {"links": "jsonb", "rating": "smallint"}.get(name, "integer"),
        )
        for name in _ENGAGEMENT_FIELDS
    ),
]


def _save(
    states: list[_State], events: list[tuple[Any, ...]], tallies: dict[tuple[int, Any, str], int]
) -> None:
    """One INSERT of the events, one of their tallies (added up per campaign, hour and name;
    the events say they were counted, so the trigger leaves them out) and one UPDATE of the
    engagement rows."""
    db_time = _time_adapter()
    # The connection's own tally rows (see Tally.shard), as the trigger does.
    shard = "mod(pg_backend_pid(), 16)" if connection.vendor == "postgresql" else "0"
    with _cursor() as cursor:
        for start in range(0, len(events), _CHUNK):
            source, params = _rows(_EVENT_COLUMNS, events[start : start + _CHUNK])
            cursor.execute(
                source + "INSERT INTO campaigns_event "  # noqa: S608 - placeholders only
                "(campaign_id, delivery_id, kind, at, detail, data) "
                "SELECT campaign_id, delivery_id, kind, at, '', data FROM v",
                params,
            )
        rows = [(*key, n) for key, n in tallies.items()]
        for start in range(0, len(rows), _CHUNK):
            source, params = _rows(_TALLY_COLUMNS, rows[start : start + _CHUNK])
            cursor.execute(
                source + "INSERT INTO tracking_tally (campaign_id, hour, name, n, shard) "  # noqa: S608
                f"SELECT campaign_id, hour, name, n, {shard} FROM v WHERE true "
                "ON CONFLICT (campaign_id, hour, name, shard) "
                "DO UPDATE SET n = tracking_tally.n + excluded.n",
                params,
            )
        updates = []
        for state in states:
            row: list[Any] = [state.delivery_id]
            for name in _ENGAGEMENT_FIELDS:
                value = getattr(state, name)
                if name in _DATETIMES:
                    value = db_time(value)
                elif name == "links":
                    value = json.dumps(value)
                row.append(value)
            updates.append(row)
        sets = ", ".join(f"{n} = v.{n}" for n in _ENGAGEMENT_FIELDS)
        for start in range(0, len(updates), _CHUNK):
            source, params = _rows(_ENGAGEMENT_COLUMNS, updates[start : start + _CHUNK])
            cursor.execute(
                source + f"UPDATE tracking_engagement SET {sets} FROM v "  # noqa: S608
                "WHERE tracking_engagement.delivery_id = v.delivery_id",
                params,
            )


def _judge(
    hit: Hit, row: _State, since: float | None, networks: tuple[str, ...]
) -> tuple[str, machines.Verdict, list[str]]:
    """The event kind, the machine verdict and the tally words of one hit; counts it in its
    delivery's engagement row."""
    if hit.kind == OPEN:
        verdict = machines.classify_open(
            hit.user_agent, hit.ip, since, head=hit.head, extra_networks=networks
        )
        return EventKind.OPENED, verdict, _count_open(row, hit, verdict)
    if hit.kind == CLICK:
        other = None
        if row.last_click_at is not None and row.last_link != hit.link:
            other = abs((hit.at - row.last_click_at).total_seconds())
        verdict = machines.classify_click(
            hit.user_agent,
            hit.ip,
            since,
            seconds_since_other_link=other,
            head=hit.head,
            extra_networks=networks,
        )
        return EventKind.CLICKED, verdict, _count_click(row, hit, hit.link or 0, verdict)
    verdict = machines.classify_click(
        hit.user_agent, hit.ip, since, head=hit.head, extra_networks=networks
    )
    if verdict.machine:
        return EventKind.RATED, verdict, ["machine"]
    row.rating, row.rated_at = hit.score, hit.at
    return EventKind.RATED, verdict, ["human", f"score:{hit.score}"]


def _write(todo: list[tuple[int, Hit, _Delivery, _Campaign]], results: list[Result]) -> None:
    anonymize = _anonymize_ips()
    networks = tuple(settings.TRACKING_SCANNER_NETWORKS)
    ids = sorted({hit.delivery_id for _, hit, _, _ in todo})
    campaign_of = {hit.delivery_id: info.campaign_id for _, hit, info, _ in todo}
    rows = _engagements(ids, campaign_of)
    db_time = _time_adapter()
    events: list[tuple[Any, ...]] = []
    tallies: collections.Counter[tuple[int, Any, str]] = collections.Counter()
    firsts: dict[tuple[int, str], list[int]] = collections.defaultdict(list)
    for position, hit, info, _held in todo:
        since = (hit.at - info.sent_at).total_seconds() if info.sent_at else None
        kind, verdict, tally = _judge(hit, rows[hit.delivery_id], since, networks)
        data: dict[str, Any] = {
            "ua": hit.user_agent[:USER_AGENT_LENGTH],
            "ip": machines.anonymize_ip(hit.ip) if anonymize else hit.ip,
            "machine": verdict.machine,
            "tally": tally,
            "counted": True,
        }
        if verdict.why:
            data["why"] = verdict.why
        if verdict.proxy:
            data["proxy"] = verdict.proxy
        if kind == EventKind.CLICKED:
            data["link"] = hit.link
            data["url"] = (results[position].url or "")[:URL_LENGTH]
        elif kind == EventKind.RATED:
            data["score"] = hit.score
        if "unique" in tally and kind != EventKind.RATED:
            outcome = "opened" if kind == EventKind.OPENED else "clicked"
            firsts[(info.campaign_id, outcome)].append(info.contact_id)
        events.append(
            (info.campaign_id, hit.delivery_id, str(kind), db_time(hit.at), json.dumps(data))
        )
        hour = db_time(hit.at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0))
        name = str(kind)
        tallies[(info.campaign_id, hour, name)] += 1
        for word in tally:
            tallies[(info.campaign_id, hour, f"{name}:{word}")] += 1
        if verdict.machine:
            results[position] = replace(results[position], machine=True)
    # Tally rows in a fixed order: concurrent batches never wait on each other crosswise.
    _save(list(rows.values()), events, dict(sorted(tallies.items())))
    held_by_id = {held.campaign.pk: held for _, _, _, held in todo}
    for (campaign_id, outcome), contact_ids in firsts.items():
        held = held_by_id[campaign_id]
        if held.status_map.get(outcome):
            apply_status_map(held.campaign, outcome, contact_ids)


def _count_open(row: _State, hit: Hit, verdict: machines.Verdict) -> list[str]:
    tally = []
    if verdict.machine:
        tally.append("machine")
        if row.machine_opens == 0:
            tally.append("unique_machine")
        row.machine_opens += 1
    else:
        tally.append("human")
        if row.read_at is None:
            row.read_at = hit.at
            tally.append("unique")
        row.opens += 1
    if row.first_open_at is None:
        row.first_open_at = hit.at
    row.last_open_at = max(row.last_open_at or hit.at, hit.at)
    return tally


def _count_click(row: _State, hit: Hit, link: int, verdict: machines.Verdict) -> list[str]:
    tally = [f"link:{link}"]
    if verdict.machine:
        tally.append("machine")
        if row.machine_clicks == 0:
            tally.append("unique_machine")
        row.machine_clicks += 1
    else:
        tally.append("human")
        if row.clicked_at is None:
            row.clicked_at = hit.at
            tally.append("unique")
        if link not in row.links:
            row.links = [*row.links, link]
            tally.append(f"link:{link}:unique")
        row.clicks += 1
    if row.first_click_at is None:
        row.first_click_at = hit.at
    row.last_click_at = max(row.last_click_at or hit.at, hit.at)
    row.last_link = link
    return tally
