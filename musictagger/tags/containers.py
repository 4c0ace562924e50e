"""Containers we tag, and how each kind of tag is loaded, saved and compared.

A Container is a file type (MP3, FLAC, ...) bound to the mutagen class that parses it and to the
TagFormat of the tag it carries. The four TagFormats (ID3, Vorbis comment, MP4, ASF) are the only code
that differs per format besides the storage styles; everything else goes through them.

`TagFormat.snapshot` turns a whole tag into plain, comparable values, keyed like StorageStyle.key. The
safe writer compares the snapshots of the original and of the written copy minus the keys it wrote: any
other difference (a lost cover, a re-encoded replaygain frame, a dropped custom field) fails the write.
"""

from __future__ import annotations

import enum
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.id3 import Frame as ID3Frame
from mutagen.id3 import ID3Tags
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from musictagger.tags.errors import TagReadError
from musictagger.tags.fields import TagFamily

Snapshot = dict[str, Any]


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

    def ensure_tags(self, audio: mutagen.FileType) -> None:
        if audio.tags is None:
            audio.add_tags()

    def save(self, audio: mutagen.FileType, family: TagFamily) -> None:
        audio.save()

    @abstractmethod
    def snapshot(self, audio: mutagen.FileType) -> Snapshot:
        """Every field of the tag as plain values (see module docstring); {} when there is no tag."""


class ID3Format(TagFormat):
    """ID3v2 in MP3, and in the ID3 chunk of WAV and AIFF.

    Loaded with translate=False: frames stay exactly as stored (a v2.3 tag keeps TYER, an off-spec v2.4
    frame in a v2.3 tag survives) and are written back as they were, in the file's own version.
    """

    def load(self, path, kind):
        audio = kind(os.fspath(path), translate=False)
        if audio.tags is not None and audio.tags.version < (2, 3, 0):
            # ID3v2.2 frames have other names; let mutagen upgrade them so they can at least be read.
            audio = kind(os.fspath(path))
        return audio

    def read_family(self, audio):
        if audio.tags is not None and audio.tags.version[:2] == (2, 3):
            return TagFamily.ID3V23
        return TagFamily.ID3V24

    def write_family(self, audio, new_id3_version):
        if audio.tags is None:
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

    def save(self, audio, family):
        # v23_sep=None: values mutagen read NUL-separated are written back that way, untouched; our own
        # multi-values in v2.3 are already joined by ID3v23JoinedStyle.
        tags = audio.tags
        if not tags.keys() and not tags.unknown_frames:
            # A tag without frames says nothing: remove it rather than leave an empty one, so that undoing
            # a write to an untagged file gives back the original bytes.
            audio.delete()
            return
        version = 3 if family is TagFamily.ID3V23 else 4
        audio.save(v2_version=version, v23_sep=None)

    def snapshot(self, audio):
        tags = audio.tags
        if tags is None:
            return {}
        snap: Snapshot = {key: _plain(frame) for key, frame in tags.items()}
        if tags.unknown_frames:
            snap["@unknown-frames"] = tuple(tags.unknown_frames)
        return snap


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
