"""Facet counts kept as labels change, so the app's genre and mood lists cost a lookup, not a count.

``label_facets`` holds, per (category, label), how many present tracks (``missing_since IS NULL``) have
that label ``confident``: what the facets show. Counting that from ``track_labels`` is a GROUP BY over
millions of rows on a large library (15 s for the genres of 1,000,000 tracks on SQLite, docs/scale.md);
the table makes it a read of a few dozen rows.

Database triggers keep it right, so every writer (the scanner's bulk deletes, the relabelling, a second
process, a PostgreSQL client of a shared index) updates it in the same transaction as the labels:

- a label inserted, deleted or updated (its track, category, label or ``confident``) adds or takes one
  from its row when it counts (confident, its track present);
- a track going missing or coming back takes or adds one for each of its confident labels;
- a present track deleted takes one for each of its confident labels *before* the delete, since the
  cascade removes the labels after the track row is gone (the label trigger then sees no present track
  and changes nothing: nothing is counted twice).

The triggers are made after ``create_all`` of a brand-new index (``db._migrate`` calls
:func:`create_triggers`) and, on an index a migration upgraded, by :func:`recount` after
the upgrade (migrations run without them), on SQLite and PostgreSQL alike.
``tests/test_facet_counts.py`` checks the counts against a full count after every kind of change, on both.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from musictagger.library.dialect_sql import execute_for_dialect

_COUNTED = "EXISTS (SELECT 1 FROM tracks WHERE id = {row}.track_id AND missing_since IS NULL)"

_SQLITE = (
    f"""CREATE TRIGGER label_facets_label_added AFTER INSERT ON track_labels
    WHEN NEW.confident AND {_COUNTED.format(row="NEW")}
    BEGIN
        INSERT INTO label_facets (category, label, tracks) VALUES (NEW.category, NEW.label, 1)
        ON CONFLICT (category, label) DO UPDATE SET tracks = tracks + 1;
    END""",
    f"""CREATE TRIGGER label_facets_label_removed AFTER DELETE ON track_labels
    WHEN OLD.confident AND {_COUNTED.format(row="OLD")}
    BEGIN
        UPDATE label_facets SET tracks = tracks - 1 WHERE category = OLD.category AND label = OLD.label;
    END""",
    f"""CREATE TRIGGER label_facets_label_changed
    AFTER UPDATE OF track_id, category, label, confident ON track_labels
    BEGIN
        UPDATE label_facets SET tracks = tracks - 1
        WHERE category = OLD.category AND label = OLD.label
            AND OLD.confident AND {_COUNTED.format(row="OLD")};
        INSERT INTO label_facets (category, label, tracks)
        SELECT NEW.category, NEW.label, 1 WHERE NEW.confident AND {_COUNTED.format(row="NEW")}
        ON CONFLICT (category, label) DO UPDATE SET tracks = tracks + 1;
    END""",
    """CREATE TRIGGER label_facets_track_presence AFTER UPDATE OF missing_since ON tracks
    WHEN (OLD.missing_since IS NULL) <> (NEW.missing_since IS NULL)
    BEGIN
        INSERT INTO label_facets (category, label, tracks)
        SELECT category, label, CASE WHEN NEW.missing_since IS NULL THEN 1 ELSE -1 END
        FROM track_labels WHERE track_id = NEW.id AND confident
        ON CONFLICT (category, label) DO UPDATE SET tracks = tracks + excluded.tracks;
    END""",
    """CREATE TRIGGER label_facets_track_deleted BEFORE DELETE ON tracks
    WHEN OLD.missing_since IS NULL
    BEGIN
        UPDATE label_facets SET tracks = tracks - 1
        WHERE (category, label) IN
            (SELECT category, label FROM track_labels WHERE track_id = OLD.id AND confident);
    END""",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS label_facets_label_added",
    "DROP TRIGGER IF EXISTS label_facets_label_removed",
    "DROP TRIGGER IF EXISTS label_facets_label_changed",
    "DROP TRIGGER IF EXISTS label_facets_track_presence",
    "DROP TRIGGER IF EXISTS label_facets_track_deleted",
)

_POSTGRESQL = (
    f"""CREATE FUNCTION label_facets_on_label() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF OLD.confident AND {_COUNTED.format(row="OLD")} THEN
                UPDATE label_facets SET tracks = tracks - 1
                WHERE category = OLD.category AND label = OLD.label;
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF NEW.confident AND {_COUNTED.format(row="NEW")} THEN
                INSERT INTO label_facets (category, label, tracks) VALUES (NEW.category, NEW.label, 1)
                ON CONFLICT (category, label) DO UPDATE SET tracks = label_facets.tracks + 1;
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER label_facets_label
    AFTER INSERT OR DELETE OR UPDATE OF track_id, category, label, confident ON track_labels
    FOR EACH ROW EXECUTE FUNCTION label_facets_on_label()""",
    """CREATE FUNCTION label_facets_on_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.missing_since IS NULL THEN
                UPDATE label_facets AS f SET tracks = f.tracks - 1 FROM track_labels AS l
                WHERE l.track_id = OLD.id AND l.confident AND f.category = l.category AND f.label = l.label;
            END IF;
            RETURN OLD;
        END IF;
        IF (OLD.missing_since IS NULL) <> (NEW.missing_since IS NULL) THEN
            INSERT INTO label_facets (category, label, tracks)
            SELECT category, label, CASE WHEN NEW.missing_since IS NULL THEN 1 ELSE -1 END
            FROM track_labels WHERE track_id = NEW.id AND confident
            ON CONFLICT (category, label) DO UPDATE SET tracks = label_facets.tracks + EXCLUDED.tracks;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER label_facets_track_deleted BEFORE DELETE ON tracks
    FOR EACH ROW EXECUTE FUNCTION label_facets_on_track()""",
    """CREATE TRIGGER label_facets_track_presence AFTER UPDATE OF missing_since ON tracks
    FOR EACH ROW EXECUTE FUNCTION label_facets_on_track()""",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS label_facets_label ON track_labels",
    "DROP TRIGGER IF EXISTS label_facets_track_deleted ON tracks",
    "DROP TRIGGER IF EXISTS label_facets_track_presence ON tracks",
    "DROP FUNCTION IF EXISTS label_facets_on_label()",
    "DROP FUNCTION IF EXISTS label_facets_on_track()",
)

# The counts of an index made before the triggers existed (the migration fills the table once).
_FILL = """INSERT INTO label_facets (category, label, tracks)
    SELECT l.category, l.label, count(*) FROM track_labels AS l JOIN tracks AS t ON t.id = l.track_id
    WHERE l.confident AND t.missing_since IS NULL
    GROUP BY l.category, l.label"""


def create_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE, postgresql=_POSTGRESQL)


def drop_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE_DROP, postgresql=_POSTGRESQL_DROP)


def recount(connection: Connection) -> None:
    """Count every confident label of the present tracks afresh and (re)make the triggers: after every
    schema upgrade (db._migrate), whose steps run with the triggers dropped, since a step may rebuild a
    table they name (SQLite's batch mode copies, drops and renames ``tracks``) or change labels in bulk."""
    drop_triggers(connection)
    if "label_facets" not in inspect(connection).get_table_names():
        return  # an upgrade that stopped short of 0007 (tests); the app always upgrades to the head
    connection.execute(text("DELETE FROM label_facets"))
    connection.execute(text(_FILL))
    create_triggers(connection)
