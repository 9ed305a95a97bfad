"""The dialer's loop: claims due deliveries of running campaigns, paces them, renders, writes,
signs and sends them, and records every outcome.

One ``Dialer`` per worker thread keeps what outlives a batch: the SMTP transport of each mailbox
(pooled connections), DKIM signers, and each campaign's recent outcomes for the auto-pause. A
step, for each running campaign inside its send window, works through chunks (a chunk is half
of ``DIALER_BATCH``) for up to ``STEP_SECONDS``; for each chunk it

1. claims due deliveries with their contacts' variables (``queries.claim_recipients``:
   disjoint across workers, nothing once the campaign is paused or cancelled);
2. gives back those whose contact's own window is closed, due when it opens;
3. renders and writes each message (a contact the template fails for is failed with the reason:
   the message could never go as it is) and signs it;
4. reserves one pacing slot each for the messages ready under the campaign's and the mailbox's
   limits (``herald.dialer.queries.reserve_slots``: global and exact across workers), gives
   back the ones that got none, due when the next slot comes, and hands the chunk to the
   transport, which sends each no earlier than its slot and no later than a small tolerance
   after it (a message that missed it is given back for a new slot: see ``pacing``, "As
   received"). Slots are reserved when the chunk is
   handed over, not before it is rendered or while the previous one is on the wire, so that
   none passes meanwhile (late messages would leave in a bunch);
5. records each outcome in one transaction: 2xx sent; 4xx, timeout or dropped connection
   deferred with exponential backoff until the campaign's retry time is over; 5xx failed, the
   address suppressed when the server refused the recipient or the message (a hard bounce). Each
   attempt is an Event with the server's words; the status mapping updates list members;
6. pauses the campaign when too many of its recent attempts failed, and completes it when every
   delivery is final.

Chunks overlap: the transport sends chunk k while this thread does 1-3 for chunk k+1; once k is
back, k+1 gets its slots and goes, and chunk k is recorded while k+1 is on the wire. So a worker
has at most two chunks (``DIALER_BATCH`` messages) sent and not yet recorded. A step ends only
when every chunk it handed over is recorded, so a worker asked to stop (SIGTERM) drains what is
in flight. A worker killed outright leaves its claimed deliveries ``sending`` until their lease
ends; they are then due again and another worker sends them: the only duplicates there can be.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import sys
import threading
import time
import zoneinfo
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from herald.accounts.models import Account
from herald.campaigns import actions as campaign_actions
from herald.campaigns import links, tokens, windows
from herald.campaigns.models import (
    Campaign,
    CampaignStatus,
    DeliveryState,
    EventKind,
    WindowZone,
)
from herald.campaigns.queries import (
    Attempt,
    Claimed,
    campaign_status,
    claim_recipients,
    release,
    renew,
    write_attempts,
)
from herald.contacts.models import Suppression, SuppressionReason, SuppressionSource
from herald.contacts.queries import suppression_reason, suppressions_for
from herald.dialer import pacing
from herald.dialer.dkim import DkimSigner
from herald.dialer.queries import reserve_slots, to_us
from herald.dialer.transport import Envelope, Outcome, Status, Transport
from herald.inbound.tokens import make_reply_address
from herald.mailboxes.models import Mailbox
from herald.messaging.queries import compiled_version
from herald.messaging.rendering import CompiledTemplate, RenderError, render
from herald.messaging.writer import write_message
from herald.routing import capacity
from herald.tracking.pixel import with_open_pixel

logger = logging.getLogger(__name__)

SCHEDULER_EVERY = 1.0  # seconds between two looks for scheduled campaigns whose time has come
HORIZON = dt.timedelta(seconds=2)  # slots are reserved at most this far ahead
# The SMTP pool's event-loop thread needs the GIL for each server reply while this thread
# renders; CPython hands it over only every "switch interval" (5 ms by default), which capped
# sending at ~1,000 messages/s during rendering (bench: ~2,500 at 1 ms). Set for the process.
SWITCH_INTERVAL = 0.001
# A step sends one campaign's chunks for about this long before the loop looks around again
# (other campaigns, a stop request): long enough that chunks overlap, short enough to drain.
STEP_SECONDS = 2.0
# How long a worker keeps trying to record the outcomes of messages it sent while the database
# does not answer (it reconnects between tries).
RECORD_PATIENCE = 600.0


_Variables = dict[str, object] | None  # a claimed delivery's contact variables (None: deleted)


def smtp_transport(mailbox: Mailbox) -> Transport:
    from herald.dialer.smtp import SmtpTransport
    from herald.mailboxes.connection import smtp_config

    return SmtpTransport(smtp_config(mailbox))


# How the dialer reaches a mailbox: real SMTP; tests may put an OutboxTransport here.
transport_factory: Callable[[Mailbox], Transport] = smtp_transport


def _renew_token(transport: Transport) -> None:
    """An OAuth mailbox's access token, refreshed in this thread before the SMTP pool's thread
    opens connections with it (a no-op while it is fresh: herald.mailboxes.oauth)."""
    config = getattr(transport, "config", None)
    bearer = getattr(config, "bearer", None)
    renew = getattr(bearer, "renew", None)
    if renew is not None:
        renew()


def backoff(attempts: int) -> dt.timedelta:
    """The wait before retry number ``attempts`` (1 = after the first failure)."""
    steps = settings.DIALER_RETRY_MINUTES
    return dt.timedelta(minutes=steps[min(attempts, len(steps)) - 1])


def _envelope_from(sending: _Sending, delivery_id: int) -> str:
    """The delivery's envelope sender: with a return path, one address per delivery (VERP,
    carrying its reply token), so that a bounce names its delivery whatever the report says."""
    if not sending.return_local:
        return sending.mailbox.from_address
    token = tokens.reply_token(delivery_id)
    return make_reply_address(sending.return_local, sending.return_domain, token)


def _bcc(mailbox: Mailbox, campaign: Campaign) -> tuple[str, ...]:
    extra = [a.strip() for a in campaign.bcc.replace(";", ",").split(",") if a.strip()]
    return tuple(dict.fromkeys([*mailbox.bcc_addresses(), *extra]))


@dataclass
class _Sending:
    """What one campaign's chunks need besides their deliveries (read once per step)."""

    campaign: Campaign
    mailbox: Mailbox
    compiled: CompiledTemplate
    account: dict[str, str]
    today: dt.date
    bcc: tuple[str, ...]
    signer: DkimSigner | None
    schedule: windows.Schedule
    limits: dict[str, list[pacing.Limit]]
    reply_local: str  # Reply-To: reply_local+r-TOKEN@reply_domain
    reply_domain: str
    return_local: str  # MAIL FROM: return_local+r-TOKEN@return_domain (VERP); "": From
    return_domain: str
    id_domain: str  # Message-ID: <h.TOKEN@id_domain>


class _Chunk:
    """One claimed batch of a campaign: the deliveries rendered and their messages, the ones
    the template failed for, and once paced, the envelopes for the transport (the first
    ``len(envelopes)`` of ``ready``; the others were given back for want of a slot), and the
    ones skipped (``suppressed``): their address was suppressed since the launch, or the contact
    lacks a value the template needs and gives no default for."""

    __slots__ = ("envelopes", "messages", "ready", "suppressed", "unrenderable")

    def __init__(self) -> None:
        self.ready: list[Claimed] = []
        self.messages: list[bytes] = []
        self.unrenderable: list[tuple[Claimed, str]] = []
        self.suppressed: list[tuple[Claimed, str]] = []
        self.envelopes: list[Envelope] = []

    def held(self) -> list[Claimed]:
        """Every delivery of the chunk (claimed and not yet recorded)."""
        return [*self.ready, *(d for d, _ in self.unrenderable), *(d for d, _ in self.suppressed)]

    @property
    def settled(self) -> bool:
        """Whether some deliveries end here without being sent (to record even if none goes)."""
        return bool(self.unrenderable or self.suppressed)


class Dialer:
    def __init__(self) -> None:
        self.transports: dict[int, tuple[Any, Transport]] = {}
        self.signers: dict[tuple[int, str], DkimSigner | None] = {}
        # Per campaign: the last attempts (True = failed), for the auto-pause.
        self.recent: dict[int, collections.deque[bool]] = {}
        self._scheduled_at = 0.0
        # Hands a chunk to the transport while this thread prepares the next one (see work()).
        self._sender: ThreadPoolExecutor | None = None
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)

    # -- the loop ----------------------------------------------------------------------------

    def step(self, now: dt.datetime | None = None) -> bool:
        """One pass over the running campaigns; True when it sent something (call again now)."""
        if time.monotonic() - self._scheduled_at >= SCHEDULER_EVERY:
            self._scheduled_at = time.monotonic()
            campaign_actions.launch_due_campaigns(now)
        busy = False
        running = Campaign.objects.filter(
            status=CampaignStatus.RUNNING, enabled=True
        ).select_related("mailbox", "mailbox__signature", "template", "version")
        account = None
        for campaign in running:
            try:
                account = account or Account.load()  # once per pass, not per campaign or chunk
                busy |= self.work(campaign, now, account=account)
            except Exception:
                logger.exception("campaign batch failed", extra={"campaign": campaign.pk})
        return busy

    def close(self) -> None:
        if self._sender is not None:
            self._sender.shutdown(wait=True)
            self._sender = None
        for _key, transport in self.transports.values():
            try:
                transport.close()
            except Exception:
                logger.exception("closing a transport failed")
        self.transports.clear()

    # -- one campaign ------------------------------------------------------------------------

    def work(
        self, campaign: Campaign, now: dt.datetime | None = None, *, account: Account | None = None
    ) -> bool:
        """Sends the campaign's due deliveries chunk after chunk (a chunk is a claimed batch)
        for up to ``STEP_SECONDS``; True when it sent or recorded something. ``now`` fixes the
        clock (tests); by default each chunk reads it.

        Chunks overlap: while the transport sends chunk k (from a helper thread; the SMTP pool
        waits on the network in its own event loop), this thread claims and renders chunk k+1;
        once k is back, k+1 gets its pacing slots and goes, and k is recorded while k+1 is on
        the wire. Every chunk handed over is recorded before this returns, so a worker asked to
        stop drains what is in flight.
        """
        account = account or Account.load()
        zone = zoneinfo.ZoneInfo(account.timezone or "UTC")
        schedule = windows.from_json(campaign.windows or [])
        if (
            schedule.windows
            and campaign.window_zone != WindowZone.CONTACT
            and not windows.is_open(schedule, now or timezone.now(), zone)
        ):
            return False
        agents_pace = None
        if campaign.pace_by_agents_of_id is not None:
            agents_pace = capacity.pace_of(campaign.pk, campaign.pace_by_agents_of_id)
            if agents_pace.per_second <= 0:  # nobody to answer the replies: nothing goes
                return False
        started = time.monotonic()

        def clock() -> dt.datetime:  # the fixed time moves on as the step does
            if now is None:
                return timezone.now()
            return now + dt.timedelta(seconds=time.monotonic() - started)

        sending = self._sending(campaign, account, zone, clock(), agents_pace)
        transport = self._transport(sending.mailbox)
        deadline = started + STEP_SECONDS
        flight: _Chunk | None = None
        outcomes: Future[list[Outcome]] | None = None
        busy = stop = exhausted = False
        try:
            while True:
                chunk = None
                if not stop and time.monotonic() < deadline:
                    chunk, exhausted = self._next_chunk(sending, zone, clock())
                landed, done = flight, []
                if flight is not None and outcomes is not None:
                    done = self._outcomes(flight, self._wait(outcomes, flight, chunk))
                    flight = outcomes = None
                    # Before the next chunk goes: too many failures pause the campaign now.
                    stop |= self._watch_failures(campaign, done)
                if chunk is not None:
                    busy = True
                    flight, outcomes, paced = self._hand_over(
                        sending, transport, chunk, clock(), paused=stop
                    )
                    stop |= not paced
                if landed is not None:
                    self._record(campaign, landed, done)
                if flight is None and (chunk is None or stop):
                    break
        finally:
            if flight is not None and outcomes is not None:  # failed while one was on the wire
                done = self._outcomes(flight, self._wait(outcomes, flight))
                self._record(campaign, flight, done)
                self._watch_failures(campaign, done)
        if exhausted:
            campaign_actions.complete_if_done(campaign.pk, clock())
        return busy

    def _next_chunk(
        self, sending: _Sending, zone: zoneinfo.ZoneInfo, now: dt.datetime
    ) -> tuple[_Chunk | None, bool]:
        """Claims and renders the next chunk: (the chunk or None when there is nothing to send
        now, whether the campaign had nothing due at all)."""
        campaign = sending.campaign
        schedule = sending.schedule
        contact_zones = campaign.window_zone == WindowZone.CONTACT
        if schedule.windows and not contact_zones and not windows.is_open(schedule, now, zone):
            return None, False
        claimed = claim_recipients(
            campaign.pk,
            self._batch_size(sending.limits),
            now,
            now + dt.timedelta(seconds=settings.DIALER_LEASE_SECONDS),
        )
        if not claimed:  # nothing due (or the campaign was paused or cancelled meanwhile)
            return None, True
        if schedule.windows and contact_zones:
            claimed = self._outside_windows(claimed, schedule, zone, now)
            if not claimed:
                return None, False
        chunk = _Chunk()
        # Suppressed since the launch (an unsubscribe, an opt-out, a bounce elsewhere, a
        # manager's entry): one indexed lookup per chunk, and the next message honours it.
        blocked = suppressions_for(delivery.email for delivery, _ in claimed)
        for delivery, variables in claimed:
            entry = blocked.get(delivery.email.lower())
            if entry is not None:
                chunk.suppressed.append((delivery, suppression_reason(entry)))
                continue
            try:
                if variables is None:
                    raise RenderError("the contact was deleted")
                chunk.messages.append(self._message(sending, delivery, variables, now))
            except RenderError as exc:
                if exc.variable:  # the contact lacks a value the template needs: skipped
                    chunk.suppressed.append((delivery, str(exc)))
                else:
                    chunk.unrenderable.append((delivery, str(exc)))
                continue
            except ValueError as exc:
                # The writer refuses what no message can carry (e.g. an address whose local
                # part needs SMTPUTF8): the delivery fails with that reason.
                chunk.unrenderable.append((delivery, str(exc)))
                continue
            chunk.ready.append(delivery)
        return chunk, False

    def _hand_over(
        self,
        sending: _Sending,
        transport: Transport,
        chunk: _Chunk,
        now: dt.datetime,
        *,
        paused: bool,
    ) -> tuple[_Chunk | None, Future[list[Outcome]] | None, bool]:
        """Paces the chunk and hands it to the transport: (the chunk on the wire and its
        outcomes to come, or Nones; whether the pace let every message go). A chunk with nothing
        to send is recorded at once; when the campaign was just ``paused``, it goes back."""
        campaign = sending.campaign
        if paused:  # due again at once: it waits while the campaign is paused
            release(chunk.ready, now)
            chunk.ready = []
            if chunk.settled:
                self._record(campaign, chunk, [])
            return None, None, True
        # Slots only now, just before the chunk goes: reserved earlier, some would pass while
        # it waits, and its messages would leave in a bunch.
        paced = self._pace(sending, chunk, now)
        if chunk.envelopes:
            return chunk, self._send_async(transport, chunk.envelopes), paced
        if chunk.settled:
            self._record(campaign, chunk, [])
        return None, None, paced

    def _pace(self, sending: _Sending, chunk: _Chunk, now: dt.datetime) -> bool:
        """Reserves a slot for each message of the chunk and makes its envelopes; gives back the
        deliveries that got none, due when the next slot comes. False when some got none (the
        pace, not the work, is the limit: no more chunks this step)."""
        wanted = len(chunk.ready)
        if not wanted:
            return True
        slots = reserve_slots(sending.limits, wanted, now, horizon=HORIZON)
        if len(slots) < wanted:
            release(chunk.ready[len(slots) :], slots.next_at)
            del chunk.ready[len(slots) :]
        bcc = sending.bcc
        late = pacing.START_LATE_US / pacing.US
        paced = any(sending.limits.values())
        chunk.envelopes = [
            Envelope(
                _envelope_from(sending, delivery.id),
                (delivery.email, *bcc),
                message,
                slot.timestamp(),
                slot.timestamp() + late if paced else None,
            )
            for delivery, message, slot in zip(chunk.ready, chunk.messages, slots, strict=False)
        ]
        chunk.messages = []
        return len(slots) == wanted

    def _send_async(self, transport: Transport, envelopes: list[Envelope]) -> Future[list[Outcome]]:
        if self._sender is None:
            self._sender = ThreadPoolExecutor(1, thread_name_prefix="dialer-send")
        return self._sender.submit(transport.send, envelopes)

    @staticmethod
    def _wait(outcomes: Future[list[Outcome]], *held: _Chunk | None) -> list[Outcome]:
        """The transport's outcomes, renewing meanwhile the leases of the ``held`` chunks' every
        third of the lease: a slow server never lets another worker take (and send again)
        messages this one still has on the wire, and the lease can stay short, so that a dead
        worker's share is taken over soon."""
        lease = settings.DIALER_LEASE_SECONDS
        while True:
            try:
                return outcomes.result(timeout=lease / 3)
            except TimeoutError:
                ids = [d.id for chunk in held if chunk is not None for d in chunk.held()]
                until = timezone.now() + dt.timedelta(seconds=lease)
                try:
                    renew(ids, until)
                except DatabaseError:  # recording will reconnect; the lease may still hold
                    logger.warning("renewing the leases failed", exc_info=True)
                    close_connection()

    @staticmethod
    def _outcomes(chunk: _Chunk, outcomes: list[Outcome]) -> list[Outcome]:
        """What the transport's outcomes mean for each contact (``for_contact``)."""
        return [for_contact(o, d.email) for d, o in zip(chunk.ready, outcomes, strict=True)]

    def _record(self, campaign: Campaign, chunk: _Chunk, outcomes: list[Outcome]) -> None:
        """Records the chunk's outcomes. The database may be briefly unreachable (a restart, a
        failover, a cut connection): the messages are sent, so their outcomes are kept and
        written once it answers again, reconnecting, for up to ``RECORD_PATIENCE`` — dropped,
        the messages would be sent a second time after the lease."""
        now = timezone.now()
        results, late = [], []
        for delivery, outcome in zip(chunk.ready, outcomes, strict=True):
            if outcome.status is Status.LATE:
                late.append(delivery)
            else:
                results.append((delivery, outcome))
        deadline = time.monotonic() + RECORD_PATIENCE
        wait = 0.1
        while True:
            try:
                if late:  # not tried: due again at once, for a new slot (no attempt, no event)
                    release(late, now)
                record_outcomes(
                    campaign, results, chunk.unrenderable, now, suppressed=chunk.suppressed
                )
            except (OperationalError, InterfaceError):
                if connection.in_atomic_block or time.monotonic() + wait > deadline:
                    raise
                logger.warning(
                    "recording outcomes failed: reconnecting",
                    exc_info=True,
                    extra={"campaign": campaign.pk, "outcomes": len(results)},
                )
                close_connection()
                time.sleep(wait)
                wait = min(wait * 2, 5.0)
                continue
            if late:
                logger.info("messages missed their pacing slots", extra={"count": len(late)})
            return

    def _limits(
        self, campaign: Campaign, agents_pace: capacity.Pace | None = None
    ) -> dict[str, list[pacing.Limit]]:
        """The campaign's limits and its mailbox's; with ``agents_pace`` (pace by the agents
        of a mailbox), also one message every 1/rate seconds."""
        mailbox = campaign.mailbox
        since = campaign.warmup_since or campaign.launched_at or timezone.now()
        own = pacing.campaign_limits(
            rate_count=campaign.rate_count,
            rate_unit=campaign.rate_unit,
            wait_seconds=campaign.wait_seconds,
            daily_cap=campaign.daily_cap,
            warmup_per_hour=campaign.warmup_per_hour,
            warmup_growth_percent=campaign.warmup_growth_percent,
            warmup_since_us=to_us(since),
        )
        if agents_pace is not None and agents_pace.per_second > 0:
            own.append(pacing.every(1 / agents_pace.per_second))
        provider = pacing.mailbox_limits(
            per_second=mailbox.max_per_second,
            per_hour=mailbox.max_per_hour,
            per_day=mailbox.max_per_day,
        )
        # Widened by the tolerance a message may leave late with: the limits hold as received.
        return {
            campaign.pacing_key: pacing.with_tolerance(own),
            f"mailbox:{mailbox.pk}": pacing.with_tolerance(provider),
        }

    @staticmethod
    def _batch_size(limits: dict[str, list[pacing.Limit]]) -> int:
        """Half the batch (two chunks are in flight at once), and no more than the paces let go
        within the horizon: claiming more would only give them back."""
        size = settings.DIALER_BATCH // 2
        now_us = pacing.US * int(time.time())
        horizon_us = int(HORIZON.total_seconds() * pacing.US)
        for key_limits in limits.values():
            for limit in key_limits:
                if limit.spread:
                    size = min(size, horizon_us // limit.spacing_at(now_us) + 1)
        return max(1, size)

    def _outside_windows(
        self,
        claimed: list[tuple[Claimed, _Variables]],
        schedule: windows.Schedule,
        zone: zoneinfo.ZoneInfo,
        now: dt.datetime,
    ) -> list[tuple[Claimed, _Variables]]:
        """Gives back the deliveries whose contact's own window is closed; keeps the rest."""
        by_zone: dict[str, list[tuple[Claimed, _Variables]]] = collections.defaultdict(list)
        for pair in claimed:
            by_zone[pair[0].tz].append(pair)
        keep = []
        for name, group in by_zone.items():
            try:
                tz = zoneinfo.ZoneInfo(name) if name else zone
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                tz = zone  # an unknown zone in the contact's data: the account's
            if windows.is_open(schedule, now, tz):
                keep.extend(group)
            else:
                release([d for d, _ in group], windows.next_open(schedule, now, tz))
        keep.sort(key=lambda pair: pair[0].id)
        return keep

    def _sending(
        self,
        campaign: Campaign,
        account: Account,
        zone: zoneinfo.ZoneInfo,
        now: dt.datetime,
        agents_pace: capacity.Pace | None = None,
    ) -> _Sending:
        mailbox = campaign.mailbox
        version = campaign.version or campaign.template.current_version
        if version is None:
            raise RenderError("the campaign's template has no saved version")
        compiled = compiled_version(version, mailbox.signature)
        signer = None
        if mailbox.signs_dkim:
            key = (mailbox.pk, mailbox.dkim_private_key_encrypted)
            if key not in self.signers:
                self.signers[key] = DkimSigner(
                    mailbox.dkim_domain, mailbox.dkim_selector, mailbox.dkim_private_key
                )
            signer = self.signers[key]
        reply_local, _, reply_domain = (mailbox.reply_to or mailbox.from_address).rpartition("@")
        return_local, _, return_domain = mailbox.return_path.rpartition("@")
        return _Sending(
            campaign=campaign,
            mailbox=mailbox,
            compiled=compiled,
            account=account.variables(),
            today=now.astimezone(zone).date(),
            bcc=_bcc(mailbox, campaign),
            signer=signer,
            schedule=windows.from_json(campaign.windows or []),
            limits=self._limits(campaign, agents_pace),
            reply_local=reply_local,
            reply_domain=reply_domain,
            return_local=return_local,
            return_domain=return_domain,
            id_domain=mailbox.from_address.rpartition("@")[2],
        )

    def _message(
        self,
        sending: _Sending,
        delivery: Claimed,
        variables: dict[str, object],
        now: dt.datetime,
    ) -> bytes:
        mailbox, campaign = sending.mailbox, sending.campaign
        token = tokens.reply_token(delivery.id)
        variables["email"] = delivery.email  # the address this message goes to
        rendered = render(
            sending.compiled,
            variables,
            sending.account,
            links.links_for(token),
            rewrite_link=(lambda index, url: links.click_url(token, index))
            if campaign.track_clicks
            else None,
            today=sending.today,
        )
        if campaign.subject:
            rendered = replace(rendered, subject=campaign.subject)
        if campaign.track_opens:
            rendered = with_open_pixel(rendered, links.open_pixel_url(token))
        reply_to = make_reply_address(sending.reply_local, sending.reply_domain, token)
        unsubscribe = links.unsubscribe_url(token)
        message = write_message(
            rendered,
            from_address=mailbox.from_address,
            from_name=mailbox.from_name,
            to=delivery.email,
            reply_to=reply_to,
            message_id=tokens.message_id_for_token(token, sending.id_domain),
            date=now,
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>, <mailto:{reply_to}?subject=unsubscribe>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
                "X-Auto-Response-Suppress": "OOF, AutoReply",
                # Gmail's Postmaster Tools group complaints by it: campaign:mailbox:type:sender.
                "Feedback-ID": f"{campaign.pk}:{mailbox.pk}:campaign:herald",
            },
        )
        if sending.signer is not None:
            return sending.signer.sign(message, int(now.timestamp()))
        return message

    def _transport(self, mailbox: Mailbox) -> Transport:
        # A changed mailbox (server, password, connections) gets a new transport.
        key = (
            mailbox.smtp_host,
            mailbox.smtp_port,
            mailbox.smtp_security,
            mailbox.smtp_username,
            mailbox.smtp_password_encrypted,
            mailbox.max_connections,
            mailbox.login_with,
            mailbox.oauth_signed_in_at,  # signed in again: maybe as someone else
        )
        held = self.transports.get(mailbox.pk)
        if held is not None and held[0] == key:
            _renew_token(held[1])
            return held[1]
        if held is not None:
            held[1].close()
        transport = transport_factory(mailbox)
        self.transports[mailbox.pk] = (key, transport)
        return transport

    def _watch_failures(self, campaign: Campaign, outcomes: list[Outcome]) -> bool:
        """Keeps the campaign's recent attempts; pauses it when too many failed (True then)."""
        recent = self.recent.get(campaign.pk)
        if recent is None or recent.maxlen != campaign.failure_window:
            recent = self.recent[campaign.pk] = collections.deque(maxlen=campaign.failure_window)
        recent.extend(not outcome.sent for outcome in outcomes if outcome.status is not Status.LATE)
        if len(recent) < recent.maxlen:  # type: ignore[operator]
            return False
        failed = sum(recent)
        if failed * 100 > campaign.failure_percent * len(recent):
            last = next((o for o in reversed(outcomes) if not o.sent), None)
            words = f"{last.code or ''} {last.reply}".strip() if last else ""
            reason = (
                f"{failed} of the last {len(recent)} attempts failed "
                f"(more than {campaign.failure_percent} %); last: {words}"
            )
            recent.clear()
            if campaign_actions.auto_pause(campaign.pk, reason):
                logger.warning(
                    "campaign auto-paused", extra={"campaign": campaign.pk, "reason": reason}
                )
                return True
        return False


def close_connection() -> None:
    """Drops this thread's database connection (broken: the next query opens a new one)."""
    try:
        connection.close()
    except DatabaseError:
        logger.debug("closing a broken connection failed", exc_info=True)


def for_contact(outcome: Outcome, email: str) -> Outcome:
    """The outcome for the contact's own address: with BCC copies, the server may accept the
    message for them while it refused the contact, who then did not get it."""
    refused = outcome.refused.get(email)
    if outcome.sent and refused is not None:
        return Outcome.from_reply(refused[0], refused[1], "rcpt")
    return outcome


def record_outcomes(
    campaign: Campaign,
    results: list[tuple[Claimed, Outcome]],
    unrenderable: list[tuple[Claimed, str]],
    now: dt.datetime,
    *,
    suppressed: Sequence[tuple[Claimed, str]] = (),
) -> None:
    """Writes each delivery's new state and its Event (``suppressed`` ones skipped with their
    reason), suppressions for hard bounces, and the list statuses of the campaign's mapping, in
    one transaction."""
    rows: list[Attempt] = []
    bounced: list[Suppression] = []
    by_outcome: dict[str, list[int]] = collections.defaultdict(list)
    give_up = dt.timedelta(hours=campaign.max_retry_hours)
    sent_contacts = by_outcome["sent"]
    for delivery, outcome in results:
        attempts = delivery.attempts + 1
        first = delivery.first_attempt_at or now
        code, reply = outcome.code, outcome.reply
        words = f"{code} {reply}" if code else reply
        if outcome.sent:  # the common case first, with nothing more to work out
            rows.append(
                Attempt(
                    delivery.id,
                    DeliveryState.SENT,
                    "",
                    None,
                    attempts,
                    first,
                    now,
                    code,
                    reply[:1000],
                    EventKind.SENT,
                    words[:1000],
                )
            )
            sent_contacts.append(delivery.contact_id)
            continue
        due_at = None
        if outcome.permanent:
            state, kind, reason = DeliveryState.FAILED, EventKind.FAILED, words[:300]
            by_outcome["failed"].append(delivery.contact_id)
            if outcome.bounce:
                bounced.append(
                    Suppression(
                        value=delivery.email.lower(),
                        reason=SuppressionReason.HARD_BOUNCE,
                        source=SuppressionSource.DELIVERY,
                        note=f"{campaign.name}: {words}"[:300],
                    )
                )
        elif now - first >= give_up:
            state, kind = DeliveryState.FAILED, EventKind.FAILED
            reason = f"gave up after {attempts} attempts: {words}"[:300]
            by_outcome["failed"].append(delivery.contact_id)
        else:
            state, kind, reason = DeliveryState.DEFERRED, EventKind.DEFERRED, words[:300]
            due_at = now + backoff(attempts)
        rows.append(
            Attempt(
                delivery.id,
                state,
                reason,
                due_at,
                attempts,
                first,
                None,
                code,
                reply[:1000],
                kind,
                words[:1000],
                {"stage": outcome.stage, "attempt": attempts},
            )
        )
    rows.extend(_unsent(d, DeliveryState.FAILED, EventKind.FAILED, r) for d, r in unrenderable)
    by_outcome["failed"].extend(d.contact_id for d, _ in unrenderable)
    rows.extend(_unsent(d, DeliveryState.SKIPPED, EventKind.SKIPPED, r) for d, r in suppressed)
    if not (bounced or campaign.status_map or any(r.state == DeliveryState.DEFERRED for r in rows)):
        # Nearly every batch: the deliveries and their events, in one transaction of their own
        # (on PostgreSQL one statement when all were sent: no BEGIN/COMMIT round trips).
        write_attempts(campaign.pk, rows, now)
        return
    with transaction.atomic():
        if campaign_status(campaign.pk) == CampaignStatus.CANCELLED:
            # Cancelled while this batch was in flight: what was not sent will not be retried.
            rows = [
                replace(row, state=DeliveryState.SKIPPED, due_at=None, reason="cancelled")
                if row.state == DeliveryState.DEFERRED
                else row
                for row in rows
            ]
        write_attempts(campaign.pk, rows, now)
        if bounced:
            Suppression.objects.bulk_create(bounced, ignore_conflicts=True)
        if campaign.status_map:
            for outcome_name, contact_ids in by_outcome.items():
                campaign_actions.apply_status_map(campaign, outcome_name, contact_ids)


def _unsent(delivery: Claimed, state: str, kind: str, reason: str) -> Attempt:
    """The row of a delivery that ends without an attempt: failed or skipped, with why."""
    return Attempt(
        delivery.id,
        state,
        reason[:300],
        None,
        delivery.attempts,
        delivery.first_attempt_at,
        None,
        None,
        "",
        kind,
        reason[:1000],
    )


_local = threading.local()


def dialer_step() -> bool:
    """The worker loop's step: this thread's Dialer does one pass."""
    dialer = getattr(_local, "dialer", None)
    if dialer is None:
        dialer = _local.dialer = Dialer()
    return dialer.step()


def dialer_close() -> None:
    dialer = getattr(_local, "dialer", None)
    if dialer is not None:
        dialer.close()
        _local.dialer = None
