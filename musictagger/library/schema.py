"""The library index's tables (SQLAlchemy 2 declarative models).

Changing a table means adding an Alembic revision in ``library/migrations/versions/`` too: an existing
library must open.
Paths are stored twice: ``path_key`` holds the file system's own bytes (a POSIX name need not be UTF-8 and
must round-trip exactly), ``path`` a readable text form for display, sorting and searching.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


# File sizes and nanosecond mtimes pass 2**31: 64-bit on PostgreSQL (whose INTEGER is 32-bit), INTEGER
# (already 64-bit) on SQLite, so the SQLite schema stays what every release wrote.
BIG_INTEGER = BigInteger().with_variant(Integer(), "sqlite")


# A genre filter also finds a style ("House" is a genre to a DJ, a style of Electronic to the vocabulary):
# the table's filter, the facets and the label bits (library/label_bits.py) group label categories so.
FILTER_CATEGORIES = {"genre": ("genre", "style"), "mood": ("mood",)}

_PRESENT = text("missing_since IS NULL")
_MISSING = text("missing_since IS NOT NULL")


class Meta(Base):
    """Key/value facts about the index itself (the library's folders, the pre-Alembic ``schema_version``)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Track(Base):
    """One audio file the scanner found (or found once: ``missing_since`` marks a vanished file)."""

    __tablename__ = "tracks"
    # What a million-track index needs (migration 0006, docs/scale.md): the present tracks sorted by title,
    # artist or BPM read in index order (ties by path and id, as queries.py orders them) without visiting a
    # row (partial indexes of the present tracks, what the table and `list` show), and the few missing
    # tracks found without a scan (partial too, so "missing_since IS NULL" never picks it over a sort).
    __table_args__ = (
        *(
            Index(
                f"ix_tracks_{name}_order",
                name,
                "path",
                "id",
                "missing_since",  # all NULL: there so SQLite sees the index covers the query
                *extra,
                sqlite_where=_PRESENT,
                postgresql_where=_PRESENT,
            )
            # album: migration 0013. bpm with the label bits (0014): a label + BPM filter reads this alone.
            for name, extra in (("title", ()), ("artist", ()), ("bpm", ("label_bits",)), ("album", ()))
        ),
        # The table's default order (migration 0013): every present track's id by path from the index alone;
        # ix_tracks_path (every track, path only) made SQLite visit each row for missing_since.
        Index(
            "ix_tracks_path_order",
            "path",
            "id",
            "missing_since",
            sqlite_where=_PRESENT,
            postgresql_where=_PRESENT,
        ),
        Index("ix_tracks_missing", "id", sqlite_where=_MISSING, postgresql_where=_MISSING),
        # SQLite: a search scans this narrow index (each track's folded text and id) instead of every wide
        # row (queries.search_condition asks for the ids that match). PostgreSQL's B-tree cannot hold long
        # text; it scans the table.
        Index("ix_tracks_search", "search_text", "id").ddl_if(dialect="sqlite"),
        # A rescan's whole read of the index (scanner._load_index): every column it needs, in path order,
        # so a folder's rows are one index range, no wide row visited (migration 0009).
        Index(
            "ix_tracks_rescan", "path_key", "size", "mtime_ns", "fingerprint", "missing_since", "error", "id"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path_key: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    folder: Mapped[str] = mapped_column(Text, index=True)
    size: Mapped[int] = mapped_column(BIG_INTEGER)
    mtime_ns: Mapped[int] = mapped_column(BIG_INTEGER)
    # Hash of the audio data alone (tags excluded): the same after a tag edit, found again after a move.
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    container: Mapped[str | None] = mapped_column(String(16))
    codec: Mapped[str | None] = mapped_column(String(32))
    # Tags as read from the file ({field: [values]}); title/artist/album copied out for sorting.
    file_tags: Mapped[dict] = mapped_column(JSON, default=dict)
    title: Mapped[str | None] = mapped_column(Text)
    artist: Mapped[str | None] = mapped_column(Text)
    album: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # why the last scan or analysis of this file failed
    # From the energy_valence head: energy on Mixed In Key's 1-10 scale, valence -1 (negative) .. 1.
    energy: Mapped[float | None] = mapped_column(Float, index=True)
    valence: Mapped[float | None] = mapped_column(Float)
    # Tempo and key (musictagger/tempo_key.py, migration 0004): bpm folded into the preferred range; key
    # the canonical name ("A minor", "F# major": keys.py), which sorts and filters one way whatever the
    # notation shown. Each is None with its reason when the audio has none (too short, silent, no steady
    # beat, no pitched content); the confidences are the estimators' (pulse clarity, key strength, 0..1).
    bpm: Mapped[float | None] = mapped_column(Float, index=True)
    bpm_confidence: Mapped[float | None] = mapped_column(Float)
    bpm_reason: Mapped[str | None] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(16), index=True)
    key_confidence: Mapped[float | None] = mapped_column(Float)
    key_reason: Mapped[str | None] = mapped_column(Text)
    # What estimated them (TempoKeyStage.basis) from which audio (the fingerprint then): when either differs
    # from now, the next analysis run estimates them again from a decode alone (library/store.py).
    tempo_key_basis: Mapped[str | None] = mapped_column(String(128))
    tempo_key_fingerprint: Mapped[str | None] = mapped_column(String(64))
    scanned_at: Mapped[datetime] = mapped_column(DateTime)
    missing_since: Mapped[datetime | None] = mapped_column(DateTime)
    # Path, title, artist and album folded for search, kept by database triggers (library/search_text.py,
    # migration 0008); deferred: only a search reads it.
    search_text: Mapped[str | None] = mapped_column(Text, deferred=True)
    # The OR of the bits of the track's confident genres and moods, kept by database triggers
    # (library/label_bits.py, migration 0014); deferred: only the filter reads it, in SQL.
    label_bits: Mapped[int] = mapped_column(
        BIG_INTEGER, default=0, server_default=text("0"), nullable=False, deferred=True
    )

    analyses: Mapped[list[Analysis]] = relationship(back_populates="track", cascade="all, delete-orphan")
    labels: Mapped[list[TrackLabel]] = relationship(back_populates="track", cascade="all, delete-orphan")


class Analysis(Base):
    """What one model heard in one track. Replaced when the file's audio or the model changes."""

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("track_id", "model"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # the audio this analysis was made from
    scores: Mapped[dict] = mapped_column(JSON)  # {raw tag: probability}
    patch_seconds: Mapped[float] = mapped_column(Float)
    taggram: Mapped[bytes] = mapped_column(LargeBinary)  # float16 (n_patches, n_labels), row-major
    n_patches: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 (embedding_dim,)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Library mode (migration 0005): the taggram holds the analysed patches, whose start times (float32
    # seconds, one per row) are in ``patch_starts``; a full analysis has every patch and no patch_starts.
    # ``sampled`` is true for any library-mode answer (some patches, or every patch of a short track by the
    # int8 networks): it never silently replaces a full one (library/store.py).
    sampled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    patch_starts: Mapped[bytes | None] = mapped_column(LargeBinary)

    track: Mapped[Track] = relationship(back_populates="analyses")


class TrackLabel(Base):
    """A canonical label (genre, mood, …) suggested for a track, with its score: what facets count."""

    __tablename__ = "track_labels"
    __table_args__ = (
        UniqueConstraint("track_id", "category", "label"),
        Index("ix_track_labels_category_label", "category", "label"),
        # The facet counts read this index alone, label by label (migration 0006).
        Index("ix_track_labels_facets", "category", "confident", "label", "score", "track_id"),
        # A label's tracks in id order, so the table's filter on several labels intersects sorted index
        # ranges by merging them, with no temporary B-tree of each (migration 0011, docs/scale.md).
        Index("ix_track_labels_by_label", "label", "confident", "track_id", "category"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    # What the facets count and the table shows: a genre or mood at its calibrated write threshold, a style
    # hint at labelling.STYLE_HINT (library/labelling.py decides; rebuilt with the labels).
    confident: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    track: Mapped[Track] = relationship(back_populates="labels")


class LabelFacet(Base):
    """How many present tracks have a label confidently: the app's facets, kept by database triggers as
    labels and tracks change (library/facet_counts.py), so reading them never counts millions of rows."""

    __tablename__ = "label_facets"
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(128), primary_key=True)
    tracks: Mapped[int] = mapped_column(Integer)


class LabelBit(Base):
    """A filterable label's bit in ``tracks.label_bits`` (library/label_bits.py): given by a database
    trigger the first time a track has the label confidently; ``category`` is the filter's (a style is a
    genre there)."""

    __tablename__ = "label_bits"
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(128), primary_key=True)
    mask: Mapped[int] = mapped_column(BigInteger, unique=True)  # a power of two


class FolderDigest(Base):
    """What the last complete scan of a folder saw: its audio files' count and digest
    (library/folder_digests.py); a database trigger deletes the row when a track row in the folder
    changes."""

    __tablename__ = "folder_digests"
    folder_key: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    folder: Mapped[str] = mapped_column(Text, index=True)  # tracks.folder of its files: what triggers match
    files: Mapped[int] = mapped_column(Integer)
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    # The path keys of its files whose rows hold a read error (folder_digests.pack_keys): read again.
    failed: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class WriteBatch(Base):
    """One run of tag writing; every change in it can be undone together."""

    __tablename__ = "write_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    policy: Mapped[dict] = mapped_column(JSON, default=dict)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime)

    entries: Mapped[list[WriteEntry]] = relationship(back_populates="batch", cascade="all, delete-orphan")


class WriteEntry(Base):
    """One file's change in a batch: old and new values of each field it touched.

    Written as ``planned`` *before* the file is touched and set to ``written`` after, so a crash between
    the two is visible: the file then holds either ``old`` or ``new`` (writes are atomic), and reading it
    tells which.
    """

    __tablename__ = "write_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("write_batches.id", ondelete="CASCADE"), index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id", ondelete="SET NULL"), index=True)
    path_key: Mapped[bytes] = mapped_column(LargeBinary)
    path: Mapped[str] = mapped_column(Text)
    old: Mapped[dict] = mapped_column(JSON)  # {field: [values]}; [] = the field was absent
    new: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # planned | written | failed | undone
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    batch: Mapped[WriteBatch] = relationship(back_populates="entries")


class TrackReview(Base):
    """A user's decision on one field's suggestions for one track; plan_writes follows it over the policy.

    ``accepted`` with ``values`` None means "the track's own suggestions", resolved when writes are
    planned (so "accept all" on a selection needs no per-track values); ``accepted`` or ``edited`` with a
    list means exactly those values; ``rejected`` means leave the field as the file has it.
    Added by revision 0002 (library/migrations/versions/0002_track_reviews.py); its copy must match this.
    """

    __tablename__ = "track_reviews"
    __table_args__ = (UniqueConstraint("track_id", "field"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("tracks.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))  # genre | mood
    values: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # accepted | edited | rejected
    updated_at: Mapped[datetime] = mapped_column(DateTime)
