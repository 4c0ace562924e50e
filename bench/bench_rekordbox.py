"""Rekordbox XML export (and the same collection as Traktor NML): how long an export takes, and whether it
reads back field for field.

    .venv/bin/python bench/bench_rekordbox.py [--tracks 10000] [--library PATH|URL]

Builds a fresh SQLite index of N synthetic track rows (paths with spaces, accents, '#' and parentheses,
title / artist / album, duration, energy, BPM, key, a Mixed In Key comment on two in three, one confident
genre and two confident moods each; no audio files: the export reads the index only) and times
``export_collection`` (the list filters: every track) and ``export_collection_tracks`` (the same tracks by
id, as the app's selection), then reading the file back, and the same tracks by id as Traktor NML
(``software="traktor"``) and as Serato crates (``software="serato"``): timed, not read back
(tests/test_traktor_nml.py and test_serato_crates.py check their fields). With
``--library`` it also exports a real index (for instance ``./run.sh scan ../shared/audio/music --db
music.sqlite`` first) and checks that every Location names an existing file.

Each export is read back and compared with the document that was written, every field of every track
and every playlist; the last line says ``round trip: ok`` or names the first difference (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.library import Track, TrackLabel, open_library  # noqa: E402
from musictagger.library.rekordbox import write_rekordbox_xml  # noqa: E402
from musictagger.library.rekordbox_reader import read_rekordbox_xml  # noqa: E402
from musictagger.library.scanner import utc_now  # noqa: E402
from musictagger.services.export import export_collection_tracks, rekordbox_document  # noqa: E402
from musictagger.services.search import TrackQuery, find  # noqa: E402
from musictagger.settings import Settings  # noqa: E402

GENRES = ("Electronic", "Rock", "Pop", "Jazz", "Hip-Hop", "R&B")
MOODS = ("Chill", "Dark", "Happy", "Party", "Melancholic")
KEYS = ("A minor", "F# major", "Eb minor", "C major", "Bb minor", "Db major")


def fill(library, n: int) -> None:
    now = utc_now()
    with library.session() as session:
        for i in range(n):
            path = f"/Music/Artist {i % 400}/Album {i % 60}/{i:06d} Tïtle #{i} (Original Mix).mp3"
            track = Track(
                path_key=os.fsencode(path), path=path, folder=os.path.dirname(path), size=8_000_000 + i,
                mtime_ns=1, title=f"Title {i}", artist=f"Artist {i % 400}", album=f"Album {i % 60}",
                duration_s=240.0 + i % 180, energy=1 + i % 10, bpm=90 + (i * 7) % 80 + 0.25,
                key=KEYS[i % len(KEYS)], scanned_at=now,
                file_tags={"comment": ["8A - Energy 6"]} if i % 3 else {},
            )  # fmt: skip
            track.labels = [
                TrackLabel(category="genre", label=GENRES[i % 6], score=0.9, rank=1, confident=True),
                TrackLabel(category="mood", label=MOODS[i % 5], score=0.8, rank=1, confident=True),
                TrackLabel(category="mood", label=MOODS[(i + 2) % 5], score=0.5, rank=2, confident=True),
            ]
            session.add(track)
        session.commit()


def export_and_check(library, out: Path, settings: Settings, files_exist: bool) -> str | None:
    """Export every present track, read it back; None when every field matches, else the difference."""
    vocabulary = settings.load_vocabulary()
    with library.session() as session:
        start = time.perf_counter()
        tracks = find(session, vocabulary, TrackQuery(min_score=settings.display.threshold))
        document = rekordbox_document(session, tracks, vocabulary, settings)
        write_rekordbox_xml(document, out)
        exported = time.perf_counter()
        back = read_rekordbox_xml(out)
        read = time.perf_counter()
        ids = [t.id for t in tracks]
    export_collection_tracks(library, vocabulary, settings, out, ids)
    by_ids = time.perf_counter()
    nml = export_collection_tracks(
        library, vocabulary, settings, out.with_suffix(".nml"), ids, software="traktor"
    )
    traktor = time.perf_counter()
    crates = export_collection_tracks(
        library, vocabulary, settings, out.parent / f"{out.stem}-serato", ids, software="serato"
    )
    serato = time.perf_counter()
    print(
        f"{len(document.tracks):>7} tracks {len(document.playlists):>4} playlists  "
        f"export {exported - start:6.2f} s  by ids {by_ids - read:6.2f} s  "
        f"read back {read - exported:5.2f} s  {out.stat().st_size / 1e6:6.1f} MB  "
        f"Traktor NML by ids {traktor - by_ids:6.2f} s  {nml.path.stat().st_size / 1e6:6.1f} MB  "
        f"Serato crates by ids {serato - traktor:6.2f} s ({len(list(crates.path.iterdir()))} files, "
        f"{len(crates.notes)} left out)"
    )
    for written, got in zip(document.tracks, back.tracks, strict=False):
        if written != got:
            return f"track {written.track_id}: wrote {written}, read {got}"
        if files_exist and not os.path.exists(got.path):
            return f"track {got.track_id}: {got.location} names no file ({got.path})"
    if len(document.tracks) != len(back.tracks) or document.playlists != back.playlists:
        return "the collection's size or the playlists differ"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=10_000, help="synthetic index rows (default 10000)")
    parser.add_argument("--library", metavar="PATH|URL", help="also export this library index")
    args = parser.parse_args(argv)
    settings = Settings()
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        with open_library(Path(tmp) / "synthetic.sqlite") as library:
            fill(library, args.tracks)
            problems.append(export_and_check(library, Path(tmp) / "synthetic.xml", settings, False))
        if args.library:
            with open_library(args.library) as library:
                problems.append(export_and_check(library, Path(tmp) / "library.xml", settings, True))
    problem = next((p for p in problems if p), None)
    print(f"round trip: {problem}" if problem else "round trip: ok")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
