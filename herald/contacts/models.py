"""Contacts, their addresses and persons, contact lists and their members, the suppression list,
and imports (a job row that carries its own checkpoint, so that a killed worker resumes it).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from herald.contacts.variables import BUILTIN_VARIABLES

MAX_ADDRESSES = 3  # EMAIL1..EMAIL3
NAME_MAX_LENGTH = 150
COMPANY_MAX_LENGTH = 200
EXTERNAL_ID_MAX_LENGTH = 100
FIELD_VALUE_MAX_LENGTH = 1000  # a custom value longer than this is a mistake in the file
LABEL_MAX_LENGTH = 50


def field_name(header: str) -> str:
    """A column header as a variable name: ``"Customer No."`` -> ``customer_no``."""
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if name and name[0].isdigit():
        name = f"f_{name}"
    return name


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")


class Contact(models.Model):
    """A person (or company) the contact center writes to."""

    external_id = models.CharField(  # noqa: DJ001 # NULL: "no id", outside the unique index
        _("external id"),
        max_length=EXTERNAL_ID_MAX_LENGTH,
        null=True,
        blank=True,
        help_text=_("The CRM's key for this contact; unique when given."),
    )
    first_name = models.CharField(_("first name"), max_length=NAME_MAX_LENGTH, blank=True)
    last_name = models.CharField(_("last name"), max_length=NAME_MAX_LENGTH, blank=True)
    company = models.CharField(_("company"), max_length=COMPANY_MAX_LENGTH, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    # Custom fields by variable name (lower_snake_case): text, numbers, dates as ISO strings.
    fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)
    # Set when the contact was erased (herald.contacts.erasure): a placeholder with no personal
    # data, kept so that figures and conversations still add up; hidden from contact pages.
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("contact")
        # Prefix-search indexes (names, external id) are created per database vendor in
        # migration 0002, since PostgreSQL needs a pattern operator class for LIKE 'x%'.
        constraints = [
            # Partial: most imported contacts have no external id, and an index entry per NULL
            # would be one more B-tree insert per row of a million-row import for nothing.
            models.UniqueConstraint(
                fields=["external_id"],
                condition=models.Q(external_id__isnull=False),
                name="contact_external_id_unique",
                violation_error_message=_("Another contact has this external id."),
            )
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.company or self.external_id or f"#{self.pk}"

    def emails(self) -> dict[int, Address]:
        return {a.position: a for a in self.addresses.all()}

    def variables(self) -> dict[str, object]:
        """Every template variable of this contact, custom fields included by column name."""
        addresses = self.emails()
        first_valid = next(
            (addresses[p].email for p in sorted(addresses) if addresses[p].is_valid), ""
        )
        variables: dict[str, object] = {
            name: value for name, value in self.fields.items() if name not in BUILTIN_VARIABLES
        }
        variables.update(
            first_name=self.first_name,
            last_name=self.last_name,
            company=self.company,
            email=first_valid,
            email1=addresses[1].email if 1 in addresses else "",
            email2=addresses[2].email if 2 in addresses else "",
            email3=addresses[3].email if 3 in addresses else "",
            language=self.language,
            timezone=self.timezone,
            external_id=self.external_id or "",
        )
        return variables


class AddressState(models.TextChoices):
    VALID = "valid", _("valid")
    INVALID = "invalid", _("invalid syntax")
    NO_MX = "no_mx", _("domain takes no mail")


class Address(models.Model):
    """One of a contact's addresses (EMAIL1..EMAIL3), normalized, with its validity."""

    # No index of its own: the unique (contact, position) index starts with it. No database
    # constraint: see ListMember.
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="addresses",
        db_index=False,
        db_constraint=False,
    )
    position = models.PositiveSmallIntegerField(_("position"))  # 1..3
    email = models.CharField(_("email"), max_length=320)
    # Lower case: what search, duplicate detection and suppression compare.
    email_key = models.CharField(max_length=320)
    label = models.CharField(_("label"), max_length=LABEL_MAX_LENGTH, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=AddressState.choices, default=AddressState.VALID
    )
    error = models.CharField(_("why not valid"), max_length=300, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)  # last MX check

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "position"], name="address_position_unique"),
            models.CheckConstraint(
                condition=models.Q(position__gte=1, position__lte=MAX_ADDRESSES),
                name="address_position_1_to_3",
            ),
        ]
        # email_key's index is created per vendor in migration 0002 (prefix search).

    def __str__(self) -> str:
        return self.email

    @property
    def is_valid(self) -> bool:
        return self.state == AddressState.VALID


class ContactPerson(models.Model):
    """Someone to write to at a company contact: name, role, address."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="persons")
    name = models.CharField(_("name"), max_length=NAME_MAX_LENGTH)
    role = models.CharField(_("role"), max_length=100, blank=True)
    email = models.CharField(_("email"), max_length=320, blank=True)

    class Meta:
        verbose_name = _("contact person")

    def __str__(self) -> str:
        return self.name


class ContactList(models.Model):
    """An audience for one channel; the same people may be in several lists."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(
        _("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = _("contact list")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ListMember(models.Model):
    # Indexes: only the unique (list, contact) one and list_member_contact. Each index is one
    # more B-tree insert per row of an import; Django's default per-foreign-key indexes would
    # duplicate those two and add one on import_job that no read uses (replace mode filters
    # by list first; deleting an import job, which only happens with its list, scans).
    # No database foreign-key constraints either (here and on Address.contact): PostgreSQL
    # checks each one with a locking query per inserted row at commit, which cost more than
    # the whole COPY of a million-row import (~20 s). Integrity holds without them: the import
    # writes a contact and the rows that point to it in one transaction, and deletions go
    # through Django, which cascades (on_delete) itself.
    contact_list = models.ForeignKey(
        ContactList,
        on_delete=models.CASCADE,
        related_name="members",
        db_index=False,
        db_constraint=False,
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
        db_constraint=False,
    )
    # Set by campaigns later ("mail sent", "read", "clicked", "unsubscribed", ...).
    status = models.CharField(_("status"), max_length=50, blank=True, default="")
    added_at = models.DateTimeField(default=now)
    # The import that last put this contact in the list: "duplicate in the file" and the
    # replace mode's "no longer in the file" are both answered by comparing it with the job.
    import_job = models.ForeignKey(
        "ImportJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="list_member_unique")
        ]
        indexes = [models.Index(fields=["contact"], name="list_member_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.contact_list_id}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", _("unsubscribed")
    HARD_BOUNCE = "hard_bounce", _("hard bounce")
    COMPLAINT = "complaint", _("complaint")
    OPT_OUT = "opt_out", _("opt-out keyword")
    SOFT_BOUNCES = "soft_bounces", _("repeated soft bounces")
    MANUAL = "manual", _("manual")
    ERASED = "erased", _("contact erased")


class SuppressionSource(models.TextChoices):
    CAMPAIGN = "campaign", _("campaign")
    DELIVERY = "delivery", _("delivery")
    CONVERSATION = "conversation", _("conversation")
    USER = "user", _("user")
    IMPORT = "import", _("import")


class Suppression(models.Model):
    """An address, or a whole domain, that Herald never emails."""

    # Lower-case address ("ann@example.com") or domain ("example.com"): one index serves both.
    value = models.CharField(_("address or domain"), max_length=320, unique=True)
    is_domain = models.BooleanField(_("whole domain"), default=False)
    reason = models.CharField(_("reason"), max_length=20, choices=SuppressionReason.choices)
    source = models.CharField(_("source"), max_length=20, choices=SuppressionSource.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("since"), default=now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("suppression entry")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"@{self.value}" if self.is_domain else self.value


def is_suppressed(email: str) -> Suppression | None:
    """The suppression entry that forbids writing to ``email`` (address or its domain), if any."""
    from herald.contacts.queries import suppressions_for

    return suppressions_for([email]).get(email.lower())


class ImportMode(models.TextChoices):
    ADD = "add", _("add")
    UPDATE = "update", _("add and update")
    REPLACE = "replace", _("replace the list's members")
    REMOVE = "remove", _("remove the addresses in the file")


class ImportStatus(models.TextChoices):
    MAPPING = "mapping", _("waiting for its column mapping")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class ImportMapping(models.Model):
    """A saved column mapping, reused for the next file of the same shape."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    columns = models.JSONField(default=dict)  # header -> target (see herald.contacts.importing)
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = _("saved column mapping")

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One import of one file into one list, with its checkpoint.

    ``offset``/``line`` and the counts are committed in the same transaction as each batch of
    rows, so whoever resumes the job starts exactly after the last committed row.
    """

    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="imports")
    file = models.CharField(max_length=500)  # absolute path of the uploaded file
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    mode = models.CharField(max_length=10, choices=ImportMode.choices, default=ImportMode.ADD)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    header = models.JSONField(default=list)
    columns = models.JSONField(default=dict)  # header -> target
    status = models.CharField(max_length=10, choices=ImportStatus.choices)
    error = models.TextField(blank=True)
    data_offset = models.BigIntegerField(default=0)  # byte offset of the first data row
    offset = models.BigIntegerField(default=0)  # checkpoint: byte offset after the last row done
    line = models.IntegerField(default=0)  # checkpoint: physical line number of that offset
    rows_total = models.IntegerField(default=0)  # estimated from the file's line count
    rows_done = models.IntegerField(default=0)
    imported = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    removed = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    runner = models.CharField(max_length=64, blank=True)  # who holds the job now
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    report = models.CharField(max_length=500, blank=True)  # path of the rejected-rows CSV

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "lease_until"], name="import_job_claim")]

    def __str__(self) -> str:
        return f"{self.original_name or self.file} → {self.contact_list}"

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if self.size <= self.data_offset:
            return 0
        done = (self.offset - self.data_offset) / (self.size - self.data_offset)
        return max(0, min(99, int(done * 100)))

    def summary(self) -> dict[str, Any]:
        """The DESIGN.md summary of ``herald contacts import --json``."""
        return {
            "imported": self.imported,
            "updated": self.updated,
            "removed": self.removed,
            "rejected": self.rejected,
            "report": self.report,
        }


class RejectReason(models.TextChoices):
    INVALID_ADDRESS = "invalid_address", _("invalid address")
    MISSING = "missing", _("missing required field")
    DUPLICATE = "duplicate", _("duplicate in the file")
    SUPPRESSED = "suppressed", _("suppressed")
    TOO_LONG = "too_long", _("too long")
    BAD_VALUE = "bad_value", _("bad number or date")
    MALFORMED = "malformed", _("malformed row")


class ImportRejection(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    line = models.IntegerField()
    raw = models.TextField()
    reason = models.CharField(max_length=20, choices=RejectReason.choices)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["line"]
        indexes = [models.Index(fields=["job", "line"], name="import_rejection_job_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ListRefresh(models.Model):
    """A list kept up to date from a file elsewhere: on a schedule, the file at an HTTPS address
    (or a path under ``HERALD_REFRESH_DIR`` on the server) replaces the list's members (new
    people in, people no longer in the file out). Run by the worker (herald.contacts.refresh)."""

    contact_list = models.OneToOneField(
        ContactList, on_delete=models.CASCADE, related_name="refresh"
    )
    url = models.CharField(_("HTTPS address"), max_length=2000, blank=True)
    path = models.CharField(_("file on the server"), max_length=500, blank=True)
    # herald.campaigns.windows recurrence JSON ("every Monday 06:00"), the account's time zone.
    recurrence = models.JSONField(_("when"))
    # The column mapping of herald.contacts.rows; empty: guessed from each file's header.
    columns = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(_("on"), default=True)
    # A file far shorter than the list is more often a broken export than a real change: a run
    # that would remove more than this share of the members is refused (100: never refused).
    max_removed_percent = models.PositiveSmallIntegerField(
        _("refuse a file that removes more than (%) of the members"), default=50
    )
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"refresh of {self.contact_list}"

    @property
    def source(self) -> str:
        return self.url or self.path


class RefreshStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class RefreshRun(models.Model):
    """One scheduled refresh of a list: the file fetched, then imported by its ImportJob (whose
    report of rejected rows is kept); failed with the reason when either step fails."""

    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, related_name="refresh_runs"
    )
    source = models.CharField(max_length=2000)
    status = models.CharField(max_length=8, choices=RefreshStatus.choices)
    error = models.TextField(blank=True)
    job = models.ForeignKey(
        ImportJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["status"], condition=models.Q(status="running"), name="refresh_run_running"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_list} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"
