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
A new index gets the triggers after ``create_all`` (schema.py); an upgraded one after the upgrade
(:func:`refresh`, which also fills rows a migration left without).
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from musictagger.library.folding import FOLD_FUNCTION, latin_folding

_COLUMNS = ("path", "title", "artist", "album")
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS tracks_search_text_added",
    "DROP TRIGGER IF EXISTS tracks_search_text_changed",
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
    for statement in statements:
        connection.execute(text(statement))


def drop_triggers(connection: Connection) -> None:
    for statement in _POSTGRESQL_DROP if connection.dialect.name == "postgresql" else _SQLITE_DROP:
        connection.execute(text(statement))


def refresh(connection: Connection) -> None:
    """After a schema upgrade (steps run without the triggers): fill the rows without a folded text, and
    make the triggers again."""
    drop_triggers(connection)
    if "search_text" not in {column["name"] for column in inspect(connection).get_columns("tracks")}:
        return  # an upgrade that stopped short of 0008 (tests); the app always upgrades to the head
    fold = _postgresql_fold("") if connection.dialect.name == "postgresql" else _sqlite_fold("")
    connection.execute(text(f"UPDATE tracks SET search_text = {fold} WHERE search_text IS NULL"))
    create_triggers(connection)
