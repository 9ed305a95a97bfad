"""Reading contact files: encoding and delimiter detection, and a record stream that knows the
byte offset after each record (pure: files only, no database).

The offsets are what make an import resumable: a job commits "done up to byte N, line L" with
each batch, and ``records(..., offset=N, line=L)`` starts again exactly there. Files are read as
bytes and split on b"\\n", which is safe for UTF-8 and the single-byte Windows code pages;
UTF-16 files are transcoded to UTF-8 once, up front, by ``inspect``.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1 << 20
SNIFF_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
PREVIEW_ROWS = 5
# The csv module's default limit (128 KiB) is too lax for a contact field: a longer "field" is
# almost always an unclosed quote swallowing the rest of the file.
FIELD_SIZE_LIMIT = 64 * 1024
# A contact list has a few dozen columns; thousands are a broken export (or an attack: every
# column becomes a variable, a mapping entry and work for each row).
MAX_COLUMNS = 500
MAX_LINE_BYTES = 16 * 1024 * 1024  # one physical line; longer ones are not a contact list
ENCODINGS = ("utf-8", "utf-16", "cp1252", "latin-1")

csv.field_size_limit(FIELD_SIZE_LIMIT)


class FileRefused(ValueError):  # noqa: N818 # what the user reads: "the file is refused"
    """The file cannot be imported at all; the message says what to fix."""


@dataclass
class FileInfo:
    path: Path  # the file to read (a UTF-8 copy for UTF-16 input)
    encoding: str  # what the records are decoded with
    detected_encoding: str  # what the original file was
    delimiter: str
    header: list[str]
    preview: list[list[str]]
    data_offset: int  # byte offset of the first data record in ``path``
    header_lines: int  # physical lines of the header (more than 1 if a name holds a line break)
    size: int  # size of ``path``
    lines: int  # physical lines after the header: the row count unless fields span lines


@dataclass
class Record:
    line: int  # physical line number where the record starts (the header is line 1)
    fields: list[str]
    end_offset: int  # byte offset just after the record
    end_line: int  # physical lines consumed up to and including this record
    raw_bytes: list[bytes] = field(repr=False)
    encoding: str = "utf-8"
    error: str | None = None  # a record the csv module could not read

    @property
    def raw(self) -> str:
        """The record as it was in the file, without its final line break."""
        return b"".join(self.raw_bytes).decode(self.encoding, "replace").rstrip("\r\n")


def _bom(head: bytes) -> str | None:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _scan(path: Path) -> tuple[str, int]:
    """Whether the whole file is UTF-8 (else Windows-1252, else Latin-1) and its line count."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    cp1252_undefined = False
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            lines += chunk.count(b"\n")
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8 and not cp1252_undefined:
                # Five bytes have no character in Windows-1252; Latin-1 maps every byte.
                cp1252_undefined = any(
                    b in chunk for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
                )
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if utf8:
        return "utf-8", lines
    return ("latin-1" if cp1252_undefined else "cp1252"), lines


def _transcode_utf16(path: Path) -> Path:
    target = path.with_name(path.name + ".utf8")
    try:
        with path.open("rb") as src, target.open("wb") as dst:
            reader = codecs.getreader("utf-16")(src)
            while text := reader.read(CHUNK):
                dst.write(text.encode("utf-8"))
    except UnicodeError:  # declared UTF-16, it is not (a UTF-8 file, most often)
        target.unlink(missing_ok=True)
        raise FileRefused(
            "The file is not UTF-16 as chosen: choose its encoding again (or let Herald detect it)."
        ) from None
    return target


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of , ; tab | outside quotes in the header line (``,`` if none)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def inspect(path: Path, encoding: str = "") -> FileInfo:
    """Detects the encoding (or takes ``encoding``) and delimiter, reads the header and a preview.

    Raises FileRefused for an empty file, a binary file, or a file whose header is unreadable.
    """
    size = path.stat().st_size
    if size == 0:
        raise FileRefused("The file is empty: export the list again, with its header row.")
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    bom = _bom(head)
    if b"\x00" in head and bom != "utf-16":
        raise FileRefused(
            "This is not a CSV file (it contains binary data). Export the list as CSV "
            "(comma, semicolon, tab or | separated text) and upload that."
        )
    detected = encoding or bom or ""
    lines = 0
    if detected in {"utf-16", "utf-16-le", "utf-16-be"} and bom != "utf-16" and b"\x00" not in head:
        # UTF-16 writes every ASCII character (commas, line breaks) with a zero byte.
        raise FileRefused(
            "The file is not UTF-16 as chosen: choose its encoding again (or let Herald detect it)."
        )
    if detected in {"utf-16", "utf-16-le", "utf-16-be"}:
        path = _transcode_utf16(path)
        detected, read_as = "utf-16", "utf-8"
        with path.open("rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(CHUNK), b""))
    else:
        scanned, lines = _scan(path)
        detected = detected or scanned
        read_as = "utf-8" if detected == "utf-8-sig" else detected
    if read_as not in {"utf-8", "cp1252", "latin-1"}:
        raise FileRefused(f"Unknown encoding {encoding!r}: choose one of {', '.join(ENCODINGS)}.")
    start = len(codecs.BOM_UTF8) if path.open("rb").read(3) == codecs.BOM_UTF8 else 0
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(start)
        first = f.readline().decode(read_as, "replace")
    delimiter = sniff_delimiter(first)
    stream = records(path, read_as, delimiter, start, 0)
    header_record = next(stream, None)
    if header_record is not None and len(header_record.fields) > MAX_COLUMNS:
        raise FileRefused(
            f"The header row has {len(header_record.fields)} columns; Herald takes at most "
            f"{MAX_COLUMNS}: keep the columns you need (names, addresses, fields used in "
            "templates) and upload that."
        )
    if (
        header_record is None
        or header_record.error
        or not any(h.strip() for h in header_record.fields)
    ):
        raise FileRefused("The first line of the file must be a header row naming the columns.")
    header = [h.strip() for h in header_record.fields]
    preview = []
    for record in stream:
        if record.error is None:
            preview.append(record.fields)
        if len(preview) >= PREVIEW_ROWS:
            break
    if len(header) == 1 and not preview and "@" not in header[0] and size > 1_000:
        raise FileRefused("This does not look like a CSV file: no separator in its first line.")
    return FileInfo(
        path=path,
        encoding=read_as,
        detected_encoding=detected,
        delimiter=delimiter,
        header=header,
        preview=preview,
        data_offset=header_record.end_offset,
        header_lines=header_record.end_line,
        size=size,
        lines=max(0, lines - header_record.end_line + (0 if first.endswith("\n") else 1)),
    )


def _byte_lines(f: io.BufferedReader) -> Iterator[bytes]:
    pending = b""
    while chunk := f.read(CHUNK):
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        for part in parts:
            yield part + b"\n"
        if len(pending) > MAX_LINE_BYTES:
            raise FileRefused(
                f"A line of the file is longer than {MAX_LINE_BYTES // (1024 * 1024)} MB: this "
                "is not a contact list (or its lines do not end with line breaks)."
            )
    if pending:
        yield pending


def records(path: Path, encoding: str, delimiter: str, offset: int, line: int) -> Iterator[Record]:
    """The records of ``path`` from byte ``offset`` (at physical line ``line``), each with the
    offset and line count just after it, so that reading can resume there."""
    consumed: list[bytes] = []

    with path.open("rb") as f:
        f.seek(offset)

        def texts() -> Iterator[str]:
            for raw in _byte_lines(f):
                consumed.append(raw)
                yield raw.decode(encoding, "replace")

        reader = csv.reader(texts(), delimiter=delimiter, strict=True)
        while True:
            error = None
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                fields, error = [], str(exc)
            if len(fields) > MAX_COLUMNS:
                error = f"more than {MAX_COLUMNS} fields in this row"
            start_line = line + 1
            line += len(consumed)
            offset += sum(map(len, consumed))
            raw = consumed[:]
            consumed.clear()
            yield Record(start_line, fields, offset, line, raw, encoding, error)
