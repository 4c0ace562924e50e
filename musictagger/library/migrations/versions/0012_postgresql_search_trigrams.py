"""PostgreSQL: a trigram index of the folded search text (issue 15; library/search_text.py, docs/scale.md).

Revision ID: 0012_postgresql_search_trigrams
Revises: 0011_label_filter_index
Create Date: 2026-12-04

The search read every track's folded text with ``strpos`` on PostgreSQL (no ``pg_trgm`` in every build:
0.4-0.5 s a search on a million tracks). This step makes ``musictagger_trigrams(text)`` and a GIN index on
``musictagger_trigrams(tracks.search_text)``, which the server fills as it builds it. SQLite: nothing
(its trigram index is migration 0010's FTS5 table).
"""

from __future__ import annotations

from alembic import op

revision = "0012_postgresql_search_trigrams"
down_revision = "0011_label_filter_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from musictagger.library.search_text import create_postgresql_trigram_index

    create_postgresql_trigram_index(op.get_bind())


def downgrade() -> None:
    from musictagger.library.search_text import drop_postgresql_trigram_index

    drop_postgresql_trigram_index(op.get_bind())
