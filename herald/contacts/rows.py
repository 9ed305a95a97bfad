"""From a CSV record to a contact row, or to the reason it is rejected (pure: no database).

A mapping says what each column of the file is: ``{"E-mail": "email1", "Plan": "field",
"Amount": "field:number", "Birthday": "field:date", "Notes": "ignore", ...}``. The targets:

- ``external_id``, ``first_name``, ``last_name``, ``company``, ``language``, ``timezone``;
- ``email1``..``email3`` and their ``label1``..``label3``;
- ``field`` / ``field:text`` (a variable named after the column), ``field:number``,
  ``field:date``, and ``field:key``: text that contact search finds as ``name=value``, at the
  price of an index (one more index insert per imported row);
- ``person_name``, ``person_role``, ``person_email``: a contact person under the row's contact.
  One person per row: the rows of one company repeat its external id (or its address), and each
  adds its person instead of being rejected as a duplicate. The same person (name and address)
  imported again is not added twice; its role follows the file. Columns named ``person_name``,
  ``person_role``, ``person_email`` (or ``contact_person``) are recognised without a mapping.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, NamedTuple

from django.utils.translation import gettext_lazy as _

from herald.contacts import addresses
from herald.contacts.csvfile import Record
from herald.contacts.models import (
    COMPANY_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    FIELD_VALUE_MAX_LENGTH,
    LABEL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    RejectReason,
    field_name,
)

CONTACT_TARGETS = {
    "external_id": EXTERNAL_ID_MAX_LENGTH,
    "first_name": NAME_MAX_LENGTH,
    "last_name": NAME_MAX_LENGTH,
    "company": COMPANY_MAX_LENGTH,
    "language": 16,
    "timezone": 64,
}
ADDRESS_TARGETS = ("email1", "email2", "email3")
LABEL_TARGETS = ("label1", "label2", "label3")
# "field:key" is text that contact search finds by value (name=value): it gets its own index,
# which costs each import one more index insert per row, so only columns people search by
# (customer numbers, contract codes) should be mapped to it.
FIELD_TARGETS = ("field", "field:text", "field:key", "field:number", "field:date")
KEY_TARGET = "field:key"
# A contact person (name, role, address) under the row's contact, usually a company: a file
# lists one person per row, and the rows of one company repeat its external id or address.
PERSON_TARGETS = {"person_name": 150, "person_role": 100, "person_email": 320}
TARGETS = (
    *CONTACT_TARGETS,
    *ADDRESS_TARGETS,
    *LABEL_TARGETS,
    *FIELD_TARGETS,
    *PERSON_TARGETS,
    "ignore",
)
# What the import page calls each target (the codes stay the API's and the saved mappings').
TARGET_LABELS = {
    "external_id": _("external id (your CRM's)"),
    "first_name": _("first name"),
    "last_name": _("last name"),
    "company": _("company"),
    "language": _("language"),
    "timezone": _("time zone"),
    "email1": _("email address"),
    "email2": _("second email address"),
    "email3": _("third email address"),
    "label1": _("label of the email address"),
    "label2": _("label of the second address"),
    "label3": _("label of the third address"),
    "field": _("custom field (text)"),
    "field:text": _("custom field (text)"),
    "field:key": _("custom field searched by value (customer number, contract)"),
    "field:number": _("custom field (number)"),
    "field:date": _("custom field (date)"),
    "person_name": _("contact person: name"),
    "person_role": _("contact person: role"),
    "person_email": _("contact person: email"),
    "ignore": _("leave out"),
}

# Header spellings recognised without a saved mapping (compared as lower_snake_case).
_GUESSES = {
    "email1": {
        "email",
        "e_mail",
        "email1",
        "email_1",
        "mail",
        "email_address",
        "adresse_email",
        "courriel",
    },
    "email2": {"email2", "email_2", "e_mail_2"},
    "email3": {"email3", "email_3", "e_mail_3"},
    "first_name": {"first_name", "firstname", "first", "given_name", "prenom", "nome", "vorname"},
    "last_name": {
        "last_name",
        "lastname",
        "last",
        "surname",
        "family_name",
        "nom",
        "cognome",
        "nachname",
    },
    "company": {"company", "organisation", "organization", "societe", "azienda", "firma"},
    "external_id": {"external_id", "id", "crm_id", "customer_id", "contact_id"},
    "language": {"language", "lang", "langue", "lingua"},
    "timezone": {"timezone", "time_zone", "tz"},
    "person_name": {"person_name", "contact_person"},
    "person_role": {"person_role"},
    "person_email": {"person_email"},
    "label1": {"label1", "email1_label", "email_label"},
    "label2": {"label2", "email2_label"},
    "label3": {"label3", "email3_label"},
}
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")


def guess_mapping(header: Sequence[str]) -> dict[str, str]:
    """A first mapping from the header names: known names to their fields, the rest custom."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        name = field_name(column)
        target = next((t for t, names in _GUESSES.items() if name in names), "field")
        if target in taken:
            target = "field"
        if not name:
            target = "ignore"
        taken.add(target)
        mapping[column] = target
    return mapping


def key_fields(header: Sequence[str], mapping: Mapping[str, str]) -> list[str]:
    """The variable names of the columns mapped to ``field:key`` (searchable by value)."""
    return [field_name(c) for c in header if mapping.get(c) == KEY_TARGET and field_name(c)]


def mapping_errors(header: Sequence[str], mapping: Mapping[str, str]) -> list[str]:
    """What is wrong with a mapping for this header ([] when it can be used)."""
    errors = []
    unknown = sorted({t for t in mapping.values() if t not in TARGETS})
    if unknown:
        errors.append(f"Unknown targets: {', '.join(unknown)}.")
    used = [t for c, t in mapping.items() if c in header and t not in (*FIELD_TARGETS, "ignore")]
    doubled = sorted({t for t in used if used.count(t) > 1})
    if doubled:
        errors.append(f"Several columns are mapped to {', '.join(doubled)}: keep one.")
    if not any(mapping.get(c) in ADDRESS_TARGETS for c in header):
        errors.append("No column is mapped to an email address (email1): map the address column.")
    return errors


def parse_number(text: str) -> int | float:
    """``"1234"`` -> 1234, ``"12,5"`` / ``"12.5"`` -> 12.5; raises ValueError otherwise."""
    compact = text.replace(" ", "").replace("\u00a0", "").replace("'", "")
    if not _NUMBER.fullmatch(compact):
        raise ValueError(text)
    if compact.lstrip("+-").isdigit():
        return int(compact)
    return float(compact.replace(",", "."))


def parse_date(text: str) -> str:
    """An ISO date (YYYY-MM-DD) from ISO, DD/MM/YYYY or DD.MM.YYYY; raises ValueError otherwise."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()  # noqa: DTZ007 # a date, no time
        except ValueError:
            continue
    return date.fromisoformat(text).isoformat()


CONTACT_COLUMNS = tuple(CONTACT_TARGETS)  # the order of ContactRow.values

# A good row is a plain tuple, not a NamedTuple: batches cross from the parsing process by
# pickle, and a NamedTuple pickles through a Python call per row (a third of the parsing time).
#   (line, start, length, values, emails, fields_json, valid_keys)
#   line: physical line where the record starts; start, length: its bytes in the file (the raw
#   line is read back only for a row the writer rejects); values: CONTACT_COLUMNS in order ("" if
#   not mapped); emails: [(position, normalized, label, error or None)], by position;
#   fields_json: custom fields as stored; valid_keys: lower-case valid addresses, EMAIL1 first;
#   person: (name, role, normalized address or "") of a contact person, or None.
ContactRow = tuple[
    int,
    int,
    int,
    tuple[str, ...],
    list[tuple[int, str, str, str | None]],
    str,
    list[str],
    tuple[str, str, str] | None,
]
ROW_LINE: Final = 0
ROW_START: Final = 1
ROW_LENGTH: Final = 2
ROW_VALUES: Final = 3
ROW_EMAILS: Final = 4
ROW_FIELDS: Final = 5
ROW_KEYS: Final = 6
ROW_PERSON: Final = 7
EXTERNAL_ID: Final = 0  # CONTACT_COLUMNS.index("external_id")


def row_fields(row: ContactRow) -> dict[str, object]:
    """The custom fields of a good row."""
    return json.loads(row[ROW_FIELDS])  # type: ignore[no-any-return,unused-ignore]


def row_contact(row: ContactRow, mapped: Iterable[str]) -> dict[str, str]:
    """The built-in contact fields of a good row that the mapping gives a column to."""
    return {name: row[ROW_VALUES][i] for i, name in enumerate(CONTACT_COLUMNS) if name in mapped}


class Rejected(NamedTuple):
    reason: str  # a RejectReason value
    detail: str


# One encoder for all rows: json.dumps(..., ensure_ascii=False) builds a new one per call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RowParser:
    """Turns the records of one file into ContactRow or Rejected, under one mapping."""

    def __init__(self, header: Sequence[str], mapping: Mapping[str, str]) -> None:
        self.width = len(header)
        # The columns sorted by kind once, so that parsing a row is a few tight loops.
        self.contact_plan: list[tuple[int, int, int, str]] = []
        self.address_plan: list[tuple[int, int]] = []
        self.label_plan: list[tuple[int, int]] = []
        self.field_plan: list[tuple[int, str, str, str]] = []
        self.person_plan: list[tuple[int, str, int, str]] = []
        for index, column in enumerate(header):
            target = mapping.get(column, "ignore")
            if target in CONTACT_TARGETS:
                slot = CONTACT_COLUMNS.index(target)
                self.contact_plan.append((index, slot, CONTACT_TARGETS[target], column))
            elif target in ADDRESS_TARGETS:
                self.address_plan.append((index, int(target[-1])))
            elif target in LABEL_TARGETS:
                self.label_plan.append((index, int(target[-1])))
            elif target in PERSON_TARGETS:
                self.person_plan.append((index, target, PERSON_TARGETS[target], column))
            elif target in FIELD_TARGETS:
                self.field_plan.append((index, target, field_name(column), column))

    def parse(  # noqa: PLR0911, PLR0912 # one flat pass
        self, values: Sequence[str], line: int = 0, start: int = 0, length: int = 0
    ) -> ContactRow | Rejected:
        """One record's values, in header order (``line``, ``start``, ``length``: where it is)."""
        width = self.width
        if len(values) != width:
            if len(values) > width and any(v.strip() for v in values[width:]):
                return Rejected(
                    RejectReason.MALFORMED.value,
                    f"{len(values)} values for {width} columns: "
                    "quote the values that hold the separator",
                )
            values = [*values[:width], *[""] * (width - len(values))]
        contact = ["", "", "", "", "", ""]
        for index, slot, limit, column in self.contact_plan:
            value = values[index].strip()
            if len(value) > limit:
                return Rejected(
                    RejectReason.TOO_LONG.value,
                    f"{column}: {len(value)} characters, at most {limit}",
                )
            contact[slot] = value
        fields: dict[str, object] = {}
        for index, target, name, column in self.field_plan:
            value = values[index].strip()
            if not value:
                continue
            if len(value) > FIELD_VALUE_MAX_LENGTH:
                return Rejected(
                    RejectReason.TOO_LONG.value,
                    f"{column}: {len(value)} characters, at most {FIELD_VALUE_MAX_LENGTH}",
                )
            if target in {"field", "field:text", "field:key"}:
                fields[name] = value
                continue
            try:
                fields[name] = (
                    parse_number(value) if target == "field:number" else parse_date(value)
                )
            except ValueError:
                kind = "number" if target == "field:number" else "date"
                return Rejected(
                    RejectReason.BAD_VALUE.value, f"{column}: {value!r} is not a {kind}"
                )
        emails = []
        valid = False
        for index, position in self.address_plan:
            raw = values[index]
            if not raw or raw.isspace():
                continue
            normalized, error = addresses.validate(raw)
            if len(normalized) > 320:
                return Rejected(
                    RejectReason.TOO_LONG.value, f"address of {len(normalized)} characters"
                )
            label = ""
            for label_index, label_position in self.label_plan:
                if label_position == position:
                    label = values[label_index].strip()[:LABEL_MAX_LENGTH]
            emails.append((position, normalized, label, error))
            valid = valid or error is None
        if not emails:
            return Rejected(RejectReason.MISSING.value, "no email address")
        if not valid:
            first = emails[0]
            return Rejected(RejectReason.INVALID_ADDRESS.value, f"{first[1]}: {first[3]}")
        person = self._person(values) if self.person_plan else None
        if isinstance(person, Rejected):
            return person
        emails.sort()
        return (
            line,
            start,
            length,
            tuple(contact),
            emails,
            _json(fields),
            [e.lower() for _p, e, _l, err in emails if err is None],
            person,
        )

    def _person(self, values: Sequence[str]) -> tuple[str, str, str] | Rejected | None:
        found = {"person_name": "", "person_role": "", "person_email": ""}
        for index, target, limit, column in self.person_plan:
            value = values[index].strip()
            if len(value) > limit:
                return Rejected(
                    RejectReason.TOO_LONG.value,
                    f"{column}: {len(value)} characters, at most {limit}",
                )
            found[target] = value
        name, role, email = found["person_name"], found["person_role"], found["person_email"]
        if not (name or email):
            return None
        if email:
            email, error = addresses.validate(email)
            if error:
                return Rejected(RejectReason.INVALID_ADDRESS.value, f"{email}: {error}")
        return (name or email, role, email)


@dataclass
class ParsedBatch:
    """Up to ``size`` records of a file, parsed: the good rows, and the rejected ones as
    (line, raw bytes, reason, detail)."""

    rows: list[ContactRow]
    rejected: list[tuple[int, bytes, str, str]]
    end_offset: int  # the checkpoint after the batch
    end_line: int
    records: int  # records read, blank lines excluded
    encoding: str


def parsed_batches(
    records: Iterable[Record], header: Sequence[str], mapping: Mapping[str, str], size: int
) -> Iterator[ParsedBatch]:
    """Groups records into batches of ``size`` parsed rows; blank lines are skipped."""
    parser = RowParser(header, mapping)
    parse = parser.parse
    rows: list[ContactRow] = []
    rejected: list[tuple[int, bytes, str, str]] = []
    count = 0
    last: Record | None = None
    for record in records:
        last = record
        if record.error:
            raw = b"".join(record.raw_bytes)
            rejected.append((record.line, raw, RejectReason.MALFORMED.value, record.error[:500]))
        elif record.fields and (len(record.fields) > 1 or record.fields[0].strip()):
            length = sum(map(len, record.raw_bytes))
            result = parse(record.fields, record.line, record.end_offset - length, length)
            if type(result) is Rejected:
                raw = b"".join(record.raw_bytes)
                rejected.append((record.line, raw, result.reason, result.detail))
            else:
                rows.append(result)  # type: ignore[arg-type]
        else:
            continue
        count += 1
        if count >= size:
            yield ParsedBatch(
                rows, rejected, record.end_offset, record.end_line, count, record.encoding
            )
            rows, rejected, count = [], [], 0
    if last is not None:
        yield ParsedBatch(rows, rejected, last.end_offset, last.end_line, count, last.encoding)
