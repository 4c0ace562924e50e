"""Library scan speed: a first scan, a rescan with nothing changed, rescans after touching or moving 1 %.

    .venv/bin/python bench/bench_scan.py [--files 10000] [--workers N] [--dir FOLDER]

Builds a tree of N real audio files (2 s MP3, Ogg Vorbis, Opus and AAC fixtures from tests/data/formats,
~40 KB each) in Artist/Album folders in a temporary folder, each a separate file (a reflink clone where the
file system has them, else a copy; never a hard link, which would share one inode), and a fresh SQLite
index next to it. The MP3 and AAC copies get audio of their own (4 bytes inside their last audio packet
set to the file's number), as in a real library, so that renamed files are recognised as moves; the Ogg
and Opus ones stay identical copies (2,000 of each per 10,000 files: a worst case for move lookups).

Prints one row per scenario (files, seconds, files/s, what the scan counted) and the index's size.
Files are in the page cache after generation: a cold first scan on a spinning disk is slower.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import sqlite3
import struct
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.library import open_library  # noqa: E402
from musictagger.library.scanner import ScanReport, scan  # noqa: E402

FIXTURES = [
    ROOT / "tests" / "data" / "formats" / name
    for name in ("untagged.mp3", "tagged.ogg", "tagged.opus", "tagged_id3v24.mp3", "tagged_aac.m4a")
]
TRACKS_PER_ALBUM = 10
ALBUMS_PER_ARTIST = 5
FICLONE = 0x40049409  # Linux ioctl: share the source's blocks copy-on-write (Btrfs, XFS)


def clone_or_copy(source: Path, target: Path) -> None:
    with open(source, "rb") as src, open(target, "wb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            return
        except OSError:
            pass
        shutil.copyfileobj(src, dst)


def byte_inside_last_packet(path: Path) -> int | None:
    """An offset in the middle of the last audio packet, where FFmpeg reports exact packet positions
    (MP3 frames, MP4 samples; for Ogg it reports the page)."""
    if path.suffix not in (".mp3", ".m4a"):
        return None
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        last = [p for p in container.demux(stream) if p.size][-1]
        return last.pos + last.size // 2


def make_tree(folder: Path, n_files: int) -> tuple[list[Path], list[Path]]:
    """All files, and those with audio of their own."""
    unique_at = {source: byte_inside_last_packet(source) for source in FIXTURES}
    files, unique = [], []
    for i in range(n_files):
        artist, album = divmod(i // TRACKS_PER_ALBUM, ALBUMS_PER_ARTIST)
        track = i % TRACKS_PER_ALBUM
        source = FIXTURES[i % len(FIXTURES)]
        album_dir = folder / f"Artist {artist:04d}" / f"Album {album}"
        album_dir.mkdir(parents=True, exist_ok=True)
        target = album_dir / f"{track + 1:02d} Track {i}{source.suffix}"
        clone_or_copy(source, target)
        files.append(target)
        if unique_at[source] is not None:
            with open(target, "r+b") as fh:
                fh.seek(unique_at[source])
                fh.write(struct.pack("<I", i))
            unique.append(target)
    return files, unique


def timed(library, folder: Path, workers: int | None) -> tuple[ScanReport, float]:
    start = time.perf_counter()
    report = scan(library, [folder], read_workers=workers)
    return report, time.perf_counter() - start


def index_size(path: Path) -> int:
    with sqlite3.connect(path) as db:  # fold the WAL into the file so its size is the whole index
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000, metavar="N", help="files to generate (10000)")
    parser.add_argument("--workers", type=int, default=None, help="reader threads (default: scan's own)")
    parser.add_argument("--dir", type=Path, help="build the tree here (kept) instead of a temporary folder")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_scan_"))
    music = work / "Music"
    try:
        start = time.perf_counter()
        files, unique = make_tree(music, args.files)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"generated {len(files)} files, {size_mb:.0f} MB, in {time.perf_counter() - start:.1f} s")
        db_path = work / "library.sqlite"
        rows = []
        with open_library(db_path) as library:
            rows.append(("first scan", *timed(library, music, args.workers)))
            rows.append(("rescan, nothing changed", *timed(library, music, args.workers)))
            step = 100  # 1 %
            now = time.time()
            for f in files[::step]:
                os.utime(f, (now + 10, now + 10))
            rows.append(("rescan, 1 % touched", *timed(library, music, args.workers)))
            for f in unique[1 :: max(1, len(unique) // (len(files) // step))]:
                f.rename(f.with_name("renamed " + f.name))
            rows.append(("rescan, 1 % renamed", *timed(library, music, args.workers)))
        print(f"\n{'scenario':<26}{'files':>7}{'seconds':>9}{'files/s':>9}   counted")
        for name, report, seconds in rows:
            n = report.added + report.updated + report.unchanged + report.moved + len(report.errors)
            counted = (
                f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
                f"moved {report.moved}, missing {report.missing}, errors {len(report.errors)}"
            )
            print(f"{name:<26}{n:>7}{seconds:>9.2f}{n / seconds:>9.0f}   {counted}")
        print(f"\nindex: {index_size(db_path) / 1e6:.1f} MB ({db_path.name}), {os.cpu_count()} CPUs")
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
