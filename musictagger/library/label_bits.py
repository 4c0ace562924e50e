"""Each track's confident genres and moods as bits of one integer, so a label + BPM filter is one index read.

The table's filter "Electronic + Euphoric at 120-130 BPM" on a million tracks was the tracks in the BPM
range (one range of ``ix_tracks_bpm_order``, 85,000 of them) tested against each label's tracks (375,000
and 290,000 ids read from ``ix_track_labels_by_label`` and intersected): 216 ms on SQLite, 200-227 ms on
PostgreSQL, nearly all of it the label ids (docs/scale.md). With ``tracks.label_bits`` in that index the
labels are a bit test on the range's own entries.

- ``label_bits`` (category, label, mask) gives each filterable label one bit (``mask`` is its power of two)
  the first time a track has it confidently; the category is the filter's (``schema.FILTER_CATEGORIES``:
  a style filters as a genre). At most ``CAPACITY`` labels get one (a signed 64-bit integer); a filter
  naming a label without one takes the label-id path as before (``mask_of`` says None).
- ``tracks.label_bits`` is the OR of the masks of the track's confident labels, whether or not the track
  is present (the filter tests presence itself).

Database triggers keep both, so every writer (labelling, a second process, a PostgreSQL client of a shared
index) keeps them in its own transaction: a confident label added ORs its bit in; one deleted, changed or
no longer confident makes the track's bits again from its labels (two rows can share a bit: a genre and a
style of the same name). The triggers are made after ``create_all`` of a brand-new index and after every
upgrade (``db._migrate``); migration 0014 fills the bits of an existing index (``fill``), and a later step
that changes labels in bulk must call ``fill`` too, since steps run without the triggers.
``tests/test_label_bits.py`` checks the bits against the labels after every kind of change, on both.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from musictagger.library.dialect_sql import execute_for_dialect
from musictagger.library.schema import FILTER_CATEGORIES, LabelBit

#: Labels that can have a bit: bits 0-62 of a signed 64-bit integer.
CAPACITY = 63

_CATEGORIES = sorted({category for members in FILTER_CATEGORIES.values() for category in members})
_IN_FILTER = "{row}.category IN ({names})".format(row="{row}", names=", ".join(f"'{c}'" for c in _CATEGORIES))


def _filter_category(row: str) -> str:
    """SQL: the filter category of a label row's category (``style`` -> ``genre``)."""
    whens = " ".join(
        f"WHEN '{member}' THEN '{category}'"
        for category, members in FILTER_CATEGORIES.items()
        for member in members
        if member != category
    )
    return f"CASE {row}.category {whens} ELSE {row}.category END"


def _mask(row: str) -> str:
    """SQL: the bit of a label row (0 when it has none)."""
    return (
        f"coalesce((SELECT mask FROM label_bits WHERE category = {_filter_category(row)}"
        f" AND label = {row}.label), 0)"
    )


def _bits_of(track_id: str) -> str:
    """SQL: the OR of the bits of a track's confident labels (distinct powers of two: their sum)."""
    return f"""(SELECT coalesce(sum(DISTINCT b.mask), 0) FROM track_labels AS l
        JOIN label_bits AS b ON b.category = {_filter_category("l")} AND b.label = l.label
        WHERE l.track_id = {track_id} AND l.confident)"""


def _give_bit(row: str) -> str:
    """SQL: a label's bit, given the first time a track has it confidently (the next free bit, none past
    CAPACITY)."""
    return f"""INSERT INTO label_bits (category, label, mask)
        SELECT {_filter_category(row)}, {row}.label,
            CAST(1 AS BIGINT) << CAST((SELECT count(*) FROM label_bits) AS INTEGER)
        WHERE {row}.confident AND {_IN_FILTER.format(row=row)}
            AND (SELECT count(*) FROM label_bits) < {CAPACITY}
        ON CONFLICT (category, label) DO NOTHING"""


_SQLITE = (
    f"""CREATE TRIGGER label_bits_label_added AFTER INSERT ON track_labels
    WHEN NEW.confident AND {_IN_FILTER.format(row="NEW")}
    BEGIN
        {_give_bit("NEW")};
        UPDATE tracks SET label_bits = label_bits | {_mask("NEW")} WHERE id = NEW.track_id;
    END""",
    f"""CREATE TRIGGER label_bits_label_removed AFTER DELETE ON track_labels
    WHEN OLD.confident AND {_IN_FILTER.format(row="OLD")}
    BEGIN
        UPDATE tracks SET label_bits = {_bits_of("OLD.track_id")} WHERE id = OLD.track_id;
    END""",
    f"""CREATE TRIGGER label_bits_label_changed AFTER UPDATE OF track_id, category, label, confident
    ON track_labels
    BEGIN
        {_give_bit("NEW")};
        UPDATE tracks SET label_bits = {_bits_of("tracks.id")} WHERE id IN (OLD.track_id, NEW.track_id);
    END""",
)
_SQLITE_DROP = tuple(
    f"DROP TRIGGER IF EXISTS label_bits_label_{event}" for event in ("added", "removed", "changed")
)

_POSTGRESQL = (
    f"""CREATE FUNCTION label_bits_on_label() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'DELETE' AND NEW.confident AND {_IN_FILTER.format(row="NEW")}
            AND NOT EXISTS (SELECT 1 FROM label_bits
                            WHERE category = {_filter_category("NEW")} AND label = NEW.label) THEN
            -- The first of a label: bits are given one at a time, by count, so writers queue here.
            LOCK TABLE label_bits IN SHARE ROW EXCLUSIVE MODE;
            {_give_bit("NEW")};
        END IF;
        IF TG_OP = 'INSERT' THEN
            IF NEW.confident AND {_IN_FILTER.format(row="NEW")} THEN
                UPDATE tracks SET label_bits = label_bits | {_mask("NEW")} WHERE id = NEW.track_id;
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            IF OLD.confident AND {_IN_FILTER.format(row="OLD")} THEN
                UPDATE tracks SET label_bits = {_bits_of("OLD.track_id")} WHERE id = OLD.track_id;
            END IF;
        ELSE
            UPDATE tracks SET label_bits = {_bits_of("tracks.id")} WHERE id IN (OLD.track_id, NEW.track_id);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER label_bits_label
    AFTER INSERT OR DELETE OR UPDATE OF track_id, category, label, confident ON track_labels
    FOR EACH ROW EXECUTE FUNCTION label_bits_on_label()""",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS label_bits_label ON track_labels",
    "DROP FUNCTION IF EXISTS label_bits_on_label()",
)


def create_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE, postgresql=_POSTGRESQL)


def drop_triggers(connection: Connection) -> None:
    execute_for_dialect(connection, sqlite=_SQLITE_DROP, postgresql=_POSTGRESQL_DROP)


def refresh(connection: Connection) -> None:
    """After a schema upgrade (steps run without the triggers): make the triggers again."""
    drop_triggers(connection)
    if "label_bits" in inspect(connection).get_table_names():  # tests may stop short of 0014
        create_triggers(connection)


def fill(connection: Connection) -> None:
    """Give every confident label a bit (the most common first, up to CAPACITY) and every track its bits,
    from the labels as they are: migration 0014 on an existing index (run without the triggers)."""
    # Plain statements (no rows read back): Alembic's offline mode renders this step as SQL too.
    connection.execute(text("DELETE FROM label_bits"))
    connection.execute(
        text(
            f"""INSERT INTO label_bits (category, label, mask)
            SELECT category, label, CAST(1 AS BIGINT) << CAST(position - 1 AS INTEGER) FROM (
                SELECT {_filter_category("l")} AS category, l.label AS label,
                    row_number() OVER (ORDER BY count(*) DESC, {_filter_category("l")}, l.label) AS position
                FROM track_labels AS l WHERE l.confident AND {_IN_FILTER.format(row="l")}
                GROUP BY {_filter_category("l")}, l.label
            ) AS ranked WHERE position <= {CAPACITY}"""
        )
    )
    if connection.dialect.name == "postgresql":
        # One aggregate over the labels joined to the tracks, not a subquery per track.
        connection.execute(text("UPDATE tracks SET label_bits = 0 WHERE label_bits <> 0"))
        connection.execute(
            text(
                f"""UPDATE tracks SET label_bits = bits.value FROM (
                    SELECT l.track_id, sum(DISTINCT b.mask) AS value FROM track_labels AS l
                    JOIN label_bits AS b ON b.category = {_filter_category("l")} AND b.label = l.label
                    WHERE l.confident GROUP BY l.track_id) AS bits
                WHERE tracks.id = bits.track_id"""
            )
        )
    else:
        connection.execute(text(f"UPDATE tracks SET label_bits = {_bits_of('tracks.id')}"))


def mask_of(session: Session, labels: Iterable[tuple[str, str]]) -> int | None:
    """The bits of these (filter category, label) pairs together; None when one of them has no bit (a
    label past CAPACITY, or one no track has confidently yet)."""
    wanted = set(labels)
    if not wanted:
        return None
    masks = {
        (category, label): mask
        for category, label, mask in session.execute(
            select(LabelBit.category, LabelBit.label, LabelBit.mask).where(
                LabelBit.label.in_({label for _category, label in wanted})
            )
        )
    }
    if not wanted <= masks.keys():
        return None
    combined = 0
    for pair in wanted:
        combined |= masks[pair]
    return combined
