"""The inbox search: the words a conversation is found by, and how a search reads them.

Each conversation keeps the words of its subject, customer (names, addresses), campaign name and
every message in ``Conversation.search_text``: case and accents folded, punctuation dropped, so that
SQLite's FTS5 table ``conversation_search`` and PostgreSQL's ``search_vector`` (migration
``0003_search_index``) split it alike and "Héloïse" is found by "heloise". Every distinct word is
also kept once in ``SearchTerm``.

A search word matches the words it begins ("ann" finds "Annabel"). Both databases can match a
prefix themselves, but they read every posting of every matching word first: over a million
conversations "refund*" costs about 100 ms at each look, where a whole word costs 1 ms, because the
postings of whole words are read lazily, newest first, and the reading stops with the page. So a
search word is turned into the whole words it begins, found in ``SearchTerm`` by a B-tree range,
and searched as "refund OR refunds OR refunded". A word that begins more than ``MAX_EXPANSION``
indexed words (two or three letters, mostly) falls back to the database's prefix match: right, and
slower. Words are never removed from ``SearchTerm``: one nobody uses any more costs a row.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import QuerySet

from herald.conversations.models import Conversation, SearchTerm

MAX_SEARCH_TEXT = 20_000  # characters of words kept per conversation
HEAD_CHARS = 2000  # of which the start (subject, customer, campaign) is always kept
MAX_WORD_LENGTH = 64  # longer "words" (encoded data, hashes) are not indexed
MAX_SEARCH_WORDS = 8
MAX_EXPANSION = 256  # whole words a search word may stand for before the native prefix match
FEW_MATCHES = 2000  # PostgreSQL: matches read from the GIN index before a search counts as common

_WORD = re.compile(r"[^\W_]+")  # letters and digits: what FTS5's unicode61 and PostgreSQL split on


def fold(text: str) -> str:
    """Lower case without accents: "Héloïse" → "heloise"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words_of(text: str) -> list[str]:
    """The indexable words of ``text``, folded, in order (repeats kept)."""
    return [w for w in _WORD.findall(fold(text)) if len(w) <= MAX_WORD_LENGTH]


def mailbox_word(mailbox_id: int) -> str:
    """The word that puts a conversation's mailbox in its ``search_text``: an agent's search asks
    the full-text index for their mailboxes' conversations only (``match_expression``), instead
    of reading past every other mailbox's. Never in ``SearchTerm``: a search never expands to it."""
    return f"zzmailbox{mailbox_id}"


def new_index_text(mailbox_id: int, *parts: str) -> str:
    """A new conversation's ``search_text``: its mailbox's word, then the words of ``parts``."""
    return index_text(mailbox_word(mailbox_id), *parts)


def index_text(previous: str, *parts: str) -> str:
    """A conversation's ``search_text``: ``previous`` followed by the words of ``parts``, whose new
    words are remembered in ``SearchTerm``. Past ``MAX_SEARCH_TEXT`` the start and the newest text
    are kept."""
    added = words_of(" ".join(p for p in parts if p))
    remember(added)
    text = " ".join([previous, *added]) if previous else " ".join(added)
    if len(text) > MAX_SEARCH_TEXT:
        text = text[:HEAD_CHARS] + " " + text[-(MAX_SEARCH_TEXT - HEAD_CHARS - 1) :]
    return text


def remember(words: Iterable[str]) -> None:
    """Adds the words not yet known to ``SearchTerm`` (one INSERT, known ones ignored)."""
    distinct = set(words)
    if distinct:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=w) for w in sorted(distinct)], ignore_conflicts=True, batch_size=500
        )


def query_words(text: str) -> list[str]:
    """The words of a search box, as indexed, at most ``MAX_SEARCH_WORDS``."""
    return words_of(text)[:MAX_SEARCH_WORDS]


def expansion(word: str) -> list[str] | None:
    """The indexed words that ``word`` begins (itself included when indexed), or None when there
    are more than ``MAX_EXPANSION``."""
    terms = SearchTerm.objects.order_by("term").values_list("term", flat=True)
    if connection.vendor == "postgresql":  # LIKE 'w%' walks the varchar_pattern_ops index
        terms = terms.filter(term__startswith=word)
    else:  # SQLite compares code points, as Python does: a range walks the primary key
        terms = terms.filter(term__gte=word, term__lt=word + "\U0010ffff")
    found = list(terms[: MAX_EXPANSION + 1])
    return None if len(found) > MAX_EXPANSION else found


def match_expression(words: list[str], mailbox_ids: Iterable[int] | None = None) -> str | None:
    """The full-text query for ``words`` in this database's syntax (every word required, each as
    the words it begins; in one of ``mailbox_ids`` when given), or None when a word begins no
    indexed word: nothing can match."""
    parts = []
    if mailbox_ids is not None:
        boxes = [mailbox_word(m) for m in sorted(set(mailbox_ids))]
        if not boxes:
            return None
        joined = "|".join(boxes) if connection.vendor == "postgresql" else " OR ".join(boxes)
        parts.append(f"({joined})")
    for word in words:
        terms = expansion(word)
        if terms == []:
            return None
        if connection.vendor == "postgresql":
            # to_tsquery: words are letters and digits only (words_of), so no quoting is needed.
            part = f"{word}:*" if terms is None else "|".join(terms)
        else:
            part = f'"{word}"*' if terms is None else " OR ".join(f'"{t}"' for t in terms)
        parts.append(f"({part})")
    return " & ".join(parts) if connection.vendor == "postgresql" else " AND ".join(parts)


def matching_ids(
    expression: str, before: int | None, limit: int, *, mailbox_id: int | None = None
) -> list[int]:
    """Ids of the conversations matching ``expression`` (``match_expression``), newest first,
    below ``before``: read from the full-text index in its own order, never sorted. With
    ``mailbox_id`` (PostgreSQL only), that mailbox's, walked on ``conversation_mailbox_newest``."""
    # Only constant SQL is joined here: the expression and bounds travel as parameters.
    below = "" if before is None else " AND {column} < %s"
    params: list[str | int] = [expression]
    if connection.vendor == "sqlite":
        bound = below.format(column="rowid")
        sql = f"SELECT rowid FROM conversation_search WHERE conversation_search MATCH %s{bound} ORDER BY rowid DESC LIMIT %s"  # noqa: E501, S608
    else:
        bound = below.format(column="id")
        order = "id DESC"
        if mailbox_id is not None:
            # "= ANY(array)" and the mailbox in ORDER BY: the planner walks the mailbox's range
            # of conversation_mailbox_newest. With "= %s" it folds the mailbox away and walks
            # the primary key, reading past every other mailbox's conversations.
            bound += " AND mailbox_id = ANY(%s)"
            order = "mailbox_id DESC, id DESC"
        sql = f"SELECT id FROM conversations_conversation WHERE search_vector @@ to_tsquery('simple', %s){bound} ORDER BY {order} LIMIT %s"  # noqa: E501, S608
    if before is not None:
        params.append(before)
    if mailbox_id is not None and connection.vendor == "postgresql":
        params.append([mailbox_id])  # type: ignore[arg-type]
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def few_matches(expression: str, before: int | None) -> list[int] | None:
    """On PostgreSQL, every match below ``before``, newest first, when there are at most
    ``FEW_MATCHES``; None when there are more (or on SQLite): then ``matching_ids`` walks.

    PostgreSQL's planner serves "matches, newest first, 50" by walking the primary key backwards
    and testing each row: right for a common word, 2 s for a rare one, which the GIN index finds
    at once. So the GIN index is asked first, for a bounded number of matches (plain index scans
    and sequential scans off for that statement only). That look costs what reading every
    posting of the words costs (~100 ms for a word in a third of a million conversations), so it
    is skipped when the table's statistics say there are many matches (``likely_many``)."""
    if connection.vendor != "postgresql" or likely_many(expression):
        return None
    bound = "" if before is None else " AND id < %s"
    sql = f"SELECT id FROM conversations_conversation WHERE search_vector @@ to_tsquery('simple', %s){bound} LIMIT %s"  # noqa: E501, S608
    params: list[str | int] = [expression, *([] if before is None else [before]), FEW_MATCHES + 1]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        finally:
            cursor.execute("SET LOCAL enable_indexscan TO DEFAULT")
            cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
    return None if len(ids) > FEW_MATCHES else sorted(ids, reverse=True)


STATS_SECONDS = 600.0  # how long PostgreSQL's word statistics are reused
_stats: dict[str, object] = {}


def _word_statistics() -> tuple[dict[str, float], float] | None:
    """PostgreSQL's statistics of ``search_vector`` (kept by ANALYZE and autovacuum): the share of
    conversations holding each of its most common words, and the number of conversations. None
    before the table was first analyzed."""
    now = time.monotonic()
    if _stats and now < float(_stats["until"]):  # type: ignore[arg-type]
        return _stats["value"]  # type: ignore[return-value]
    value = None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE tablename = 'conversations_conversation' AND attname = 'search_vector'"
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE relname = 'conversations_conversation'"
        )
        size = cursor.fetchone()
    if row and row[0] and row[1] and size and size[0] > 0:
        words, shares = row[0], row[1]
        # The shares end with three more numbers (least and greatest share, nulls): not words.
        value = (dict(zip(words, shares[: len(words)], strict=True)), size[0])
    _stats.update(until=now + STATS_SECONDS, value=value)
    return value


def likely_many(expression: str) -> bool:
    """Whether PostgreSQL's statistics say ``expression`` (``match_expression``) matches more
    than ``FEW_MATCHES`` conversations: each group of alternatives is as common as its words
    together, the groups are taken as independent. Only the words among the most common count:
    the others' share is unknown (below the least common one's), and a prefix standing for a
    dozen rare names must not look common. Wrongly probing costs ~100 ms; wrongly walking,
    seconds: in doubt, probe."""
    statistics = _word_statistics()
    if statistics is None:
        return False
    common, conversations = statistics
    share = 1.0
    for group in expression.split(" & "):
        alternatives = group.strip("()").split("|")
        part = 0.0
        for word in alternatives:
            if word.endswith(":*"):  # a native prefix: every common word it begins
                stem = word[:-2]
                part += sum(f for w, f in common.items() if w.startswith(stem))
            else:
                part += common.get(word, 0.0)
        share *= min(part, 1.0)
    return share * conversations > FEW_MATCHES


def filter_matching(rows: QuerySet[Conversation], expression: str) -> QuerySet[Conversation]:
    """The conversations among ``rows`` matching ``expression`` (``match_expression``)."""
    if connection.vendor == "sqlite":
        where = (
            "conversations_conversation.id IN "
            "(SELECT rowid FROM conversation_search WHERE conversation_search MATCH %s)"
        )
    else:
        where = "search_vector @@ to_tsquery('simple', %s)"
    # Constant SQL; the expression travels as a parameter.
    return rows.extra(where=[where], params=[expression])  # noqa: S610
