"""Containers we tag, and how each kind of tag is loaded, saved and compared.

A Container is a file type (MP3, FLAC, ...) bound to the mutagen class that parses it and to the
TagFormat of the tag it carries. The four TagFormats (ID3, Vorbis comment, MP4, ASF) are the only code
that differs per format besides the storage styles; everything else goes through them.

`TagFormat.snapshot` turns a whole tag into plain, comparable values, keyed like StorageStyle.key. The
safe writer compares the snapshots of the original and of the written copy minus the keys it wrote: any
other difference (a lost cover, a re-encoded replaygain frame, a dropped custom field) fails the write.

An MP3 may also end with an ID3v1 tag (128 bytes: title, artist, album, year, comment, track, a genre
number). mutagen reads it into ID3v2 frames, so a file with nothing else is written like any other: it
gets a new ID3v2 tag holding every v1 field, and the v1 tag itself is kept, updated or removed as the
`id3v1` write option says (ID3V1_MODES). What field values cannot say to undo that (the v1 bytes as they
were, and that there was no ID3v2 tag) travels as a restore record (TagFormat.restore_record).
"""

from __future__ import annotations

import enum
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.id3 import ID3, ID3Tags, ID3v1SaveOptions, ParseID3v1
from mutagen.id3 import Frame as ID3Frame
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from musictagger.tags.errors import TagReadError
from musictagger.tags.fields import TagFamily

Snapshot = dict[str, Any]

#: What a write does with an MP3's ID3v1 tag, on every write (whether the file has an ID3v2 tag or not):
#: ``keep`` leaves its bytes exactly as they were; ``update`` rewrites it from the ID3v2 tag just written
#: (mutagen's own ``v1=1``: title, artist, album, year, track, and the genre when it is one of ID3v1's
#: numbered genres; mutagen leaves the v1 comment empty); ``remove`` deletes it. None adds a v1 tag to a
#: file that has none.
ID3V1_MODES = ("keep", "update", "remove")
#: ``update``: every write did exactly that before there was a choice (mutagen's default), so files with
#: both tags are written as they always were; it is nearest Picard's default (``write_id3v1`` on: v1 tags
#: are written from the v2 values) without adding a v1 tag to files that have none; and a car stereo or
#: old player that reads only ID3v1 then shows the genre just written, not a stale one. Nothing is lost:
#: the v2 tag carries every v1 field, and undo puts the original v1 bytes back (the restore record).
DEFAULT_ID3V1 = "update"


def _plain(value: Any) -> Any:
    """A comparable stand-in for a tag value: strings, bytes, numbers and tuples of them."""
    if isinstance(value, ID3Tags):  # CHAP / CTOC sub-frames
        return tuple(sorted((key, _plain(frame)) for key, frame in value.items()))
    if isinstance(value, ID3Frame):
        return (type(value).__name__, *_plain_attributes(value, skip=("encoding",)))
    if isinstance(value, bytes):
        # MP4FreeForm / MP4Cover are bytes with a data type attached; keep both.
        return (type(value).__name__, bytes(value), *_plain_attributes(value))
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return tuple(_plain(item) for item in value)
    return repr(value)


def _plain_attributes(obj: Any, skip: tuple[str, ...] = ()) -> tuple:
    attributes = getattr(obj, "__dict__", {})
    return tuple(sorted((name, _plain(v)) for name, v in attributes.items() if name not in skip))


class TagFormat(ABC):
    """How one kind of tag is loaded, created, saved and snapshotted."""

    #: snapshot keys describing the tag itself rather than its fields; not compared when a write creates
    #: the tag (a new Vorbis comment block gets mutagen's vendor string).
    header_keys: frozenset[str] = frozenset()

    def load(self, path: str | os.PathLike, kind: type[mutagen.FileType]) -> mutagen.FileType:
        return kind(os.fspath(path))

    @abstractmethod
    def read_family(self, audio: mutagen.FileType) -> TagFamily:
        """The field-map column to read this file's tags with."""

    def write_family(self, audio: mutagen.FileType, new_id3_version: int) -> TagFamily:
        """The field-map column to write with; raises ValueError when we must not write this tag."""
        return self.read_family(audio)

    def prepare_write(self, audio: mutagen.FileType, family: TagFamily) -> None:
        """Bring a loaded tag into the form `family` writes, before a write reads or changes it; the
        original is prepared the same way, so that the two compare. Nothing for most formats."""
        return None

    def ensure_tags(self, audio: mutagen.FileType) -> None:
        if audio.tags is None:
            audio.add_tags()

    def save(
        self,
        audio: mutagen.FileType,
        family: TagFamily,
        *,
        id3v1: str = DEFAULT_ID3V1,
        restore: str | None = None,
    ) -> None:
        """Save the changed tag. `id3v1` (ID3V1_MODES) and `restore` (a restore_record of an earlier write,
        given back by its undo) concern ID3 only."""
        audio.save()

    def load_written(
        self, path: str | os.PathLike, kind: type[mutagen.FileType], family: TagFamily
    ) -> mutagen.FileType:
        """The written tag alone, as the safe writer compares it with the original: without what another
        tag in the file adds when it is loaded (ID3v1 fields fill in missing ID3v2 frames)."""
        return self.load(path, kind)

    def restore_record(self, original: mutagen.FileType, written: str | os.PathLike) -> str | None:
        """What undoing the write from `original` to the file `written` needs besides the fields' old
        values to give back the original bytes (a JSON-safe string), or None when those say it all."""
        return None

    def write_problem(
        self,
        original: mutagen.FileType,
        written: str | os.PathLike,
        *,
        id3v1: str = DEFAULT_ID3V1,
        restore: str | None = None,
    ) -> str | None:
        """What is wrong with the file `written` from `original` beyond its tag's fields, or None (ID3: the
        MP3's v1 tag is not what `id3v1` or `restore` asked for)."""
        return None

    @abstractmethod
    def snapshot(self, audio: mutagen.FileType) -> Snapshot:
        """Every field of the tag as plain values (see module docstring); {} when there is no tag."""


class ID3Format(TagFormat):
    """ID3v2 in MP3, and in the ID3 chunk of WAV and AIFF; an MP3's ID3v1 tag.

    Loaded with translate=False: frames stay exactly as stored (a v2.3 tag keeps TYER, an off-spec v2.4
    frame in a v2.3 tag survives) and are written back as they were, in the file's own version.
    """

    def load(self, path, kind):
        audio = kind(os.fspath(path), translate=False)
        if audio.tags is not None and audio.tags.version < (2, 3, 0):
            # ID3v2.2 frames have other names, and an MP3 with only an ID3v1 tag (version (1, 1)) has its
            # fields as v2.4 frames with the genre as a number: let mutagen upgrade them ("8" becomes
            # "Jazz") so they can be read, and written into a new ID3v2 tag.
            audio = kind(os.fspath(path))
        return audio

    def read_family(self, audio):
        if audio.tags is not None and audio.tags.version[:2] == (2, 3):
            return TagFamily.ID3V23
        return TagFamily.ID3V24

    def write_family(self, audio, new_id3_version):
        if audio.tags is None or _v1_only(audio):
            # No ID3v2 tag yet: the write creates one (with every ID3v1 field, if the file has a v1 tag).
            if new_id3_version not in (3, 4):
                raise ValueError(f"new ID3 tags are v2.3 or v2.4, not v2.{new_id3_version}")
            return TagFamily.ID3V23 if new_id3_version == 3 else TagFamily.ID3V24
        version = audio.tags.version[:2]
        if version not in ((2, 3), (2, 4)):
            raise ValueError(
                f"ID3v{version[0]}.{version[1]} tag: only v2.3 and v2.4 are written, "
                "convert it with a tag editor first"
            )
        return self.read_family(audio)

    def prepare_write(self, audio, family):
        if _v1_only(audio) and family is TagFamily.ID3V23:
            # The ID3v1 fields were loaded as v2.4 frames; a new v2.3 tag has TYER where v2.4 has TDRC.
            audio.tags.update_to_v23()

    def save(self, audio, family, *, id3v1=DEFAULT_ID3V1, restore=None):
        if id3v1 not in ID3V1_MODES:
            raise ValueError(f"id3v1 must be one of {', '.join(ID3V1_MODES)}, not {id3v1!r}")
        # ID3v1 lives at the end of an MP3 only; WAV and AIFF keep their ID3 tag in a chunk.
        mp3 = isinstance(audio, MP3)
        record = _V1Record.parse(restore) if mp3 and restore is not None else None
        v1_before = _id3v1_tag(audio.filename) if mp3 else None
        tags = audio.tags
        if record is not None and record.v1_only and _same_frames(tags, _v1_tags(record.tag, family)):
            # Undoing the write that gave a v1-only file its ID3v2 tag, which now says nothing the v1 tag
            # did not: remove it, so that the file is byte for byte what it was (the v1 tag goes back
            # below). A v2 tag that holds more (a cover added since) stays.
            audio.delete()
        elif not tags.keys() and not tags.unknown_frames:
            # A tag without frames says nothing: remove it rather than leave an empty one, so that undoing
            # a write to an untagged file gives back the original bytes. (For an MP3 this removes its v1
            # tag too: one updated from nothing would say nothing either; `keep` puts it back below.)
            audio.delete()
        else:
            # v23_sep=None: values mutagen read NUL-separated are written back that way, untouched; our own
            # multi-values in v2.3 are already joined by ID3v23JoinedStyle.
            version = 3 if family is TagFamily.ID3V23 else 4
            if not mp3:
                audio.save(v2_version=version, v23_sep=None)
                return
            update = id3v1 == "update" and record is None
            v1 = ID3v1SaveOptions.UPDATE if update else ID3v1SaveOptions.REMOVE
            audio.save(v2_version=version, v23_sep=None, v1=v1)
        if not mp3:
            return
        # The v1 tag is now updated, or gone; put back the one the undo record or `keep` asks for.
        if record is not None:
            _append(audio.filename, record.tag)
        elif id3v1 == "keep" and v1_before is not None:
            _append(audio.filename, v1_before)

    def load_written(self, path, kind, family):
        path = os.fspath(path)
        audio = kind(path, translate=False, load_v1=False)
        if audio.tags is not None:
            return audio if audio.tags.version >= (2, 3, 0) else kind(path, load_v1=False)
        audio = self.load(path, kind)
        if audio.tags is not None:
            # No ID3v2 tag, but an ID3v1 one: an undo gave the file back its v1 tag alone, in place of the
            # v2 tag it had become. Compare it as that v2 tag.
            self.prepare_write(audio, family)
            audio.tags.version = (2, 3, 0) if family is TagFamily.ID3V23 else (2, 4, 0)
        return audio

    def restore_record(self, original, written):
        if not isinstance(original, MP3):
            return None
        before = _id3v1_tag(original.filename)
        if before is None:
            return None
        v1_only = _v1_only(original)
        if not v1_only and _id3v1_tag(written) == before:
            return None  # the v1 tag as it was, beside the v2 tag there was: the fields say it all
        return _V1Record(before, v1_only).dump()

    def write_problem(self, original, written, *, id3v1=DEFAULT_ID3V1, restore=None):
        if not isinstance(original, MP3):
            return None
        before, after = _id3v1_tag(original.filename), _id3v1_tag(written)
        if restore is not None:
            wanted = _V1Record.parse(restore).tag
            return None if after == wanted else "the ID3v1 tag was not put back as it was"
        if id3v1 == "keep" and after != before:
            return "the ID3v1 tag changed although it is to be kept"
        if id3v1 == "remove" and after is not None:
            return "the ID3v1 tag is still there although it is to be removed"
        if id3v1 == "update" and before is None and after is not None:
            return "an ID3v1 tag was added"
        return None

    def snapshot(self, audio):
        tags = audio.tags
        if tags is None:
            return {}
        snap: Snapshot = {key: _plain(frame) for key, frame in tags.items()}
        if tags.unknown_frames:
            snap["@unknown-frames"] = tuple(tags.unknown_frames)
        return snap


def _v1_only(audio: mutagen.FileType) -> bool:
    """Whether the loaded file's only ID3 tag is an ID3v1 one (mutagen then says version (1, 1))."""
    return audio.tags is not None and audio.tags.version[0] == 1


def _id3v1_tag(path: str | os.PathLike) -> bytes | None:
    """The ID3v1 tag at the end of a file, byte for byte as mutagen finds it (and would remove it), or None.

    mutagen's own finder is private; this is its rule: "TAG" in the last 131 bytes, not part of an APEv2
    footer ("APETAGEX"), parsing as ID3v1. (Old mutagen versions wrote tags a few bytes short.)
    """
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 131))
        data = f.read()
    index = data.find(b"TAG")
    if index < 0:
        return None
    ape = data.find(b"APETAGEX")
    if ape >= 0 and index == ape + 3:
        return None
    tag = data[index:]
    return tag if ParseID3v1(tag) is not None else None


def _append(path: str, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _v1_tags(tag: bytes, family: TagFamily) -> ID3:
    """The frames an ID3v1 tag is loaded as (ID3Format.load), in the form of `family`."""
    tags = ID3()
    for frame in (ParseID3v1(tag) or {}).values():
        tags.add(frame)
    tags.update_to_v24()  # as a translating load does: the genre number becomes its name
    if family is TagFamily.ID3V23:
        tags.update_to_v23()
    return tags


def _same_frames(a: ID3Tags, b: ID3Tags) -> bool:
    """Whether two tags hold the same frames, text encodings aside (as snapshots compare them)."""
    if a.unknown_frames or b.unknown_frames:
        return False
    return {k: _plain(f) for k, f in a.items()} == {k: _plain(f) for k, f in b.items()}


_RECORD = re.compile(r"^(id3v1|id3v1-only):([0-9a-f]*)$")


@dataclass(frozen=True)
class _V1Record:
    """The restore record of a write that changed an MP3's ID3v1 tag or gave a v1-only file its ID3v2 tag:
    the v1 bytes as they were, and whether the file had no ID3v2 tag. Written "id3v1-only:<hex>" or
    "id3v1:<hex>", a string that a JSON journal keeps as it is."""

    tag: bytes
    v1_only: bool

    def dump(self) -> str:
        return f"{'id3v1-only' if self.v1_only else 'id3v1'}:{self.tag.hex()}"

    @classmethod
    def parse(cls, text: str) -> _V1Record:
        match = _RECORD.match(text) if isinstance(text, str) else None
        tag = bytes.fromhex(match.group(2)) if match and len(match.group(2)) % 2 == 0 else b""
        if match is None or ParseID3v1(tag) is None:
            raise ValueError(f"not an ID3v1 restore record: {text!r:.80}")
        return cls(tag, match.group(1) == "id3v1-only")


class VorbisFormat(TagFormat):
    """Vorbis comments in FLAC, Ogg Vorbis and Opus (plus FLAC's other metadata blocks)."""

    header_keys = frozenset({"@vendor"})

    def read_family(self, audio):
        return TagFamily.VORBIS

    def snapshot(self, audio):
        snap: Snapshot = {}
        if audio.tags is not None:
            snap["@vendor"] = audio.tags.vendor
            for key, value in list.__iter__(audio.tags):
                snap.setdefault(key.lower(), []).append(value)
            snap = {key: tuple(v) if isinstance(v, list) else v for key, v in snap.items()}
        if isinstance(audio, FLAC):
            # Pictures, cue sheets, seek tables, application blocks: everything but the comments and padding.
            comment_or_padding = (1, 4)
            blocks = tuple(
                (block.code, block.write())
                for block in audio.metadata_blocks
                if block.code not in comment_or_padding
            )
            snap["@flac-blocks"] = blocks
        return snap


class MP4Format(TagFormat):
    """iTunes-style ilst atoms in M4A (AAC or ALAC)."""

    def read_family(self, audio):
        return TagFamily.MP4

    def snapshot(self, audio):
        if audio.tags is None:
            return {}
        return {key: _plain(values) for key, values in audio.tags.items()}


class ASFFormat(TagFormat):
    """ASF attributes in WMA."""

    def read_family(self, audio):
        return TagFamily.ASF

    def snapshot(self, audio):
        snap: dict[str, list] = {}
        for key, value in list.__iter__(audio.tags) if audio.tags is not None else ():
            # mutagen may move a value between the Extended Content Description object (no language or
            # stream: None) and the Metadata Library object (language index 0, stream 0 = the whole
            # file), e.g. the second of two same-named values. Same meaning, so compare them as equal.
            plain = (type(value).__name__, _plain(value.value), value.language or 0, value.stream or 0)
            snap.setdefault(key, []).append(plain)
        return {key: tuple(values) for key, values in snap.items()}


ID3_FORMAT = ID3Format()
VORBIS_FORMAT = VorbisFormat()
MP4_FORMAT = MP4Format()
ASF_FORMAT = ASFFormat()


@dataclass(frozen=True)
class Container:
    """A file type we read and write tags in."""

    name: str
    description: str
    mutagen_type: type[mutagen.FileType] = field(repr=False)
    tag_format: TagFormat = field(repr=False)

    def load(self, path: str | os.PathLike) -> mutagen.FileType:
        return self.tag_format.load(path, self.mutagen_type)


CONTAINERS: tuple[Container, ...] = (
    Container("mp3", "MP3 with ID3v2", MP3, ID3_FORMAT),
    Container("wav", "WAV with an ID3 chunk", WAVE, ID3_FORMAT),
    Container("aiff", "AIFF with an ID3 chunk", AIFF, ID3_FORMAT),
    Container("flac", "FLAC with Vorbis comments", FLAC, VORBIS_FORMAT),
    Container("ogg", "Ogg Vorbis", OggVorbis, VORBIS_FORMAT),
    Container("opus", "Ogg Opus", OggOpus, VORBIS_FORMAT),
    Container("m4a", "MPEG-4 audio (AAC or ALAC)", MP4, MP4_FORMAT),
    Container("wma", "Windows Media Audio (ASF)", ASF, ASF_FORMAT),
)


def container_of(path: str | os.PathLike) -> Container:
    """The container of `path`, judged like mutagen.File does (header first, then the file name).

    Raises TagReadError for a missing or unreadable file, or one that is none of CONTAINERS.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as fileobj:
            header = fileobj.read(128)
            scores = []
            for container in CONTAINERS:
                fileobj.seek(0)
                scores.append(
                    (container.mutagen_type.score(name, fileobj, header), container.name, container)
                )
    except OSError as exc:
        raise TagReadError(path, exc.strerror or str(exc)) from exc
    score, _, best = max(scores, key=lambda item: item[:2])
    if score <= 0:
        raise TagReadError(
            path, "not an audio file musictagger can tag (MP3, WAV, AIFF, FLAC, Ogg, Opus, M4A, WMA)"
        )
    return best


def open_audio(path: str | os.PathLike) -> tuple[Container, mutagen.FileType]:
    """Detect the container and parse the file with mutagen. Raises TagReadError."""
    container = container_of(path)
    try:
        return container, container.load(path)
    except Exception as exc:  # a corrupt file can make a parser raise anything; it is a per-file error
        raise TagReadError(path, f"cannot parse as {container.description}: {_reason(exc, path)}") from exc


def _reason(exc: BaseException, path: str | os.PathLike) -> str:
    """A parser's message on one line, without the file's name (the error names it already)."""
    name = os.fspath(path)
    name = os.fsdecode(name) if isinstance(name, bytes) else name
    text = str(exc).replace(repr(name), "the file").replace(name, "the file").strip()
    return (text.splitlines()[0][:200] if text else "") or type(exc).__name__


def structure_problem(container: Container, path: str | os.PathLike) -> str | None:
    """What is wrong with a WAV (RIFF) or AIFF (FORM) file's chunk layout, if anything: a chunk running past
    the end of the file (a truncated download) leaves a tag appended at the end inside that chunk, where
    no reader looks. None for other containers, or when the layout is sound."""
    if container.name not in ("wav", "aiff"):
        return None
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"FORM"):
                return None
            order = "big" if head[:4] == b"FORM" else "little"
            pos = 12
            for _ in range(10_000):
                if pos + 8 > size:
                    return None
                f.seek(pos)
                chunk = f.read(8)
                length = int.from_bytes(chunk[4:], order)
                if pos + 8 + length > size:
                    claim = f"claims {length} bytes but only {size - pos - 8} follow"
                    if all(0x20 <= byte < 0x7F for byte in chunk[:4]):
                        return f"its '{chunk[:4].decode('ascii')}' chunk {claim}"
                    return f"the chunk at byte {pos} has a damaged header and {claim}"
                pos += 8 + length + (length & 1)
    except OSError:
        return None
    return None
