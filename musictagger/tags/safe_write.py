"""Writing tags without ever losing anything.

The original file is never edited. write_tags:

1. refuses early, touching nothing, when the file or its folder is read-only, the file has several hard
   links (replacing it would leave the other names with the old tags), or mutagen cannot parse it;
2. copies the file to a hidden temporary file in the same folder with the same suffix
   (`.NAME.musictagger-XXXXXXXX.EXT`), applies the change there with mutagen and fsyncs it;
3. verifies the copy, reloaded from disk:
   (a) every written field reads back as requested, in the same tag version (v2.3 stays v2.3);
   (b) the audio payload is identical: every audio packet's bytes and timestamps and the codec
       configuration, as FFmpeg demuxes them (audio_payload.py);
   (c) every other part of the tag — covers, other TXXX/COMM frames, ReplayGain, custom fields, FLAC
       metadata blocks — is equal to the original's (containers.TagFormat.snapshot). The written tag is
       read alone: an MP3's ID3v1 fields, which mutagen merges into a loaded ID3v2 tag, cannot hide a
       frame the v2 tag lost; and the v1 tag is what the `id3v1` option asked for;
4. gives the copy the original's permission bits (and owner, group and extended attributes where
   allowed), checks that nobody changed the original meanwhile, and swaps it in with os.replace (atomic),
   then fsyncs the folder. The file's mtime is the time of the write, so DJ software sees the change.

Any failure removes the temporary file and raises TagWriteError; the original stays byte-identical.
Symbolic links are followed: the link's target is rewritten and the link stays a link.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import mutagen

from musictagger.tags.audio_payload import audio_payload_digest
from musictagger.tags.containers import (
    DEFAULT_ID3V1,
    ID3V1_MODES,
    Container,
    open_audio,
    structure_problem,
)
from musictagger.tags.errors import TagReadError, TagWriteError
from musictagger.tags.fields import FIELDS, TagFamily
from musictagger.tags.styles import StorageStyle, StyleOptions

TEMP_MARKER = ".musictagger-"
#: The key of TagChange.undo_changes() that holds its restore record, next to the fields' old values.
RESTORE_KEY = "@restore"


@dataclass(frozen=True)
class TagChange:
    """What a write_tags call did to one file: old and new values of every field it was given.

    An empty tuple means the field was absent. Writing `undo_changes()` back restores the previous state of
    those fields, absence included (an absent field is deleted again).

    `restore` is what undo needs besides the old values (TagFormat.restore_record), None mostly. Undo is
    field based: writing the old values back gives back the original bytes as long as the write only
    changed those fields. A write to an MP3 can do more: give a file that had only an ID3v1 tag a new
    ID3v2 tag (carrying every v1 field), and update or remove its v1 tag. No field value says that there
    was no ID3v2 tag, or what the v1 bytes were (an update rewrites them), so the record keeps both and
    undo_changes() hands it on under RESTORE_KEY: the undo then removes the v2 tag again when it says
    no more than the v1 tag, and puts the v1 bytes back as they were.
    """

    path: str
    old: dict[str, tuple[str, ...]]
    new: dict[str, tuple[str, ...]]
    written: bool  # False when every field already had the requested value and the file was left alone
    restore: str | None = None

    @property
    def changed_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.new if self.new[name] != self.old.get(name, ()))

    def undo_changes(self) -> dict[str, list[str]]:
        """The `changes` argument for write_tags that reverts this change (its restore record included)."""
        changes = {name: list(values) for name, values in self.old.items()}
        if self.restore is not None:
            changes[RESTORE_KEY] = [self.restore]
        return changes


def field_changes(changes: Mapping[str, Sequence[str] | None]) -> dict[str, Sequence[str] | None]:
    """`changes` without its restore record: the fields alone, as read_tags would show them."""
    return {name: values for name, values in changes.items() if name != RESTORE_KEY}


class _VerificationError(Exception):
    """The written copy is not what we meant to write."""


class _Refused(Exception):
    """We must not write this file (reason in the message)."""


def _normalise_changes(
    changes: Mapping[str, Sequence[str] | None],
) -> tuple[dict[str, tuple[str, ...]], str | None]:
    """Validate the caller's request (programming errors raise at once, before any I/O): the fields, and
    the restore record of an undo."""
    restore = None
    if RESTORE_KEY in changes:
        record = changes[RESTORE_KEY]
        if isinstance(record, str | bytes) or not (
            isinstance(record, Sequence) and len(record) == 1 and isinstance(record[0], str)
        ):
            raise TypeError(f"{RESTORE_KEY}: give a list of one restore record, not {record!r:.80}")
        restore = record[0]
    requested: dict[str, tuple[str, ...]] = {}
    for name, values in field_changes(changes).items():
        field = FIELDS.get(name)
        if field is None:
            raise ValueError(f"unknown field {name!r}; known: {', '.join(FIELDS)}")
        if not field.writable:
            raise ValueError(f"musictagger does not write {name!r}")
        if values is None:
            requested[name] = ()
            continue
        if isinstance(values, str | bytes):
            raise TypeError(f"{name}: give a list of strings, not the bare string {values!r}")
        values = tuple(values)
        if not all(isinstance(value, str) for value in values):
            raise TypeError(f"{name}: values must be strings, got {values!r}")
        requested[name] = values
    return requested, restore


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    if isinstance(exc, _VerificationError):
        return f"verification of the written copy failed: {exc}"
    if isinstance(exc, _Refused):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _detail(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none), for a cause in parentheses."""
    text = str(exc).strip()
    if isinstance(getattr(exc, "strerror", None), str) and exc.strerror:  # OSError, av.FFmpegError
        text = exc.strerror  # without the errno and the (temporary) file name
    return (text.splitlines()[0][:200] if text else "") or type(exc).__name__


def _check_can_replace(path: str | os.PathLike, target: Path) -> os.stat_result:
    """Refuse, before creating anything, what we must not or cannot replace."""
    try:
        st = os.stat(target)
    except OSError as exc:
        raise TagWriteError(path, exc.strerror or str(exc)) from exc
    if not stat.S_ISREG(st.st_mode):
        raise TagWriteError(path, "not a regular file")
    # The mode bits are checked too: root may write anywhere, but a file marked read-only stays unchanged.
    if not os.access(target, os.W_OK) or not st.st_mode & 0o222:
        raise TagWriteError(path, "the file is read-only")
    folder = target.parent
    folder_mode = os.stat(folder).st_mode
    if not os.access(folder, os.W_OK | os.X_OK) or not folder_mode & 0o222:
        raise TagWriteError(
            path, f"the folder {folder} is read-only (the new file is written next to the old)"
        )
    if st.st_nlink > 1:
        raise TagWriteError(
            path,
            f"the file has {st.st_nlink} hard links; replacing it would leave the others with the old tags",
        )
    return st


def _temp_name_prefix(target: Path) -> str:
    # Keep the temporary name within the usual 255-byte limit however long the original name is.
    stem = target.stem
    while len(os.fsencode(stem)) > 100:
        stem = stem[:-1]
    return f".{stem}{TEMP_MARKER}"


def _make_temp_copy(target: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=_temp_name_prefix(target), suffix=target.suffix, dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        shutil.copyfile(target, temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _copy_file_attributes(source: Path, temp: Path, source_stat: os.stat_result) -> None:
    """Permission bits always; owner, group and extended attributes as far as we are allowed."""
    shutil.copymode(source, temp)
    temp_stat = os.stat(temp)
    if (temp_stat.st_uid, temp_stat.st_gid) != (source_stat.st_uid, source_stat.st_gid) and hasattr(
        os, "chown"
    ):
        try:
            os.chown(temp, source_stat.st_uid, source_stat.st_gid)
        except PermissionError:
            # Keep at least the group; failing that the file becomes ours, content and mode kept.
            with contextlib.suppress(PermissionError):
                os.chown(temp, -1, source_stat.st_gid)
    if hasattr(os, "listxattr"):
        try:
            for name in os.listxattr(source):
                with contextlib.suppress(OSError):  # e.g. security.* attributes we may not set
                    os.setxattr(temp, name, os.getxattr(source, name))
        except OSError:
            pass  # the file system has no extended attributes


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _apply(
    container: Container,
    temp: Path,
    family: TagFamily,
    styles: dict[str, StorageStyle],
    requested: dict[str, tuple[str, ...]],
    options: StyleOptions,
    id3v1: str,
    restore: str | None,
) -> None:
    fmt = container.tag_format
    audio = container.load(temp)
    fmt.prepare_write(audio, family)
    fmt.ensure_tags(audio)
    for name, values in requested.items():
        if values:
            styles[name].set(audio.tags, values, options)
        else:
            styles[name].delete(audio.tags)
    fmt.save(audio, family, id3v1=id3v1, restore=restore)


def _verify(
    container: Container,
    original: mutagen.FileType,
    temp: Path,
    family: TagFamily,
    styles: dict[str, StorageStyle],
    requested: dict[str, tuple[str, ...]],
    options: StyleOptions,
    original_snapshot: dict,
    original_had_tags: bool,
    original_audio: str,
    id3v1: str,
    restore: str | None,
) -> None:
    fmt = container.tag_format
    try:
        audio = container.load(temp)  # as every reader sees the file
        written = fmt.load_written(temp, container.mutagen_type, family)  # the written tag alone
    except Exception as exc:
        raise _VerificationError(f"the written copy cannot be read back ({_detail(exc)})") from exc
    if written.tags is None:
        if any(requested.values()):
            raise _VerificationError("the written copy has no tag")
    elif (written_family := fmt.read_family(written)) is not family:
        raise _VerificationError(f"the tag became {written_family.value}, expected {family.value}")
    # (a) what we wrote reads back, from the written tag and as readers see the file
    for view in (written, audio):
        for name, values in requested.items():
            got = tuple(styles[name].get(view.tags, options)) if view.tags is not None else ()
            if got != values:
                raise _VerificationError(f"{name} reads back as {list(got)!r}, not {list(values)!r}")
    # (c) nothing else changed
    owned = {style.key for style in styles.values()}
    ignored = owned if original_had_tags else owned | fmt.header_keys
    before = {key: value for key, value in original_snapshot.items() if key not in ignored}
    after = {key: value for key, value in fmt.snapshot(written).items() if key not in ignored}
    if before != after:
        differing = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
        raise _VerificationError(f"fields we did not write changed: {', '.join(differing)}")
    problem = fmt.write_problem(original, temp, id3v1=id3v1, restore=restore)
    if problem is not None:
        raise _VerificationError(problem)
    # (b) the audio is untouched
    try:
        written_audio = audio_payload_digest(temp)
    except Exception as exc:
        raise _VerificationError(f"FFmpeg cannot read the written copy's audio ({_detail(exc)})") from exc
    if written_audio != original_audio:
        raise _VerificationError("the audio payload differs from the original's")


def write_tags(
    path: str | os.PathLike,
    changes: Mapping[str, Sequence[str] | None],
    *,
    id3v23_separator: str = "; ",
    new_id3_version: int = 4,
    id3v1: str = DEFAULT_ID3V1,
) -> TagChange:
    """Set (or with [] / None delete) the given writable fields of `path`, safely; see module docstring.

    Only the named fields are touched. ID3 tags keep their version; `new_id3_version` (3 or 4) is used
    when a file without ID3v2 tag gets one, an MP3 with only an ID3v1 tag included (the new tag carries
    every v1 field). `id3v1` (containers.ID3V1_MODES: keep, update, remove) is what becomes of an MP3's
    ID3v1 tag. `changes` may hold a TagChange's restore record under RESTORE_KEY (undo_changes() puts it
    there). Returns the old and new values; raises TagWriteError (the file unchanged) on any failure,
    ValueError/TypeError at once for an invalid request.
    """
    requested, restore = _normalise_changes(changes)
    if not id3v23_separator:
        raise ValueError("id3v23_separator must not be empty")
    if id3v1 not in ID3V1_MODES:
        raise ValueError(f"id3v1 must be one of {', '.join(ID3V1_MODES)}, not {id3v1!r}")
    options = StyleOptions(id3v23_separator=id3v23_separator)
    shown = os.fspath(path)
    if not requested and restore is None:
        return TagChange(shown, {}, {}, written=False)

    # Through symlinks: os.replace on the link itself would turn it into a file and leave the target alone.
    target = Path(os.path.realpath(path))
    before_stat = _check_can_replace(path, target)
    temp: Path | None = None
    try:
        container, original = open_audio(target)
        fmt = container.tag_format
        try:
            family = fmt.write_family(original, new_id3_version)
        except ValueError as exc:
            raise _Refused(str(exc)) from exc
        fmt.prepare_write(original, family)
        styles = {name: FIELDS[name].write_style(family) for name in requested}
        tags = original.tags
        old = {
            name: tuple(style.get(tags, options)) if tags is not None else ()
            for name, style in styles.items()
        }
        if old == requested and restore is None:
            return TagChange(shown, old, dict(requested), written=False)
        for name, values in requested.items():
            try:
                styles[name].check(values, options)
            except ValueError as exc:
                raise _Refused(f"{name}: {exc}") from exc

        try:
            original_snapshot = fmt.snapshot(original)
        except Exception as exc:
            raise _Refused(f"the file's tag is damaged ({_detail(exc)})") from exc
        try:
            original_audio = audio_payload_digest(target)
        except Exception as exc:
            raise _Refused(
                f"FFmpeg cannot read the audio, so a write could not be verified ({_detail(exc)})"
            ) from exc
        temp = _make_temp_copy(target)
        try:
            _apply(container, temp, family, styles, requested, options, id3v1, restore)
        except OSError:
            raise
        except Exception as exc:  # mutagen on a damaged container: a size field or table it cannot update
            raise _Refused(
                f"the {container.name.upper()} file looks damaged: its tag cannot be saved ({_detail(exc)})"
            ) from exc
        _fsync_path(temp)
        try:
            _verify(
                container,
                original,
                temp,
                family,
                styles,
                requested,
                options,
                original_snapshot,
                tags is not None,
                original_audio,
                id3v1,
                restore,
            )
        except _VerificationError as exc:
            problem = structure_problem(container, target)
            if problem is None:
                raise
            raise _Refused(
                f"the {container.name.upper()} file is truncated or damaged ({problem}); "
                "a tag cannot be added to it safely"
            ) from exc
        record = fmt.restore_record(original, temp)
        _copy_file_attributes(target, temp, before_stat)
        now = os.stat(target)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (
            before_stat.st_ino,
            before_stat.st_size,
            before_stat.st_mtime_ns,
        ):
            raise _VerificationError("another program changed the file meanwhile; try again")
        os.replace(temp, target)
        temp = None
    except TagReadError as exc:
        raise TagWriteError(path, exc.cause) from exc
    except Exception as exc:
        raise TagWriteError(path, _describe(exc)) from exc
    finally:
        # Also on KeyboardInterrupt: never leave a half-written copy behind.
        if temp is not None:
            temp.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not supported everywhere (Windows); the rename itself is done
        _fsync_path(target.parent, directory=True)
    return TagChange(shown, old, dict(requested), written=True, restore=record)


def find_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Temporary copies left in `folder` by a write that was killed (power loss, SIGKILL); safe to delete."""
    return sorted(p for p in Path(folder).glob(f".*{TEMP_MARKER}*") if p.is_file())
