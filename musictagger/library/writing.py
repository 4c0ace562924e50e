"""Writing genre, mood, energy, BPM and key from the index into files, journaled so every batch can be undone.

    plans = plan_writes(session, tracks, WritePolicy(genre="merge"), vocabulary)
    print(format_diff(plans))                       # the dry run: nothing written
    report = apply_writes(library, plans, policy)   # one WriteBatch
    undo_batch(library, report.batch_id)            # every file back to its old values

The journal (WriteBatch / WriteEntry) is write-ahead: an entry is committed as ``planned`` before its file
is touched and set to ``written`` after. tags.write_tags replaces a file atomically, so after a crash a
``planned`` entry's file holds exactly its old or exactly its new values, and recover_journal reads it to
tell which. Journal commits are made durable (SQLite ``synchronous=FULL`` for the journal's connection):
an entry lost to a power cut after its file was written would make that write impossible to undo.

Everything undo needs is in the journal (path bytes, old and new values, the policy's ID3v2.3
separator and ID3v1 option), so it works after a restart. Undo writes old values back only where the file
still holds the new ones: a file the user changed since is reported as a conflict and left alone unless
``force``. A written entry's ``old`` is TagChange.undo_changes(): the old values, plus, under
tags.safe_write.RESTORE_KEY, the restore record of a write that did more than set fields (it gave an MP3
with only an ID3v1 tag an ID3v2 tag, or changed its v1 tag). Field values cannot say "there was no ID3v2
tag" nor hold the v1 bytes, so without the record such an undo could only give back the fields, never the
original file; with it, the file's bytes are the original's again.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from musictagger.keys import try_parse_key
from musictagger.library.db import Library, LibraryError
from musictagger.library.id_chunks import id_chunks
from musictagger.library.policy import (
    LABEL_FIELDS,
    WritePolicy,
    comment_with_block,
    resolve_field,
    unique_values,
)
from musictagger.library.recordings import tags_from_copies
from musictagger.library.schema import Track, TrackLabel, WriteBatch, WriteEntry
from musictagger.tags import TagReadError, TagWriteError, find_stale_temp_files, read_tags, write_tags
from musictagger.tags.safe_write import field_changes
from musictagger.taxonomy import Vocabulary

INTERRUPTED = "interrupted before writing"


class UndoError(LibraryError):
    """There is no such batch, or nothing left to undo."""


#: The note of a field a write leaves alone for want of evidence: "no confident mood".
NO_CONFIDENT = "no confident "


@dataclass(frozen=True)
class PlannedWrite:
    """One file's change: the fields that change, with the file's current and the new values.

    `path` is the file system path (os.fsdecode of the track's path bytes). A file that could not be read
    has `error` set and no fields.
    """

    track_id: int
    path: str
    old: dict[str, list[str]]
    new: dict[str, list[str]]
    error: str | None = None
    # What the write leaves alone for want of evidence, said rather than guessed: "no confident mood".
    notes: tuple[str, ...] = ()
    # A field whose new values are another file's, the same recording's (WritePolicy.from_copies): that
    # file's path, so the dry run says where the values came from.
    copied_from: dict[str, str] = field(default_factory=dict)


@dataclass
class BatchReport:
    """What apply_writes or undo_batch did. `failed` lists every file left as it was, with the cause
    (conflicts included); `conflicts` the paths among them that someone else changed meanwhile."""

    batch_id: int | None
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    conflicts: list[str] = field(default_factory=list)
    # What recover_journal settled first: entries an earlier, interrupted run had left behind.
    recovered: list[RecoveredEntry] = field(default_factory=list)


@dataclass(frozen=True)
class RecoveredEntry:
    """A journal entry a crash left ``planned``, and what its file showed: `status` is the entry's status
    now (``written``, ``failed``, or still ``planned`` when the file holds neither old nor new values)."""

    entry_id: int
    batch_id: int
    path: str
    status: str
    detail: str


@dataclass(frozen=True)
class BatchSummary:
    """One line of ``undo --list``."""

    id: int
    created_at: datetime
    description: str
    files: int  # files written by the batch (including those undone since)
    failed: int
    undone_at: datetime | None

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


# --- planning ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldOverride:
    """A user's decision on one field of one track, taking precedence over the policy's mode for it.

    ``replace`` writes `values` (None: the track's own suggestions, under the policy's threshold and cap)
    instead of the file's; ``skip`` leaves the field alone and keeps it out of the comment block. A field
    the policy skips stays untouched either way ("which fields to write" wins), but the comment block
    still shows the reviewed values.
    """

    mode: str
    values: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("replace", "skip"):
            raise ValueError(f"an override's mode is replace or skip, not {self.mode!r}")


def plan_writes(
    session: Session,
    tracks: Iterable[Track | int],
    policy: WritePolicy,
    vocabulary: Vocabulary,
    overrides: Mapping[int, Mapping[str, FieldOverride]] | None = None,
) -> list[PlannedWrite]:
    """The changes `policy` makes to each track's file, from its labels and the file's current tags.

    The current values are read from the file, not from the index, which may be stale. Tracks without any
    genre or mood label (not analysed) and tracks whose file would not change are left out; an unreadable
    file gives a PlannedWrite with `error`. `overrides` ({track id: {field: FieldOverride}}, e.g. from
    review.py) replaces the policy's mode and the suggestions per track and field; a track with override
    values is planned even without labels.
    """
    if (
        not policy.comment_block
        and policy.energy == policy.bpm == policy.key == "skip"
        and all(policy.mode(name) == "skip" for name in LABEL_FIELDS)
    ):
        return []
    overrides = overrides or {}
    rows = [session.get(Track, t) if isinstance(t, int) else t for t in tracks]
    rows = [t for t in rows if t is not None]
    labels = _labels_by_track(session, [t.id for t in rows], policy.min_score, vocabulary)
    plans = []
    planned = []
    for track in rows:
        override = overrides.get(track.id, {})
        has_tempo_key = track.bpm is not None or track.key is not None
        if track.id not in labels and not has_tempo_key and not any(o.values for o in override.values()):
            continue
        suggestions = {
            name: unique_values(
                [
                    vocabulary.canonical_name(label) or label
                    for label in labels.get(track.id, {}).get(name, [])
                ],
                vocabulary,
            )[: policy.cap(name)]
            for name in LABEL_FIELDS
        }
        modes = {name: policy.mode(name) for name in LABEL_FIELDS}
        for name, choice in override.items():
            if choice.mode == "skip":
                suggestions[name] = []
                modes[name] = "skip"
                continue
            if choice.values is not None:
                suggestions[name] = unique_values(list(choice.values), vocabulary)
            if modes[name] != "skip":
                modes[name] = "replace"
        planned.append((track, suggestions, modes))
    copies = _copies_to_fill(session, planned) if policy.from_copies else {}
    for track, suggestions, modes in planned:
        plan = _plan_track(track, suggestions, modes, policy, vocabulary, copies.get(track.id, {}))
        if plan is not None:
            plans.append(plan)
    return plans


def _copies_to_fill(
    session: Session, planned: Sequence[tuple[Track, dict[str, list[str]], dict[str, str]]]
) -> dict[int, dict[str, tuple[list[str], str]]]:
    """For the planned tracks with a field to write, no confident label for it and nothing in it when
    last scanned: what the same recording's other files hold there (recordings.tags_from_copies). The
    file's own tags are checked again when its write is planned."""
    wanting = [
        track.id
        for track, suggestions, modes in planned
        if any(
            modes[name] != "skip" and not suggestions[name] and not (track.file_tags or {}).get(name)
            for name in LABEL_FIELDS
        )
    ]
    return tags_from_copies(session, wanting, LABEL_FIELDS)


def _labels_by_track(
    session: Session, track_ids: Sequence[int], min_score: float | None, vocabulary: Vocabulary
) -> dict[int, dict[str, list[str]]]:
    """{track id: {category: [label, best first]}} for tracks with any genre/mood label at all, keeping
    the labels a write takes (``Vocabulary.passes``: each at its calibrated threshold, or ``min_score``).

    Tracks whose labels are all below the threshold are in it with empty lists: they were analysed, so a
    comment block of theirs is brought up to date (emptied) rather than left stale.
    """
    found: dict[int, dict[str, list[str]]] = {}
    for chunk in id_chunks(track_ids):
        query = (
            select(TrackLabel.track_id, TrackLabel.category, TrackLabel.label, TrackLabel.score)
            .where(TrackLabel.track_id.in_(chunk), TrackLabel.category.in_(LABEL_FIELDS))
            .order_by(TrackLabel.track_id, TrackLabel.score.desc(), TrackLabel.rank, TrackLabel.label)
        )
        for track_id, category, label, score in session.execute(query):
            per_track = found.setdefault(track_id, {})
            if vocabulary.passes(label, score, min_score):
                per_track.setdefault(category, []).append(label)
    return found


def _plan_track(
    track: Track,
    suggestions: dict[str, list[str]],
    modes: Mapping[str, str],
    policy: WritePolicy,
    vocabulary: Vocabulary,
    copies: Mapping[str, tuple[list[str], str]],
) -> PlannedWrite | None:
    path = os.fsdecode(track.path_key)
    try:
        tags = read_tags(path, id3v23_separator=policy.id3v23_separator)
    except TagReadError as exc:
        return PlannedWrite(track.id, path, {}, {}, error=f"cannot read its tags: {exc.cause}")
    # An empty field no confident label fills takes the values of the same recording's other files.
    copied_from = {
        name: copies[name][1]
        for name in LABEL_FIELDS
        if name in copies and modes[name] != "skip" and not suggestions[name] and not tags.get(name)
    }
    suggestions = {**suggestions, **{name: list(copies[name][0]) for name in copied_from}}
    wanted = {
        name: resolve_field(modes[name], tags.get(name, []), suggestions[name], vocabulary)
        for name in LABEL_FIELDS
    }
    # Energy as Mixed In Key writes it: a whole number 1-10.
    energy = [str(round(track.energy))] if track.energy is not None else []
    if energy and policy.energy != "skip":
        wanted["energy"] = resolve_field(policy.energy, tags.get("energy", []), energy, vocabulary)
    wanted.update(_tempo_key_values(track, tags, policy, vocabulary))
    notes = tuple(
        NO_CONFIDENT + name for name in LABEL_FIELDS if modes[name] != "skip" and not suggestions[name]
    )
    if policy.comment_block:
        try:
            block = {**suggestions, "energy": energy}
            wanted["comment"] = comment_with_block(tags.get("comment", []), block)
        except ValueError as exc:
            return PlannedWrite(track.id, path, {}, {}, error=f"comment block: {exc}")
    # Only fields that change: the journal then says exactly what the write touched.
    old = {name: tags.get(name, []) for name, values in wanted.items() if values != tags.get(name, [])}
    if not old and not notes:
        return None
    new = {name: wanted[name] for name in old}
    copied_from = {name: source for name, source in copied_from.items() if name in new}
    return PlannedWrite(track.id, path, old, new, notes=notes, copied_from=copied_from)


def _tempo_key_values(
    track: Track, tags: Mapping[str, list[str]], policy: WritePolicy, vocabulary: Vocabulary
) -> dict[str, list[str]]:
    """BPM (a whole number) and key (in the policy's notation) as the policy would leave them.

    ``fill`` keeps any key the file has, in any notation and Picard's Vorbis KEY included: a key Mixed In
    Key or the user wrote is never overwritten by default.
    """
    wanted: dict[str, list[str]] = {}
    if track.bpm is not None and policy.bpm != "skip":
        bpm = [str(round(track.bpm))]
        wanted["bpm"] = resolve_field(policy.bpm, tags.get("bpm", []), bpm, vocabulary)
    key = try_parse_key(track.key)
    if key is not None and policy.key != "skip":
        present = tags.get("key", []) or tags.get("picard_key", [])
        if policy.key == "replace" or not any(value.strip() for value in present):
            wanted["key"] = [key.render(policy.key_notation)]
        else:
            wanted["key"] = tags.get("key", [])
    return wanted


def format_diff(plans: Iterable[PlannedWrite]) -> str:
    """A dry run's report: per file, each field's old → new values; "" when there is nothing to show."""
    lines = []
    changed = errors = 0
    notes: Counter[str] = Counter()
    copied: Counter[str] = Counter()
    for plan in plans:
        if plan.error is None and not plan.new and not plan.notes:
            continue
        lines.append(_shown(plan.path))
        if plan.error is not None:
            errors += 1
            lines.append(f"  ! {_shown(plan.error)}")
            continue
        changed += 1 if plan.new else 0
        for name, new in plan.new.items():
            source = plan.copied_from.get(name)
            origin = f"  (as in {_shown(source)}: the same recording)" if source else ""
            lines.append(f"  {name}: {_shown_values(plan.old.get(name, []))} → {_shown_values(new)}{origin}")
        copied.update(plan.copied_from.keys())
        for note in plan.notes:
            lines.append(f"  ({note}: left as it is)")
        notes.update(plan.notes)
    if not lines:
        return ""
    summary = f"{changed} file{'s' if changed != 1 else ''} to change" + (
        f", {errors} unreadable" if errors else ""
    )
    # A batch's misses in one line ("no confident genre on 13"): how much of a crate still needs a hand.
    lines.append(
        summary
        + "".join(f"; {note} on {count}" for note, count in sorted(notes.items()))
        + "".join(f"; {name} from a copy on {count}" for name, count in sorted(copied.items()))
    )
    return "\n".join(lines)


def unsure_fields(plans: Iterable[PlannedWrite]) -> list[str]:
    """The fields ("genre", "mood") some file of ``plans`` is left without for want of a confident label."""
    return sorted(
        {n.removeprefix(NO_CONFIDENT) for p in plans for n in p.notes if n.startswith(NO_CONFIDENT)}
    )


def _shown(text: str) -> str:
    """Printable on any terminal: line breaks and lone surrogates (undecodable path bytes) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown_values(values: Sequence[str]) -> str:
    return "; ".join(_shown(value) for value in values) if values else "(none)"


# --- writing ----------------------------------------------------------------------------------------------


def apply_writes(
    library: Library,
    plans: Iterable[PlannedWrite],
    policy: WritePolicy,
    description: str = "",
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Write the planned changes as one journaled WriteBatch; a failing file is reported, the batch goes on.

    Before writing, each file's fields are read again: a file whose tags changed since it was planned is
    left alone (a conflict). No batch is created when there is nothing to write (batch_id None).
    ``on_progress(done, total)`` is called after each file (from the calling thread).
    """
    report = BatchReport(batch_id=None, recovered=recover_journal(library))
    todo = []
    for plan in plans:
        if plan.error is not None:
            report.failed.append((_shown(plan.path), plan.error))
        elif not plan.new:
            report.skipped += 1  # nothing to change (perhaps only "no confident mood" to say)
        else:
            todo.append(plan)
    if not todo:
        return report
    with library.session() as session:
        batch = WriteBatch(created_at=_now(), description=description, policy=policy.to_json())
        session.add(batch)
        session.commit()
        report.batch_id = batch.id
        for done, plan in enumerate(todo, start=1):
            _apply_one(session, batch.id, plan, policy, report)
            if on_progress is not None:
                on_progress(done, len(todo))
    return report


def _apply_one(
    session: Session, batch_id: int, plan: PlannedWrite, policy: WritePolicy, report: BatchReport
) -> None:
    shown = _shown(plan.path)
    try:
        current = _read_fields(plan.path, plan.new, policy.id3v23_separator)
    except TagReadError as exc:
        report.failed.append((shown, exc.cause))
        return
    if current != plan.old:
        report.failed.append((shown, "its tags changed since the write was planned; plan again"))
        report.conflicts.append(shown)
        return
    entry = WriteEntry(
        batch_id=batch_id,
        # A track removed from the index since the plan still gets its file's change journaled.
        track_id=plan.track_id if session.get(Track, plan.track_id) is not None else None,
        path_key=os.fsencode(plan.path),
        path=shown,
        old=plan.old,
        new=plan.new,
        status="planned",
        updated_at=_now(),
    )
    session.add(entry)
    session.commit()  # the write-ahead step: the entry is on disk before the file is touched
    try:
        change = write_tags(plan.path, plan.new, id3v23_separator=policy.id3v23_separator, id3v1=policy.id3v1)
    except (TagWriteError, ValueError, TypeError) as exc:
        _finish(entry, "failed", getattr(exc, "cause", None) or str(exc))
        session.commit()
        report.failed.append((shown, entry.error))
        return
    # What the file held at the moment of writing: exactly what undo must put back (with the restore
    # record of a write that also changed what fields cannot express; see the module docstring).
    entry.old = change.undo_changes()
    _finish(entry, "written")
    _sync_track(session, plan.track_id, plan.path)
    session.commit()
    report.written += 1


# --- undo -------------------------------------------------------------------------------------------------


def undo_batch(library: Library, batch_id: int | None = None, *, force: bool = False) -> BatchReport:
    """Write back the old values of every file a batch wrote (the latest batch not yet undone by default).

    A file whose fields no longer hold what the batch wrote is a conflict, left alone unless `force`.
    Fields that were absent before are deleted again. The batch is marked undone once no file of it
    holds its values any more. Raises UndoError when there is no such batch or nothing to undo.
    """
    recovered = recover_journal(library)
    with library.session() as session:
        batch = _batch_to_undo(session, batch_id)
        policy = WritePolicy.from_json(batch.policy)
        report = BatchReport(batch_id=batch.id, recovered=recovered)
        entries = session.scalars(
            select(WriteEntry)
            .where(WriteEntry.batch_id == batch.id, WriteEntry.status == "written")
            .order_by(WriteEntry.id.desc())
        ).all()
        # An undo killed mid-write leaves a temporary copy but no planned entry to lead recovery there.
        _remove_stale_temp_files(os.fsdecode(entry.path_key) for entry in entries)
        for entry in entries:
            _undo_one(session, entry, policy, force, report)
        still_written = session.scalar(
            select(func.count())
            .select_from(WriteEntry)
            .where(WriteEntry.batch_id == batch.id, WriteEntry.status.in_(("written", "planned")))
        )
        if not still_written:
            batch.undone_at = _now()
            session.commit()
    return report


def _batch_to_undo(session: Session, batch_id: int | None) -> WriteBatch:
    if batch_id is not None:
        batch = session.get(WriteBatch, batch_id)
        if batch is None:
            raise UndoError(f"there is no write batch {batch_id}")
        if batch.undone_at is not None:
            raise UndoError(f"batch {batch_id} was already undone ({batch.undone_at:%Y-%m-%d %H:%M} UTC)")
        return batch
    has_written = select(WriteEntry.id).where(
        WriteEntry.batch_id == WriteBatch.id, WriteEntry.status == "written"
    )
    batch = session.scalars(
        select(WriteBatch)
        .where(WriteBatch.undone_at.is_(None), has_written.exists())
        .order_by(WriteBatch.id.desc())
        .limit(1)
    ).first()
    if batch is None:
        raise UndoError("there is no write batch left to undo")
    return batch


def _undo_one(
    session: Session, entry: WriteEntry, policy: WritePolicy, force: bool, report: BatchReport
) -> None:
    path = os.fsdecode(entry.path_key)
    try:
        current = _read_fields(path, entry.new, policy.id3v23_separator)
    except TagReadError as exc:
        report.failed.append((entry.path, exc.cause))
        return
    if current == field_changes(entry.old) and current != entry.new:
        pass  # an earlier undo wrote it and was stopped before recording so
    elif current == entry.new or force:
        try:
            # entry.old with its restore record, if any; the batch's id3v1 option for the rest.
            write_tags(path, entry.old, id3v23_separator=policy.id3v23_separator, id3v1=policy.id3v1)
        except TagWriteError as exc:
            report.failed.append((entry.path, exc.cause))
            return
    else:
        changed = ", ".join(name for name in entry.new if current[name] != entry.new[name])
        report.failed.append((entry.path, f"{changed} changed since the batch wrote it; left alone (force)"))
        report.conflicts.append(entry.path)
        return
    _finish(entry, "undone")
    _sync_track(session, entry.track_id, path)
    session.commit()
    report.written += 1


# --- recovery ---------------------------------------------------------------------------------------------


def recover_journal(library: Library) -> list[RecoveredEntry]:
    """Settle the entries a crash left ``planned`` by reading their files; remove stale temporary copies.

    File holds the new values → ``written`` (and the track's index row is updated); the old ones →
    ``failed`` ("interrupted before writing"); neither (changed since, missing, unreadable) → stays
    ``planned`` and is reported, to be settled by a later call. Returns what it found.
    """
    found = []
    with library.session() as session:
        entries = session.scalars(
            select(WriteEntry).where(WriteEntry.status == "planned").order_by(WriteEntry.id)
        ).all()
        if not entries:
            return found
        separators = {
            batch.id: WritePolicy.from_json(batch.policy).id3v23_separator
            for batch in session.scalars(
                select(WriteBatch).where(WriteBatch.id.in_({entry.batch_id for entry in entries}))
            )
        }
        # Temporary copies go first: a copy never holds anything the original lacks (it replaces the
        # original whole or not at all), and a recovery killed after settling its entries would leave no
        # planned entry to lead the next one to these folders.
        _remove_stale_temp_files(os.fsdecode(entry.path_key) for entry in entries)
        for entry in entries:
            path = os.fsdecode(entry.path_key)
            separator = separators[entry.batch_id]
            try:
                current = _read_fields(path, entry.new, separator)
            except TagReadError as exc:
                detail = f"cannot read its tags to tell: {exc.cause}"
            else:
                if current == entry.new:
                    _finish(entry, "written")
                    _sync_track(session, entry.track_id, path)
                    detail = "the write completed before the interruption"
                elif current == field_changes(entry.old):
                    _finish(entry, "failed", INTERRUPTED)
                    detail = INTERRUPTED
                else:
                    detail = "the file holds neither the old nor the new values (changed since?)"
            session.commit()
            found.append(RecoveredEntry(entry.id, entry.batch_id, entry.path, entry.status, detail))
    return found


def _remove_stale_temp_files(paths: Iterable[str]) -> None:
    # write_tags follows symbolic links and makes its copy next to the link's target.
    folders = {os.path.dirname(os.path.realpath(path)) for path in paths}
    for folder in sorted(folders):
        with contextlib.suppress(OSError):
            for temp in find_stale_temp_files(folder):
                with contextlib.suppress(OSError):
                    temp.unlink()


# --- listing ----------------------------------------------------------------------------------------------


def list_batches(session: Session) -> list[BatchSummary]:
    """Every write batch, newest first, with how many files it wrote and whether it was undone."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    query = select(WriteEntry.batch_id, WriteEntry.status, func.count()).group_by(
        WriteEntry.batch_id, WriteEntry.status
    )
    for batch_id, status, count in session.execute(query):
        counts[batch_id][status] = count
    return [
        BatchSummary(
            id=batch.id,
            created_at=batch.created_at,
            description=batch.description,
            files=counts[batch.id].get("written", 0) + counts[batch.id].get("undone", 0),
            failed=counts[batch.id].get("failed", 0),
            undone_at=batch.undone_at,
        )
        for batch in session.scalars(select(WriteBatch).order_by(WriteBatch.id.desc()))
    ]


# --- shared -----------------------------------------------------------------------------------------------


def _read_fields(path: str, names: Iterable[str], separator: str) -> dict[str, list[str]]:
    """The file's current values of `names` ([] for an absent field). Raises TagReadError."""
    tags = read_tags(path, id3v23_separator=separator)
    return {name: tags.get(name, []) for name in names}


def _finish(entry: WriteEntry, status: str, error: str | None = None) -> None:
    entry.status = status
    entry.error = error
    entry.updated_at = _now()


def _sync_track(session: Session, track_id: int | None, path: str) -> None:
    """Record the file's new tags, size and mtime in its Track row, so the next scan sees it unchanged.

    The tags are read as the scanner reads them (default ID3v2.3 separator), like every other row's.
    """
    track = session.get(Track, track_id) if track_id is not None else None
    if track is None:
        return
    try:
        stat = os.stat(path)
        tags = read_tags(path)
    except (OSError, TagReadError):
        return  # the next scan will look at the file again anyway
    track.size = stat.st_size
    track.mtime_ns = stat.st_mtime_ns
    track.file_tags = tags


def _now() -> datetime:
    # Naive UTC, as every time in the index (the scanner's too).
    return datetime.now(UTC).replace(tzinfo=None)
