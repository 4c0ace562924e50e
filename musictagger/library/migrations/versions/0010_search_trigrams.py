"""SQLite: a trigram index of the folded search text (issue 15; library/search_text.py, docs/scale.md).

Revision ID: 0010_search_trigrams
Revises: 0009_rescan_index
Create Date: 2026-12-04

``tracks_search_trigrams``, an FTS5 table with the trigram tokenizer over ``tracks.search_text``, so a
search for three characters or more reads the index, not every track's text. This step makes the empty
table; ``db._migrate`` fills it and makes its triggers after the upgrade (``search_text.refresh``: about
a minute on a million tracks, once). PostgreSQL: nothing (its build here has no ``pg_trgm``). A SQLite
without FTS5 skips it (the search keeps its scan there).
"""

from __future__ import annotations

from alembic import op

revision = "0010_search_trigrams"
down_revision = "0009_rescan_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from musictagger.library.search_text import create_trigram_index

    create_trigram_index(op.get_bind())


def downgrade() -> None:
    from musictagger.library.search_text import TRIGRAM_TABLE, create_triggers, drop_triggers

    if op.get_bind().dialect.name != "sqlite":
        return
    drop_triggers(op.get_bind())
    op.execute(f"DROP TABLE IF EXISTS {TRIGRAM_TABLE}")
    create_triggers(op.get_bind())  # the search text's own triggers stay (0008)
