"""The search fold: what text search compares, in Python and as SQL.

``fold_text`` folds case (full Unicode case folding), accents and width (compatibility forms); it is
registered as the SQL function ``musictagger_fold`` on every SQLite connection, where the triggers that
keep ``tracks.search_text`` call it (library/search_text.py). ``latin_folding`` is its SQL approximation
for PostgreSQL (1:1 ``translate`` of accented Latin and full-width letters, ``replace`` of ligatures).
A module of its own, below everything that uses it (db.py, search_text.py, queries.py).
"""

from __future__ import annotations

import functools
import re
import sqlite3
import unicodedata

from sqlalchemy import event
from sqlalchemy.pool import Pool

#: The SQL name of fold_text inside SQLite (registered on every connection).
FOLD_FUNCTION = "musictagger_fold"
# Joins the searched columns before folding: no text a user types holds it, so no match spans two columns.
COLUMN_SEPARATOR = "\x1f"
# Letters that are not a base letter plus a mark, so NFKD leaves them: searched as their plain spelling.
_PLAIN_LETTERS = str.maketrans(
    {"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)


def fold_text(text: str | None) -> str:
    """What search compares: ``text`` case-folded, without accents, compatibility forms expanded.

    "Beyoncé" → "beyonce", "MÖTLEY" → "motley", "STRASSE" and "straße" → "strasse", "ＡＢＣ" → "abc".
    """
    if not text:
        return ""
    lowered = text.lower()
    if text.isascii():  # the common case, and the fast one
        return lowered
    # Only the non-ASCII runs need Unicode work, and the same few runs ("é", "ö") recur in every
    # library: folded once each (cached), this keeps a search over 100,000 tracks fast.
    return _NON_ASCII.sub(_fold_match, lowered)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_match(match: re.Match[str]) -> str:
    return _fold_run(match.group())


@functools.lru_cache(maxsize=16384)
def _fold_run(run: str) -> str:
    """Full fold of a non-ASCII run: NFKD, case folding, combining marks dropped, the plain letters."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", run).casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", plain.translate(_PLAIN_LETTERS))


# Letters folded to more than one that PostgreSQL's 1:1 translate cannot expand (the common ones).
_EXPANDED_LETTERS = "ÆæŒœßÞþﬀﬁﬂ"
# Latin-1 Supplement and Latin Extended-A/B (accented letters), full-width ASCII.
_TRANSLATED_RANGES = (range(0xC0, 0x250), range(0xFF01, 0xFF5F))


@functools.cache
def latin_folding() -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """fold_text of every character of _TRANSLATED_RANGES that folds to one plain ASCII letter: (characters,
    their folds) for SQL's translate; and (letter, fold) pairs of _EXPANDED_LETTERS for replace."""
    source, target = [], []
    for code in (code for codes in _TRANSLATED_RANGES for code in codes):
        letter = chr(code)
        plain = fold_text(letter)
        if len(plain) == 1 and plain.isascii() and plain != letter:
            source.append(letter)
            target.append(plain)
    expansions = tuple((letter, fold_text(letter)) for letter in _EXPANDED_LETTERS)
    return "".join(source), "".join(target), expansions


def register_fold(dbapi_connection: sqlite3.Connection) -> None:
    dbapi_connection.create_function(FOLD_FUNCTION, 1, _fold_sql, deterministic=True)


def _fold_sql(value: object) -> str | None:
    return fold_text(value) if isinstance(value, str) else None


@event.listens_for(Pool, "connect")
def _on_connect(dbapi_connection, _record) -> None:
    # Every SQLite connection opened from now on knows the fold (the index's and any other).
    if isinstance(dbapi_connection, sqlite3.Connection):
        register_fold(dbapi_connection)
