"""Indexing the folders a user names: new, changed, moved and deleted files, incrementally.

What a scan does with each audio file the walk finds:

* **unchanged** (same size and mtime as indexed, no error): nothing. The index's (path, size, mtime) of
  the scanned folders are loaded once (a range of the path index per folder, not the whole library), so a
  rescan costs one ``stat`` per file and no query, no file opening.
* **new or changed**: tags, codec/duration and the audio fingerprint are read (in worker threads: the
  readers release the GIL) and stored. A changed file keeps its analyses; those made from other audio
  (another fingerprint) are redone by the analysis step, a tag edit leaves them current.
* **moved**: a path the index does not know, whose fingerprint is that of exactly one indexed track whose
  file no longer exists, is that track under its new name: its analyses, labels and journal links stay.
  Several such tracks (the same audio, deleted in two places) make the move ambiguous: the file is added
  as a new track and the old rows stay missing. An existing copy is a separate track.
* **unreadable** (corrupt, truncated, empty, not audio, no permission): a row with ``error`` set, and an
  entry in ``ScanReport.errors``; the scan goes on. Errored files are read again by every scan (they are
  few, and the cause may have been fixed). A file that vanishes mid-scan is reported and gets no row.

Indexed files under the scanned paths that the walk did not find get ``missing_since`` (rows are kept:
analyses are expensive, and a later move finds them); a file that comes back clears it. Files under a
folder that could not be listed (an unmounted drive, no permission) are not marked: we do not know.

Changes are committed in batches, so a killed scan resumes where it stopped: committed files are
unchanged next time. Missing files are only looked for after a complete walk.

Several scans may run at once on one index (two processes, two machines on a PostgreSQL index, folders
that overlap). A file is one row, found by its path: a batch that lost a race (the other scan inserted the
same file first, a deadlock, SQLite's lock) is rolled back and stored again from fresh reads, the file
then updating the row the other scan made (db.is_transient).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from musictagger.audio import probe_audio
from musictagger.errors import AudioLoadError
from musictagger.files import WalkError, iter_audio_folders
from musictagger.library import folder_digests
from musictagger.library.db import TRANSIENT_ATTEMPTS, Library, is_transient, pause_before_retry
from musictagger.library.driver_rows import driver_rows
from musictagger.library.schema import FolderDigest, Track
from musictagger.tags import TagReadError, container_of, read_tags
from musictagger.tags.audio_payload import audio_payload_digest

log = logging.getLogger(__name__)

# A commit every this many changed files or seconds, whichever comes first: what a killed scan redoes.
BATCH_FILES = 200
BATCH_SECONDS = 2.0
# Rows per UPDATE ... WHERE id IN (...): well under every database's limit on bound parameters.
ID_CHUNK = 500
# Files being read ahead of the one being stored; bounds memory and what a cancel waits for.
READ_AHEAD = 16
# Folders whose index rows a scan reads one by one (their digests differ) before it reads every row under
# the roots at once: one read of 100,000 rows (~230 ms) costs about what this many single-folder reads
# (~0.2 ms each) do, on SQLite on a 2-core machine (docs/scale.md).
FOLDERS_READ_ALONE = 1000


@dataclass
class ScanReport:
    """What a scan did. Each file the walk found counts in exactly one of added, updated, unchanged,
    moved or errors; ``errors`` also lists the paths the walk could not enter (and files that vanished
    mid-scan, which get no row). ``missing`` counts tracks first found missing by this scan."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    missing: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, cause)
    elapsed_s: float = 0.0
    stopped: bool = False  # should_stop() ended the scan early; missing files were not looked for


# Called after each file with the report so far and the file's path (the GUI's status line).
ProgressCallback = Callable[[ScanReport, str], None]


def utc_now() -> datetime:
    """Naive UTC: what the index's DateTime columns hold on every database."""
    return datetime.now(UTC).replace(tzinfo=None)


def path_key_of(path: str | os.PathLike) -> bytes:
    """The file system's own bytes for ``path`` (absolute): the index's identity of a file."""
    return os.fsencode(os.path.abspath(os.fspath(path)))


def display_path(path: str | bytes) -> str:
    """A readable text form of a path; bytes that are not UTF-8 are shown as backslash escapes."""
    text = os.fsdecode(path)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def report_path(path: str | bytes) -> str:
    """A path as an error report shows it: display_path on one line, its line breaks, tabs and other control
    characters escaped (a file may be named ``"a\\nb.mp3"``; printed as is, it would break the line)."""
    text = display_path(path)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Known(NamedTuple):
    """One indexed file, as the scan needs it: a row of ``_KNOWN_COLUMNS`` (``missing`` is 0/1 on SQLite, a
    boolean on PostgreSQL: only its truth is used; ``error``: why the last read failed, or None). The
    loaded index holds the driver's
    rows as they are (``_Row``, the same fields by position): a file that needs more than the unchanged
    test is made a ``_Known`` then."""

    id: int
    key: bytes
    size: int
    mtime_ns: int
    missing: bool
    error: str | None


_Row = tuple  # a driver row of _KNOWN_COLUMNS
_ID, _KEY, _SIZE, _MTIME, _MISSING, _ERROR = range(6)


@dataclass(frozen=True)
class _FileFacts:
    """What reading a file found: everything the Track row stores about it."""

    fingerprint: str | None
    duration_s: float | None
    container: str
    codec: str
    file_tags: dict[str, list[str]]


@dataclass(frozen=True)
class _ReadFailure:
    cause: str
    vanished: bool  # the file is gone: no row, only a report entry


@dataclass(frozen=True)
class _Pending:
    path: str
    key: bytes
    size: int
    mtime_ns: int
    known: _Known | None
    result: Future


def is_unchanged(known: _Row | None, size: int, mtime_ns: int) -> bool:
    """Whether a walked file is the indexed one as it was: known, read without error last time, and of the
    same size and mtime. Such a file is not opened again (the rescan's whole cost is this test and a stat)."""
    return known is not None and not known[_ERROR] and known[_SIZE] == size and known[_MTIME] == mtime_ns


def scan(
    library: Library,
    paths: Iterable[str | os.PathLike],
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    read_workers: int | None = None,
) -> ScanReport:
    """Bring the index up to date with the audio files under ``paths`` (see the module docstring).

    ``should_stop()`` is polled between files (the GUI's cancel); what was read so far is committed.
    ``read_workers`` threads read new and changed files (default: up to 4, one per CPU).
    """
    started = time.perf_counter()
    if isinstance(paths, str | bytes | os.PathLike):  # one path, not an iterable of characters
        paths = [paths]
    roots = [os.path.abspath(os.fsdecode(os.fspath(p))) for p in paths]
    workers = read_workers or min(4, os.cpu_count() or 1)
    # No autoflush: the batch's rows reach the database at its commit, where a lost race is retried whole.
    with (
        library.session(autoflush=False) as session,
        ThreadPoolExecutor(workers, thread_name_prefix="scan-read") as pool,
    ):
        run = _Scan(session, pool, on_progress, roots, should_stop)
        try:
            run.walk(roots)
        finally:
            run.abandon_reads()
        if not run.report.stopped:
            run.mark_missing(roots)
            run.store_digests()
        run.writer.commit()
    run.report.elapsed_s = time.perf_counter() - started
    return run.report


class _Scan:
    """The state of one scan: the index as loaded, what the walk has seen, reads in flight.

    The index of the scanned folders is read as little as the walk allows (library/folder_digests.py):
    a folder whose walked files give its stored digest is unchanged as a whole, no row read; a folder that
    does not gets its own rows read (``index_folder``); a new file, a walk error or too many such folders
    read every row under the roots at once (``ensure_index``), as a scan with no digests does from the
    start."""

    def __init__(
        self,
        session: Session,
        pool: ThreadPoolExecutor,
        on_progress: ProgressCallback | None,
        roots: list[str],
        should_stop: Callable[[], bool] | None = None,
    ):
        self.session = session
        self.pool = pool
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.report = ScanReport()
        self.writer = _BatchWriter(session)
        self.roots = roots
        # Stored digests by folder, and the files of those folders that failed last time. Plain bytes and
        # ints: no object per folder survives to lengthen the garbage collector's passes.
        self.digests, self.failed_before = _load_digests(session, roots)
        # The index rows read so far: every one under the roots once ``index_complete``, else those of the
        # folders in ``indexed_folders``.
        self.index: dict[bytes, _Row] = {}
        self.index_complete = False
        self.indexed_folders: set[bytes] = set()
        # Folders found unchanged by digest: how many of their files were taken as unchanged (all but
        # those that failed last time, which are read again as every scan reads a failed file).
        self.matched: dict[bytes, int] = {}
        self.walked: dict[bytes, bytes] = {}  # complete folders walked: their digests
        self.walked_files: dict[bytes, int] = {}  # and their numbers of files
        self.failed: dict[bytes, set[bytes]] = {}  # per folder, the files whose read failed (error rows)
        self.unstorable: set[bytes] = set()  # folders with a file gone mid-scan: no digest stored
        self.stored_in: set[bytes] = set()  # folders where this scan wrote a file's row
        # Move sources by audio: the indexed tracks under the roots, grouped by fingerprint when the first
        # new file needs them (a rescan with nothing new never does: most of its cost would be this), the
        # ones the walk has reached left out when asked; those elsewhere are asked of the index by
        # fingerprint (moved_track). Tracks added by this scan exist, so they never are move sources.
        self.by_fingerprint: dict[str, list[_Known]] | None = None
        self.exists: dict[int, bool] = {}  # file existence of move candidates, checked once per scan
        self.seen_ids: set[int] = set()
        self.seen_keys: set[bytes] = set()
        self.unwalked: list[bytes] = []  # folders the walk could not enter
        self.pending: deque[_Pending] = deque()
        if not self.digests:  # a first scan, or the first since an upgrade: one read of every row
            self.ensure_index()
        else:  # the rows of the files that failed last time, read again in their matched folders
            failed = [key for keys in self.failed_before.values() for key in keys]
            for start in range(0, len(failed), ID_CHUNK):
                statement = select(*_KNOWN_COLUMNS).where(
                    Track.path_key.in_(failed[start : start + ID_CHUNK])
                )
                _read_rows_into(self.index, session, statement)

    def stop_requested(self) -> bool:
        self.report.stopped = self.report.stopped or (
            self.should_stop is not None and bool(self.should_stop())
        )
        return self.report.stopped

    def walk(self, roots: list[str]) -> None:
        for item in iter_audio_folders(roots):
            if self.stop_requested():
                return
            if isinstance(item, WalkError):
                self.report.errors.append((report_path(item.path), item.cause))
                self.unwalked.append(os.fsencode(item.path))
                self.ensure_index()  # what is under an unwalked folder is not missing: a per-row question
                continue
            stats: list[folder_digests.StatTuple] = []
            for path in item.files:
                key = os.fsencode(path)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    self.stat_failed(path, key, _stat_failure(exc))
                else:
                    stats.append((path, key, st.st_size, st.st_mtime_ns))
            self.folder_stated(item.path, stats, complete=item.complete and len(stats) == len(item.files))
        while self.pending:
            if self.stop_requested():
                return
            self.store_oldest()

    def folder_stated(self, folder: str, stats: list[folder_digests.StatTuple], *, complete: bool) -> None:
        """A walked folder's audio files as stat saw them (``complete``: all of them): unchanged as a whole
        by its digest, else file by file."""
        folder_key = os.fsencode(folder)
        if complete:
            digest = self.walked[folder_key] = folder_digests.digest_of(stats)
            self.walked_files[folder_key] = len(stats)
            if not self.index_complete and self.digests.get(folder_key) == digest:
                failed = self.failed_before.get(folder_key, frozenset())
                self.matched[folder_key] = len(stats) - len(failed)
                if not failed and self.on_progress is None:
                    self.seen_keys.update(key for _path, key, _size, _mtime in stats)
                    self.report.unchanged += len(stats)
                    return
                self.files_stated(stats, unchanged_but=failed)
                return
        self.index_folder(folder_key)
        self.files_stated(stats)

    def files_stated(
        self, stats: list[folder_digests.StatTuple], unchanged_but: frozenset[bytes] | None = None
    ) -> None:
        """A folder's files one by one: each compared with its row, or, given ``unchanged_but`` (a folder
        matched by digest), unchanged but those (its failed files, read again)."""
        for path, key, size, mtime_ns in stats:
            if unchanged_but is not None and key not in unchanged_but:
                self.seen_keys.add(key)
                self.report.unchanged += 1
                if self.on_progress is not None:
                    self.on_progress(self.report, path)
                continue
            if self.stop_requested():
                return
            if key not in self.seen_keys:  # else named twice (a folder and a file in it)
                self.stated(path, key, size, mtime_ns)
            # Store in walk order as reads complete; never hold more than READ_AHEAD files.
            while self.pending and (len(self.pending) > READ_AHEAD or self.pending[0].result.done()):
                if self.stop_requested():
                    return
                self.store_oldest()

    def index_folder(self, folder_key: bytes) -> None:
        """The index rows of one folder's files, for its file-by-file comparison; every row under the roots
        once enough folders have needed theirs (one read is then cheaper than many)."""
        if self.index_complete or folder_key in self.indexed_folders:
            return
        if len(self.indexed_folders) >= FOLDERS_READ_ALONE:
            self.ensure_index()
            return
        self.indexed_folders.add(folder_key)
        _read_rows_into(self.index, self.session, _FOLDER_ROWS, {"folder": display_path(folder_key)})

    def ensure_index(self) -> dict[bytes, _Row]:
        """Every index row under the roots (a new file's move test and the missing files' test need them);
        the present rows of the folders matched by digest so far are files the walk has seen."""
        if not self.index_complete:
            self.index = _load_index(self.session, self.roots)
            self.index_complete = True
            if self.matched:
                dirname = os.path.dirname
                for key, row in self.index.items():
                    if not row[_MISSING] and dirname(key) in self.matched:
                        self.seen_ids.add(row[_ID])
        return self.index

    def stat_failed(self, path: str, key: bytes, failure: _ReadFailure) -> None:
        if key in self.seen_keys:
            return
        self.index_folder(os.path.dirname(key))
        known = self.index.get(key)
        if known is not None and not failure.vanished:
            self.seen_ids.add(known[_ID])  # there, but cannot be looked at: not missing
        self.file_failed(path, failure)

    def stated(self, path: str, key: bytes, size: int, mtime_ns: int) -> None:
        """A walked file, as stat saw it: unchanged (nothing to do), or read in the pool."""
        self.seen_keys.add(key)
        row = self.index.get(key)
        if not is_unchanged(row, size, mtime_ns):
            future = self.pool.submit(_read_file, path)
            known = None if row is None else _Known._make(row)
            self.pending.append(_Pending(path, key, size, mtime_ns, known, future))
            return
        self.seen_ids.add(row[_ID])
        self.report.unchanged += 1
        if row[_MISSING]:  # back where it was
            self.writer.clear_missing(row[_ID])
        if self.on_progress is not None:
            self.on_progress(self.report, path)

    def store_oldest(self) -> None:
        item = self.pending.popleft()
        read = item.result.result()
        if isinstance(read, _ReadFailure) and read.vanished:
            self.seen_keys.discard(item.key)
            self.file_failed(item.path, read)
            return
        self.store(item, read)
        self.writer.changed()
        if self.on_progress is not None:
            self.on_progress(self.report, item.path)

    def store(self, item: _Pending, read: _FileFacts | _ReadFailure) -> None:
        report = self.report
        if item.known is not None:
            self.mark_seen(item.known)
            if _fails_as_indexed(item, read):
                self.file_failed(item.path, read)  # the row says so already: nothing to write
                return
            self.apply_store(_Store(item, read, item.known.id))
            if isinstance(read, _ReadFailure):
                self.file_failed(item.path, read)
            else:
                report.updated += 1
            return
        moved = self.moved_track(read.fingerprint) if isinstance(read, _FileFacts) else None
        if moved is not None:
            self.mark_seen(moved)
        self.apply_store(_Store(item, read, moved.id if moved is not None else None))
        if isinstance(read, _ReadFailure):
            self.file_failed(item.path, read)
        elif moved is not None:
            report.moved += 1
        else:
            report.added += 1

    def apply_store(self, change: _Store) -> None:
        self.writer.apply(change)
        # Its row's trigger drops the folder's digest: stored again at the end (a moved file's old folder,
        # which the trigger drops too, no longer gives its stored digest either).
        self.stored_in.add(os.path.dirname(change.item.key))

    def mark_seen(self, known: _Known) -> None:
        self.seen_ids.add(known.id)

    def unseen_with(self, fingerprint: str) -> list[_Known]:
        """The indexed tracks under the roots with this audio that the walk has not reached (yet)."""
        if self.by_fingerprint is None:
            self.by_fingerprint = {}
            by_id = {row[_ID]: row for row in self.ensure_index().values()}
            fingerprints = select(Track.id, Track.fingerprint).where(Track.fingerprint.is_not(None))
            for track_id, track_fingerprint in self.session.execute(fingerprints.where(_under(self.roots))):
                if track_id in by_id:  # loaded with the index, not added by this scan
                    known = _Known._make(by_id[track_id])
                    self.by_fingerprint.setdefault(track_fingerprint, []).append(known)
        return [known for known in self.by_fingerprint.get(fingerprint, ()) if known.id not in self.seen_ids]

    def moved_track(self, fingerprint: str | None) -> _Known | None:
        """The one indexed track with this audio whose file is gone, if there is exactly one: among the
        unwalked ones under the roots, and those outside them (by the fingerprint index)."""
        if fingerprint is None:
            return None
        self.ensure_index()
        elsewhere = [
            known
            for known in map(
                _Known._make,
                self.session.execute(select(*_KNOWN_COLUMNS).where(Track.fingerprint == fingerprint)),
            )
            if known.key not in self.index and known.id not in self.seen_ids
        ]
        candidates = [*self.unseen_with(fingerprint), *elsewhere]
        gone = [known for known in candidates if not self.file_exists(known)]
        if len(gone) > 1:
            log.info("%d missing tracks have this audio: not taken as a move (ambiguous)", len(gone))
        return gone[0] if len(gone) == 1 else None

    def file_exists(self, known: _Known) -> bool:
        if known.id not in self.exists:
            self.exists[known.id] = os.path.exists(known.key)
        return self.exists[known.id]

    def file_failed(self, path: str, failure: _ReadFailure) -> None:
        self.report.errors.append((report_path(path), failure.cause))
        key = os.fsencode(path)
        if failure.vanished:  # no row for a walked file: the folder is not as walked
            self.unstorable.add(os.path.dirname(key))
        else:  # an error row, as the digest will say
            self.failed.setdefault(os.path.dirname(key), set()).add(key)

    def abandon_reads(self) -> None:
        """After a stop (or a failure): reads not yet started are dropped, not stored."""
        for item in self.pending:
            item.result.cancel()
        self.pending.clear()

    def mark_missing(self, roots: list[str]) -> None:
        """Indexed files under the roots that the walk did not find, except under unwalked folders."""
        if not self.index_complete:
            # Each present track the walk found is one of: a file of a folder matched by digest (all of
            # its present rows, by the digest's invariant), or a row read with its folder and seen. When
            # they add up to every present track under the roots, none is missing and no row is read.
            found = sum(self.matched.values()) + sum(
                1 for row in self.index.values() if not row[_MISSING] and row[_ID] in self.seen_ids
            )
            if found == _count_present(self.session, roots):
                return
        root_keys = [os.fsencode(r) for r in roots]
        gone = [
            row[_ID]
            for key, row in self.ensure_index().items()
            if row[_ID] not in self.seen_ids
            and not row[_MISSING]
            and _is_under(key, root_keys)
            and not _is_under(key, self.unwalked)
        ]
        self.writer.set_missing(gone)
        self.report.missing = len(gone)

    def store_digests(self) -> None:
        """After a complete walk: the digests of the walked folders whose every file is now indexed as
        walked (the failed ones as error rows), where they differ from the stored ones."""
        rows = tuple(
            (
                folder_key,
                display_path(folder_key),
                self.walked_files[folder_key],
                digest,
                self.failed.get(folder_key, ()),
            )
            for folder_key, digest in self.walked.items()
            if folder_key not in self.unstorable
            and (
                folder_key in self.stored_in
                or self.digests.get(folder_key) != digest
                or self.failed_before.get(folder_key, frozenset()) != self.failed.get(folder_key, frozenset())
            )
        )
        if rows:
            self.writer.apply(_StoreDigests(rows))


def prune_missing(library: Library, older_than: timedelta | None = None) -> int:
    """Delete the tracks whose files are missing (for longer than ``older_than``), with their analyses
    and labels; journal entries keep their paths. Returns how many were deleted."""
    condition = Track.missing_since.is_not(None)
    if older_than is not None:
        condition &= Track.missing_since < utc_now() - older_than
    with library.session() as session, session.begin():
        # Bulk delete: the database's ON DELETE rules remove analyses and labels.
        return session.execute(delete(Track).where(condition)).rowcount


# --------------------------------------------------------------------------------------------------
# Reading one file (worker threads: no database access here)
# --------------------------------------------------------------------------------------------------


def _read_file(path: str) -> _FileFacts | _ReadFailure:
    try:
        return _read_facts(path)
    except _Unreadable as exc:
        cause = exc.cause
    except Exception as exc:  # a parser bug must cost one file, not the scan
        log.warning("%s: unexpected failure while scanning", path, exc_info=True)
        cause = f"{type(exc).__name__}: {exc}"
    if not os.path.lexists(path):
        return _ReadFailure("vanished during the scan", vanished=True)
    return _ReadFailure(cause, vanished=False)


class _Unreadable(Exception):
    def __init__(self, cause: str):
        super().__init__(cause)
        self.cause = cause


def _read_facts(path: str) -> _FileFacts:
    try:
        info = probe_audio(path)
    except AudioLoadError as exc:
        raise _Unreadable(exc.cause) from exc
    try:
        container_of(path)
    except TagReadError:
        tags: dict[str, list[str]] = {}  # audio we decode but cannot tag (WavPack, APE, ...): no tags
    else:
        try:
            tags = read_tags(path)
        except TagReadError as exc:  # taggable container, damaged tag: writing would fail too
            raise _Unreadable(f"cannot read tags: {exc.cause}") from exc
    try:
        fingerprint = audio_payload_digest(path)
    except OSError as exc:  # gone or unreadable since the probe
        raise _Unreadable(exc.strerror or str(exc)) from exc
    except Exception as exc:
        # Decodable (libsndfile) but not demuxable by FFmpeg: still indexed and analysed; only a move of
        # this file cannot be recognised.
        log.info("%s: no audio fingerprint (%s)", path, exc)
        fingerprint = None
    return _FileFacts(
        fingerprint=fingerprint,
        duration_s=info.duration_s,
        container=info.container,
        codec=info.codec,
        file_tags=tags,
    )


def _fails_as_indexed(item: _Pending, read: _FileFacts | _ReadFailure) -> bool:
    """Whether a file read again (every scan reads a failed file again) failed as its row says, the same
    file (size, mtime) for the same cause, where the row is present: a broken file left as it was."""
    known = item.known
    return (
        known is not None
        and isinstance(read, _ReadFailure)
        and read.cause == known.error
        and not known.missing
        and (item.size, item.mtime_ns) == (known.size, known.mtime_ns)
    )


def _stat_failure(exc: OSError) -> _ReadFailure:
    if isinstance(exc, FileNotFoundError):
        return _ReadFailure("vanished during the scan", vanished=True)
    return _ReadFailure(exc.strerror or str(exc), vanished=False)


# --------------------------------------------------------------------------------------------------
# Storing (main thread)
# --------------------------------------------------------------------------------------------------


_KNOWN_COLUMNS = (
    Track.id,
    Track.path_key,
    Track.size,
    Track.mtime_ns,
    Track.missing_since.is_not(None),
    Track.error,  # in ix_tracks_rescan too; NULL but for the few files that failed
)


# One folder's rows (ix_tracks_folder), made once: a scan may read a few hundred folders alone.
_FOLDER_ROWS = select(*_KNOWN_COLUMNS).where(Track.folder == bindparam("folder"))


def _load_index(session: Session, roots: Iterable[str] | None = None) -> dict[bytes, _Row]:
    """The indexed files under ``roots`` (every one with None): a range of ``ix_tracks_rescan`` per root,
    so rescanning one folder of a million-track library reads that folder's index entries only.

    A rescan of 100,000 unchanged files is mostly this read (docs/scale.md), hence its form: the driver's
    own rows, kept as they are (SQLAlchemy's row objects, then a ``_Known`` made of each, were 80 % of
    it); one statement per range (SQLite answers an OR of ranges by collecting row ids and visiting the
    table); no fingerprint (only a new file needs them: ``_Scan.unseen_with``)."""
    if roots is None:
        statements = [select(*_KNOWN_COLUMNS)]
    else:
        statements = [
            select(*_KNOWN_COLUMNS).where(condition)
            for root in roots
            for condition in _at_or_under(os.fsencode(root))
        ]
    index: dict[bytes, _Row] = {}
    for statement in statements:
        _read_rows_into(index, session, statement)
    return index


def _read_rows_into(
    index: dict[bytes, _Row], session: Session, statement, parameters: dict | None = None
) -> None:
    """Add the driver's rows of a ``_KNOWN_COLUMNS`` statement to ``index``, by path key."""
    for rows in driver_rows(session, statement, parameters):
        index.update(zip([row[_KEY] for row in rows], rows, strict=True))


def _at_or_under(root: bytes, column=Track.path_key) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """``column`` (a path key) is ``root``; it is inside it: byte strings from ``root/`` up to (not
    including) ``root0`` (the byte after the separator). Both are ranges of the index (memcmp order)."""
    sep = os.fsencode(os.sep)
    prefix = root if root.endswith(sep) else root + sep
    upper = prefix[:-1] + bytes([prefix[-1] + 1])
    return column == root, and_(column >= prefix, column < upper)


def _load_digests(
    session: Session, roots: Iterable[str]
) -> tuple[dict[bytes, bytes], dict[bytes, frozenset[bytes]]]:
    """The stored digests of the folders at or under ``roots`` (library/folder_digests.py), and the keys
    of the files that failed in those folders that had some. A digest covers its number of files too
    (marshal writes the list's length), so the stored count is not read."""
    digests: dict[bytes, bytes] = {}
    failed: dict[bytes, frozenset[bytes]] = {}
    columns = (FolderDigest.folder_key, FolderDigest.digest, FolderDigest.failed)
    for root in roots:
        for condition in _at_or_under(os.fsencode(root), FolderDigest.folder_key):
            for rows in driver_rows(session, select(*columns).where(condition)):
                for folder_key, digest, keys in rows:
                    digests[bytes(folder_key)] = bytes(digest)
                    if keys:
                        failed[bytes(folder_key)] = frozenset(folder_digests.unpack_keys(bytes(keys)))
    return digests, failed


def _count_present(session: Session, roots: Iterable[str]) -> int:
    """How many present tracks the index has at or under ``roots`` (ranges of ``ix_tracks_rescan``)."""
    return sum(
        session.scalar(select(func.count()).where(condition, Track.missing_since.is_(None))) or 0
        for root in roots
        for condition in _at_or_under(os.fsencode(root))
    )


def _under(roots: Iterable[str]) -> ColumnElement[bool]:
    """``path_key`` is one of ``roots`` or inside one."""
    return or_(*(condition for root in roots for condition in _at_or_under(os.fsencode(root))))


def _fill(track: Track, item: _Pending, read: _FileFacts | _ReadFailure) -> None:
    track.path_key = item.key
    track.path = display_path(item.key)
    track.folder = display_path(os.path.dirname(item.key))
    track.size = item.size
    track.mtime_ns = item.mtime_ns
    track.scanned_at = utc_now()
    track.missing_since = None
    if isinstance(read, _ReadFailure):
        # What the row said about the audio no longer holds; analyses stay (stale by fingerprint).
        track.error = read.cause
        track.fingerprint = track.duration_s = track.container = track.codec = None
        if track.file_tags is None:
            track.file_tags = {}
        return
    tags = read.file_tags
    track.error = None
    track.fingerprint = read.fingerprint
    track.duration_s = read.duration_s
    track.container = read.container
    track.codec = read.codec
    track.file_tags = tags
    track.title = _joined(tags.get("title"))
    track.artist = _joined(tags.get("artist"))
    track.album = _joined(tags.get("album"))


def _joined(values: list[str] | None) -> str | None:
    return "; ".join(values) if values else None


def _is_under(key: bytes, prefixes: Iterable[bytes]) -> bool:
    sep = os.fsencode(os.sep)
    return any(key == p or key.startswith(p if p.endswith(sep) else p + sep) for p in prefixes)


@dataclass(frozen=True)
class _Store:
    """One file's row as the scan found it, applied to whatever the index holds now, so that it can be
    applied again after a rollback: the row with this path (another scan may have made it since), else
    the track it was (``track_id``: the indexed file, or the one it was moved from), else a new row."""

    item: _Pending
    read: _FileFacts | _ReadFailure
    track_id: int | None

    def __call__(self, session: Session) -> None:
        track = session.scalar(select(Track).where(Track.path_key == self.item.key))
        if track is None and self.track_id is not None:
            track = session.get(Track, self.track_id)
        if track is None:
            track = Track(path_key=self.item.key)
            session.add(track)
        _fill(track, self.item, self.read)


@dataclass(frozen=True)
class _StoreDigests:
    """Folder digests as the scan found them (folder key, folder, files, digest, failed files' keys),
    replacing any stored."""

    rows: tuple[tuple[bytes, str, int, bytes, Iterable[bytes]], ...]

    def __call__(self, session: Session) -> None:
        # The batch's track rows first: their triggers delete the digests of their folders.
        session.flush()
        for start in range(0, len(self.rows), ID_CHUNK):
            chunk = self.rows[start : start + ID_CHUNK]
            session.execute(
                delete(FolderDigest).where(FolderDigest.folder_key.in_([row[0] for row in chunk]))
            )
            session.execute(
                insert(FolderDigest),
                [
                    {
                        "folder_key": k,
                        "folder": f,
                        "files": n,
                        "digest": d,
                        "failed": folder_digests.pack_keys(x),
                    }
                    for k, f, n, d, x in chunk
                ],
            )


@dataclass(frozen=True)
class _SetMissing:
    track_ids: tuple[int, ...]
    since: datetime | None  # None: found again

    def __call__(self, session: Session) -> None:
        for start in range(0, len(self.track_ids), ID_CHUNK):
            chunk = self.track_ids[start : start + ID_CHUNK]
            session.execute(update(Track).where(Track.id.in_(chunk)).values(missing_since=self.since))


class _BatchWriter:
    """Commits the scan's session every BATCH_FILES changes or BATCH_SECONDS, and batches the bulk
    updates of ``missing_since``. Keeps the batch's changes until its commit: a batch that lost a race
    with another writer (db.is_transient) is rolled back and applied again, from fresh reads."""

    def __init__(self, session: Session):
        self.session = session
        self.changes = 0
        self.last_commit = time.monotonic()
        self.returned: list[int] = []
        self.batch: list[_Store | _SetMissing] = []

    def apply(self, change: _Store | _SetMissing) -> None:
        self.batch.append(change)
        try:
            change(self.session)
        except DBAPIError as exc:
            self._again(exc, commit=False)

    def changed(self) -> None:
        self.changes += 1
        if self.changes >= BATCH_FILES or time.monotonic() - self.last_commit >= BATCH_SECONDS:
            self.commit()

    def clear_missing(self, track_id: int) -> None:
        self.returned.append(track_id)
        self.changed()

    def set_missing(self, track_ids: list[int]) -> None:
        self.apply(_SetMissing(tuple(track_ids), utc_now()))

    def commit(self) -> None:
        if self.returned:
            self.apply(_SetMissing(tuple(self.returned), None))
            self.returned.clear()
        try:
            self.session.commit()
        except DBAPIError as exc:
            self._again(exc, commit=True)
        self.batch.clear()
        # Rows already written need not stay in memory: a first scan of 20,000 files stays small.
        self.session.expunge_all()
        self.changes = 0
        self.last_commit = time.monotonic()

    def _again(self, exc: DBAPIError, *, commit: bool) -> None:
        """Roll the batch back and apply it again (and commit, if that is what failed) while the failure is
        a lost race; any other failure, or the last attempt's, propagates (the batch rolled back)."""
        for attempt in range(1, TRANSIENT_ATTEMPTS):
            self.session.rollback()
            if not is_transient(exc):
                raise exc
            log.info("scan: batch lost a race with another writer (attempt %d); storing it again", attempt)
            pause_before_retry(attempt)
            self.session.expunge_all()
            try:
                for change in self.batch:
                    change(self.session)
                if commit:
                    self.session.commit()
                return
            except DBAPIError as again:
                exc = again
        self.session.rollback()
        raise exc
