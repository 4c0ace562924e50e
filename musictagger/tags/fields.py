"""The field map: for every field we know, where it lives in each tag family.

This table is the only place that knows tag keys (shared/docs/tagging.md, which follows Picard's tag
mapping). Read and write code looks a field's styles up here and never branches on the format.

Rules the table follows:
- Writable fields have exactly one style per family: the place we write is the place we read, so the old
  values a write reports are exactly what an undo must write back.
- Read-only fields may list fallbacks, read in order (the first style holding a value wins). A writable
  field's fallback is a read-only field of its own, so a write never reports a value it did not replace:
  Picard's Vorbis KEY is ``picard_key`` beside ``key`` (INITIALKEY), and the write policy counts it as a
  key already there.
- ID3v2.3 differs from v2.4 in two ways: mood is `TXXX:mood` (TMOO exists only in v2.4) and text frames
  hold one string, so multi-valued writable fields are joined with a separator (ID3v2.3 comments and the
  read-only fields are never split: a title may contain "; ").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from musictagger.tags.styles import (
    ASFStyle,
    ID3CommentStyle,
    ID3TextStyle,
    ID3UserTextStyle,
    ID3v23JoinedStyle,
    MP4FreeformStyle,
    MP4IntStyle,
    MP4TextStyle,
    StorageStyle,
    VorbisStyle,
)


class TagFamily(enum.Enum):
    """A column of the field map: one tag format (and version) with its own keys."""

    ID3V24 = "ID3v2.4"  # MP3, and the ID3 chunk of WAV and AIFF
    ID3V23 = "ID3v2.3"
    VORBIS = "Vorbis comment"  # FLAC, Ogg Vorbis, Opus
    MP4 = "MP4"  # AAC and ALAC in M4A
    ASF = "ASF"  # WMA


@dataclass(frozen=True)
class Field:
    """One field and its storage in every family. styles[family][0] is where it is written."""

    name: str
    writable: bool
    styles: Mapping[TagFamily, tuple[StorageStyle, ...]] = field(repr=False)

    def __post_init__(self) -> None:
        missing = set(TagFamily) - set(self.styles)
        if missing:
            raise ValueError(f"field {self.name!r} has no style for {sorted(f.value for f in missing)}")
        if self.writable and any(len(styles) != 1 for styles in self.styles.values()):
            raise ValueError(f"writable field {self.name!r} must have exactly one style per family")
        object.__setattr__(self, "styles", MappingProxyType(dict(self.styles)))

    def read_styles(self, family: TagFamily) -> tuple[StorageStyle, ...]:
        return self.styles[family]

    def write_style(self, family: TagFamily) -> StorageStyle:
        if not self.writable:
            raise ValueError(f"musictagger does not write {self.name!r}")
        return self.styles[family][0]


def _field(
    name: str,
    *,
    writable: bool,
    id3v24: tuple[StorageStyle, ...],
    id3v23: tuple[StorageStyle, ...],
    vorbis: tuple[StorageStyle, ...],
    mp4: tuple[StorageStyle, ...],
    asf: tuple[StorageStyle, ...],
) -> Field:
    styles = {
        TagFamily.ID3V24: id3v24,
        TagFamily.ID3V23: id3v23,
        TagFamily.VORBIS: vorbis,
        TagFamily.MP4: mp4,
        TagFamily.ASF: asf,
    }
    return Field(name, writable, styles)


def _joined(style: StorageStyle) -> tuple[StorageStyle, ...]:
    return (ID3v23JoinedStyle(style),)


_ITUNES = "com.apple.iTunes"

_FIELD_LIST = (
    # --- written by musictagger --------------------------------------------------------------------------
    _field(
        "genre",
        writable=True,
        id3v24=(ID3TextStyle("TCON"),),
        id3v23=_joined(ID3TextStyle("TCON")),
        vorbis=(VorbisStyle("GENRE"),),
        mp4=(MP4TextStyle("©gen"),),
        asf=(ASFStyle("WM/Genre"),),
    ),
    _field(
        "mood",
        writable=True,
        id3v24=(ID3TextStyle("TMOO"),),
        # TMOO does not exist in v2.3; Picard writes TXXX:mood there.
        id3v23=_joined(ID3UserTextStyle("mood")),
        vorbis=(VorbisStyle("MOOD"),),
        mp4=(MP4FreeformStyle(_ITUNES, "MOOD"),),
        asf=(ASFStyle("WM/Mood"),),
    ),
    # Energy 1-10 as Mixed In Key writes it (a whole number in an "EnergyLevel" user field), where Lexicon,
    # Rekordbox (via MIK's comment/grouping) and MIK itself look for it. See docs/vocabulary.md.
    _field(
        "energy",
        writable=True,
        id3v24=(ID3UserTextStyle("EnergyLevel"),),
        id3v23=(ID3UserTextStyle("EnergyLevel"),),
        vorbis=(VorbisStyle("ENERGYLEVEL"),),
        mp4=(MP4FreeformStyle(_ITUNES, "EnergyLevel"),),
        asf=(ASFStyle("EnergyLevel"),),
    ),
    # Tempo and key (musictagger/tempo_key.py): BPM a whole number (TBPM and tmpo hold integers), the key in
    # the notation [write] key_notation picks (keys.py; "Am" by default, as Rekordbox and Traktor write).
    _field(
        "bpm",
        writable=True,
        id3v24=(ID3TextStyle("TBPM"),),
        id3v23=(ID3TextStyle("TBPM"),),
        vorbis=(VorbisStyle("BPM"),),
        mp4=(MP4IntStyle("tmpo"),),
        asf=(ASFStyle("WM/BeatsPerMinute"),),
    ),
    _field(
        "key",
        writable=True,
        id3v24=(ID3TextStyle("TKEY"),),
        id3v23=(ID3TextStyle("TKEY"),),
        vorbis=(VorbisStyle("INITIALKEY"),),
        mp4=(MP4FreeformStyle(_ITUNES, "initialkey"),),
        asf=(ASFStyle("WM/InitialKey"),),
    ),
    _field(
        "comment",
        writable=True,
        # The language "eng", empty description COMM frame is the one players show; other COMM frames
        # (iTunNORM, ID3v1 comment, Songs-DB...) belong to other tools.
        id3v24=(ID3CommentStyle("eng", ""),),
        id3v23=(ID3CommentStyle("eng", ""),),
        vorbis=(VorbisStyle("COMMENT"),),
        mp4=(MP4TextStyle("©cmt"),),
        asf=(ASFStyle("Description"),),
    ),
    _field(
        "grouping",
        writable=True,
        id3v24=(ID3TextStyle("TIT1"),),
        id3v23=_joined(ID3TextStyle("TIT1")),
        vorbis=(VorbisStyle("GROUPING"),),
        mp4=(MP4TextStyle("©grp"),),
        asf=(ASFStyle("WM/ContentGroupDescription"),),
    ),
    # --- read only -----------------------------------------------------------------------------------------
    _field(
        "title",
        writable=False,
        id3v24=(ID3TextStyle("TIT2"),),
        id3v23=(ID3TextStyle("TIT2"),),
        vorbis=(VorbisStyle("TITLE"),),
        mp4=(MP4TextStyle("©nam"),),
        asf=(ASFStyle("Title"),),
    ),
    _field(
        "artist",
        writable=False,
        id3v24=(ID3TextStyle("TPE1"),),
        id3v23=(ID3TextStyle("TPE1"),),
        vorbis=(VorbisStyle("ARTIST"),),
        mp4=(MP4TextStyle("©ART"),),
        asf=(ASFStyle("Author"),),
    ),
    _field(
        "album",
        writable=False,
        id3v24=(ID3TextStyle("TALB"),),
        id3v23=(ID3TextStyle("TALB"),),
        vorbis=(VorbisStyle("ALBUM"),),
        mp4=(MP4TextStyle("©alb"),),
        asf=(ASFStyle("WM/AlbumTitle"),),
    ),
    # Picard writes a Vorbis file's key to KEY, not INITIALKEY: read, never written (see the module doc).
    _field(
        "picard_key",
        writable=False,
        id3v24=(),
        id3v23=(),
        vorbis=(VorbisStyle("KEY"),),
        mp4=(),
        asf=(),
    ),
)

#: Every field we know, by name. Immutable.
FIELDS: Mapping[str, Field] = MappingProxyType({f.name: f for f in _FIELD_LIST})

#: The fields write_tags accepts.
WRITABLE_FIELDS: frozenset[str] = frozenset(name for name, f in FIELDS.items() if f.writable)
