"""The calendar invitation (.ics) a template may carry: one ``METHOD:REQUEST`` event per contact.

Mail programs accept an invitation when it has an ORGANIZER, the recipient as ATTENDEE, a stable
UID, a DTSTAMP in UTC and, for local times, the VTIMEZONE definition its TZID names (Outlook
insists on the last one). Times are written in the event's time zone, never floating. Pure.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from herald.messaging.rendering import EventTemplate

PRODID = "-//Herald//Herald campaigns//EN"
UTC_NAMES = {"UTC", "Etc/UTC", "GMT", "Etc/GMT"}
# Accepted spellings of a start or end, after variables are filled in.
DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M")


def parse_when(value: str, tz: zoneinfo.ZoneInfo) -> datetime | date:
    """A start or end as written (``2025-05-01 14:30``, ISO 8601, or a day for all-day events)."""
    value = " ".join(value.split())
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for fmt in DATETIME_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)  # noqa: DTZ007  # zone added just below
                break
            except ValueError:
                continue
        if parsed is None:
            raise ValueError(
                f"“{value}” is not a date and time (write it like 2025-05-01 14:30)"
            ) from None
    if parsed is None:  # pragma: no cover - fromisoformat or a format returned a value
        raise ValueError(value)
    if len(value) == 10 and parsed.hour == parsed.minute == 0 and "-" in value:
        return parsed.date()
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def build_invitation(
    *,
    title: str,
    organizer: str,
    location: str,
    start: datetime | date,
    end: datetime | date,
    attendee: str,
    uid: str,
    stamp: datetime,
) -> bytes:
    """A METHOD:REQUEST calendar with one event, its time zone defined, as .ics bytes."""
    if type(start) is not type(end):
        raise ValueError("the start and end must both be days, or both days with a time")
    if end <= start:
        raise ValueError("the event ends before it starts")
    is_utc = getattr(getattr(start, "tzinfo", None), "key", "") in UTC_NAMES
    if is_utc and isinstance(start, datetime) and isinstance(end, datetime):
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", title)
    if location:
        event.add("location", location)
    event.add("sequence", 0)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    name, address = parseaddr(organizer)
    if address:
        who = vCalAddress(f"mailto:{address}")
        if name:
            who.params["cn"] = vText(name)
        event.add("organizer", who)
    if attendee:
        guest = vCalAddress(f"mailto:{attendee}")
        guest.params["role"] = vText("REQ-PARTICIPANT")
        guest.params["partstat"] = vText("NEEDS-ACTION")
        guest.params["rsvp"] = vText("TRUE")
        event.add("attendee", guest)
    zone = getattr(start, "tzinfo", None)
    if isinstance(zone, zoneinfo.ZoneInfo) and zone.key not in UTC_NAMES:
        # Only the transitions around the event: a compact VTIMEZONE every program reads.
        first = date(start.year - 1, 1, 1)
        last = date(end.year + 2, 1, 1)
        calendar.add_component(Timezone.from_tzid(zone.key, first_date=first, last_date=last))
    calendar.add_component(event)
    return calendar.to_ical()


def render_event(
    event: EventTemplate, context: Mapping[str, object], stamp: datetime | None = None
) -> bytes:
    """The invitation of one contact: fields rendered with its variables, then built."""
    try:
        tz = zoneinfo.ZoneInfo(event.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {event.timezone!r} for the invitation") from None
    start = parse_when(event.start.render(context), tz)
    end_text = event.end.render(context).strip()
    end = parse_when(end_text, tz) if end_text else start + timedelta(hours=1)
    attendee = str(context.get("email", ""))
    seed = f"{event.uid_seed}:{attendee.lower()}:{start.isoformat()}"
    uid = hashlib.sha256(seed.encode()).hexdigest()[:32] + "@herald"
    return build_invitation(
        title=" ".join(event.title.render(context).split()),
        organizer=event.organizer.render(context).strip(),
        location=" ".join(event.location.render(context).split()),
        start=start,
        end=end,
        attendee=attendee,
        uid=uid,
        stamp=stamp or datetime.now(UTC),
    )
