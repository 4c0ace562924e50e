"""Make library_v2.sqlite and library_v1.sqlite: indexes as the releases before Alembic left them.

Run once at commit e51502c (``schema_version`` 2 in the ``meta`` table, no ``alembic_version``), from the
repository root: ``.venv/bin/python tests/data/library/make_legacy_indexes.py``. With later code the
script would make an Alembic-stamped index instead, so the files are committed, not regenerated.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np

from musictagger.library import open_library
from musictagger.library.schema import Analysis, Track, TrackLabel, TrackReview, WriteBatch, WriteEntry

HERE = Path(__file__).parent
WHEN = datetime(2026, 1, 2, 3, 4, 5)


def _analysis(model: str, seed: int) -> Analysis:
    rng = np.random.default_rng(seed)
    taggram = rng.random((4, 5)).astype(np.float16)
    return Analysis(
        model=model,
        model_version="1",
        fingerprint=f"fp{seed}",
        scores={"rock": 0.75, "jazz": 0.125, "chill": 0.5},
        patch_seconds=3.0,
        taggram=taggram.tobytes(),
        n_patches=4,
        embedding=rng.random(8).astype(np.float32).tobytes(),
        created_at=WHEN,
    )


def make_v2(path: Path) -> None:
    path.unlink(missing_ok=True)
    with open_library(path) as library, library.session() as session:
        tracks = [
            Track(
                path_key=b"/music/Rock/01 song.mp3",
                path="/music/Rock/01 song.mp3",
                folder="/music/Rock",
                size=123456,
                mtime_ns=1_700_000_000_123_456_789,
                fingerprint="fp1",
                duration_s=12.5,
                container="mp3",
                codec="mp3",
                file_tags={"title": ["Song"], "artist": ["Band"], "genre": ["Rock"]},
                title="Song",
                artist="Band",
                album="Album",
                scanned_at=WHEN,
            ),
            Track(
                # A POSIX name that is not UTF-8: path_key keeps the bytes, path a readable form.
                path_key=b"/music/Jazz/caf\xe9.flac",
                path="/music/Jazz/caf\\xe9.flac",
                folder="/music/Jazz",
                size=999,
                mtime_ns=1_700_000_001_000_000_000,
                fingerprint="fp2",
                duration_s=30.0,
                container="flac",
                codec="flac",
                file_tags={"title": ["Café"]},
                title="Café",
                scanned_at=WHEN,
            ),
            Track(
                path_key=b"/music/gone.ogg",
                path="/music/gone.ogg",
                folder="/music",
                size=1,
                mtime_ns=1,
                file_tags={},
                error="AudioLoadError: cannot decode",
                scanned_at=WHEN,
                missing_since=WHEN,
            ),
        ]
        tracks[0].analyses = [_analysis("msd_musicnn", 1), _analysis("mtt_musicnn", 2)]
        tracks[1].analyses = [_analysis("msd_musicnn", 3)]
        tracks[0].labels = [
            TrackLabel(category="genre", label="Rock", score=0.75, rank=1),
            TrackLabel(category="mood", label="Chill", score=0.5, rank=1),
        ]
        tracks[1].labels = [TrackLabel(category="genre", label="Jazz", score=0.9, rank=1)]
        session.add_all(tracks)
        session.flush()
        batch = WriteBatch(created_at=WHEN, description="tag --write", policy={"genre": "fill"})
        batch.entries = [
            WriteEntry(
                track_id=tracks[0].id,
                path_key=tracks[0].path_key,
                path=tracks[0].path,
                old={"genre": []},
                new={"genre": ["Rock"]},
                status="written",
                updated_at=WHEN,
            )
        ]
        session.add(batch)
        session.add_all(
            [
                TrackReview(
                    track_id=tracks[0].id, field="genre", values=None, status="accepted", updated_at=WHEN
                ),
                TrackReview(
                    track_id=tracks[1].id, field="mood", values=["Mellow"], status="edited", updated_at=WHEN
                ),
            ]
        )
        session.commit()
    with sqlite3.connect(path) as raw:
        raw.execute("VACUUM")
    raw.close()


def make_v1(source: Path, path: Path) -> None:
    """Release 1 had no track_reviews: the v2 index less that table, stamped 1."""
    path.write_bytes(source.read_bytes())
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("DROP TABLE track_reviews")
        raw.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    raw.execute("VACUUM")
    raw.close()


if __name__ == "__main__":
    make_v2(HERE / "library_v2.sqlite")
    make_v1(HERE / "library_v2.sqlite", HERE / "library_v1.sqlite")
    for name in ("library_v2.sqlite", "library_v1.sqlite"):
        print(name, (HERE / name).stat().st_size, "bytes")
