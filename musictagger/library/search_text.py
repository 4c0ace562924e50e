"""Each track's searched text stored folded (``tracks.search_text``), so a search reads one column.

The one text search (library/queries.py, ``search_condition``) matches path, title, artist and album
after folding (case, accents, width). Folding them per row at query time called Python a million times
on a million-track SQLite index (32-59 s a search, docs/scale.md). The folded text is now kept in the
row itself by database triggers, whatever writes the row (the scanner, a bulk insert, another process):

- SQLite: after an insert, or an update of path, title, artist or album, the row's ``search_text`` is set
  with ``musictagger_fold``, the same Python fold the search used, registered on every connection the
  project opens (queries.py);
- PostgreSQL: before such an insert or update, with the SQL fold the search used there (Latin accents,
  full-width letters and ligatures translated, then lowered).

A search is then ``instr``/``strpos`` of the folded text in that column: the same answers as before.
A new index gets the triggers after ``create_all`` (db._migrate); an upgraded one after the upgrade
(:func:`refresh`, which also fills rows a migration left without).

**SQLite's trigram index** (migration 0010). ``instr`` still reads every track's folded text: 0.35-0.6 s
a search on a million tracks (docs/scale.md). ``tracks_search_trigrams`` is an FTS5 table of the same
folded text with the ``trigram`` tokenizer, case-sensitive (the text is folded already, so the index
adds no rule of its own): a needle of three characters or more is a phrase of its trigrams, which FTS5
answers from the index, and a phrase of consecutive trigrams is exactly "contains the needle", the
``instr`` test. Shorter needles, which match most of a library anyway, keep the ``instr`` scan. Triggers
keep the table in step with ``search_text`` (every insert sets it through the trigger above, so one
trigger on its update covers inserts and edits; another on delete). The table holds its own copy of the
text (about 100 bytes a track) rather than pointing at ``tracks``: an external-content FTS5 table must
be told the exact old text to delete, and a single missed trigger would corrupt it silently.
FTS5 is in the SQLite of every mainstream Python build; a process whose SQLite lacks it keeps the scan
(:func:`trigrams_supported`), and an index made with it cannot be changed by such a process (a clear
error when opened, :func:`ensure_trigram_index`).

**PostgreSQL's trigram index** (migration 0012). The ``pg_trgm`` extension is not in every server's build
(pgserver's wheel has none), so the index is made with what every PostgreSQL has: an expression GIN index
on the array of each folded text's distinct trigrams (:data:`PG_TRIGRAMS_FUNCTION`, an immutable SQL
function). A search of three characters or more asks for the rows whose array contains every trigram of
the needle (``@>``, answered by the index), then tests ``strpos`` on those rows alone: the trigrams find
candidates, the ``strpos`` test keeps the answer exactly that of the scan. PostgreSQL keeps an expression
index in step by itself: no triggers, no table of its own.
"""

from __future__ import annotations

import functools
import sqlite3

from sqlalchemy import column, inspect, table, text
from sqlalchemy.engine import Connection

from musictagger.library.dialect_sql import execute_for_dialect
from musictagger.library.folding import FOLD_FUNCTION, latin_folding

TRIGRAM_TABLE = "tracks_search_trigrams"
TRIGRAM_MIN_NEEDLE = 3  # the shortest needle the trigram index can answer (one trigram)
trigrams = table(TRIGRAM_TABLE, column("rowid"), column("search_text"))
_TRIGRAM_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {TRIGRAM_TABLE} "
    "USING fts5(search_text, tokenize='trigram case_sensitive 1')"
)
_TRIGRAM_TRIGGERS = (
    f"""CREATE TRIGGER {TRIGRAM_TABLE}_changed AFTER UPDATE OF search_text ON tracks BEGIN
        DELETE FROM {TRIGRAM_TABLE} WHERE rowid = OLD.id;
        INSERT INTO {TRIGRAM_TABLE} (rowid, search_text) SELECT NEW.id, NEW.search_text
            WHERE NEW.search_text IS NOT NULL;
    END""",
    f"""CREATE TRIGGER {TRIGRAM_TABLE}_removed AFTER DELETE ON tracks BEGIN
        DELETE FROM {TRIGRAM_TABLE} WHERE rowid = OLD.id;
    END""",
)

#: PostgreSQL: the distinct trigrams of a folded text (NULL for one shorter than 3 characters). Not
#: inlinable (a SELECT with FROM), so the planner matches the index expression by this call.
PG_TRIGRAMS_FUNCTION = "musictagger_trigrams"
PG_TRIGRAM_INDEX = "ix_tracks_search_trigrams"
_PG_TRIGRAM_DDL = (
    f"""CREATE OR REPLACE FUNCTION {PG_TRIGRAMS_FUNCTION}(folded text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT array_agg(DISTINCT substr(folded, i, 3))
        FROM generate_series(1, char_length(folded) - 2) AS i
    $$""",
    f"CREATE INDEX IF NOT EXISTS {PG_TRIGRAM_INDEX} ON tracks "
    f"USING gin ({PG_TRIGRAMS_FUNCTION}(search_text))",
)
_PG_TRIGRAM_DROP = (
    f"DROP INDEX IF EXISTS {PG_TRIGRAM_INDEX}",
    f"DROP FUNCTION IF EXISTS {PG_TRIGRAMS_FUNCTION}(text)",
)

_COLUMNS = ("path", "title", "artist", "album")
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS tracks_search_text_added",
    "DROP TRIGGER IF EXISTS tracks_search_text_changed",
    f"DROP TRIGGER IF EXISTS {TRIGRAM_TABLE}_changed",
    f"DROP TRIGGER IF EXISTS {TRIGRAM_TABLE}_removed",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS tracks_search_text ON tracks",
    "DROP FUNCTION IF EXISTS tracks_search_text()",
)


def _sqlite_fold(row: str) -> str:
    """The Python fold over the searched columns of ``row`` ("NEW." or the table's own), joined by the
    separator queries.py joins them with (0x1f)."""
    joined = " || char(31) || ".join(f"coalesce({row}{column}, '')" for column in _COLUMNS)
    return f"{FOLD_FUNCTION}({joined})"


def _postgresql_fold(row: str) -> str:
    """The SQL fold of queries._folded_contains_postgresql, over the joined columns of ``row``."""
    source, target, expansions = latin_folding()
    parts = [f"coalesce({row}{column}, '')" for column in _COLUMNS]
    folded = " || chr(31) || ".join(parts)
    for letter, plain in expansions:
        folded = f"replace({folded}, {_literal(letter)}, {_literal(plain)})"
    return f"lower(translate({folded}, {_literal(source)}, {_literal(target)}))"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def create_triggers(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        statements = (
            f"""CREATE FUNCTION tracks_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                NEW.search_text := {_postgresql_fold("NEW.")};
                RETURN NEW;
            END $$""",
            """CREATE TRIGGER tracks_search_text BEFORE INSERT OR UPDATE OF path, title, artist, album
            ON tracks FOR EACH ROW EXECUTE FUNCTION tracks_search_text()""",
        )
    else:
        update = f"UPDATE tracks SET search_text = {_sqlite_fold('NEW.')} WHERE id = NEW.id;"
        statements = (
            f"CREATE TRIGGER tracks_search_text_added AFTER INSERT ON tracks BEGIN {update} END",
            f"""CREATE TRIGGER tracks_search_text_changed AFTER UPDATE OF path, title, artist, album ON tracks
            BEGIN {update} END""",
        )
        if has_trigram_index(connection):
            statements += _TRIGRAM_TRIGGERS
    for statement in statements:
        connection.execute(text(statement))


def drop_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE_DROP, postgresql=_POSTGRESQL_DROP)


def refresh(connection: Connection) -> None:
    """After a schema upgrade (steps run without the triggers): fill the rows without a folded text, and
    make the triggers again."""
    drop_triggers(connection)
    if "search_text" not in _track_columns(connection):
        return  # an upgrade that stopped short of 0008 (tests); the app always upgrades to the head
    fold = _postgresql_fold("") if connection.dialect.name == "postgresql" else _sqlite_fold("")
    connection.execute(text(f"UPDATE tracks SET search_text = {fold} WHERE search_text IS NULL"))
    if has_trigram_index(connection):
        _fill_trigram_index(connection)
    create_triggers(connection)


# --- SQLite's trigram index ---------------------------------------------------------------------------


@functools.cache
def trigrams_supported() -> bool:
    """Whether this process's SQLite has FTS5 with the trigram tokenizer (SQLite 3.34+)."""
    try:
        with sqlite3.connect(":memory:") as probe:
            probe.execute("CREATE VIRTUAL TABLE probe USING fts5(x, tokenize='trigram case_sensitive 1')")
    except sqlite3.Error:
        return False
    return True


def not_trigram_table(name: str | None, kind: str, _parents: object = None) -> bool:
    """Alembic's ``include_name``: the FTS5 table and its shadow tables (``…_data``, ``…_idx``, …), and
    PostgreSQL's expression index, are not in the models; autogenerate must neither drop them nor call
    them missing."""
    if kind == "index":
        return name != PG_TRIGRAM_INDEX
    return not (kind == "table" and name is not None and name.startswith(TRIGRAM_TABLE))


def has_trigram_index(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite" and inspect(connection).has_table(TRIGRAM_TABLE)


def create_trigram_index(connection: Connection) -> None:
    """The empty FTS5 table (migration 0010, a new index); :func:`refresh` fills it and makes its
    triggers (a new index has no rows: ``create_triggers`` alone)."""
    if connection.dialect.name == "sqlite" and trigrams_supported():
        connection.execute(text(_TRIGRAM_DDL))


def create_postgresql_trigram_index(connection: Connection) -> None:
    """PostgreSQL: the trigram function and its GIN index (migration 0012, a new index), filled by the
    server as it makes it."""
    if connection.dialect.name == "postgresql":
        for statement in _PG_TRIGRAM_DDL:
            connection.execute(text(statement))


def drop_postgresql_trigram_index(connection: Connection) -> None:
    """Migration 0012's downgrade."""
    if connection.dialect.name == "postgresql":
        for statement in _PG_TRIGRAM_DROP:
            connection.execute(text(statement))


def _fill_trigram_index(connection: Connection) -> None:
    connection.execute(text(f"DELETE FROM {TRIGRAM_TABLE}"))
    connection.execute(
        text(
            f"INSERT INTO {TRIGRAM_TABLE} (rowid, search_text) "
            "SELECT id, search_text FROM tracks WHERE search_text IS NOT NULL"
        )
    )


def ensure_trigram_index(connection: Connection) -> bool:
    """When a SQLite index is opened: searches compile to the trigram index whenever this process's SQLite
    supports it (queries.py), so the index must have it. One made by a process without FTS5 gets it now
    (filled once). One that has it cannot be kept in step without FTS5: False (db.py refuses to open it)."""
    if connection.dialect.name != "sqlite" or "search_text" not in _track_columns(connection):
        return True
    present = has_trigram_index(connection)
    if present and not trigrams_supported():
        return False
    if not present and trigrams_supported():
        create_trigram_index(connection)
        refresh(connection)  # fills it and makes its triggers, as after an upgrade
    return True


def _track_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("tracks")}
