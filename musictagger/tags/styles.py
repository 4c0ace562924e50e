"""Storage styles: how one field's list of strings is kept in one kind of tag.

A style knows a single place in a single tag kind (an ID3 frame, a Vorbis comment name, an MP4 atom, an
ASF attribute) and can get, set and delete a list of strings there. The field map (fields.py) says which
style each field uses in each tag family, so code above this layer never branches on the format.

Every style also names its `key`: the key under which its data appears in the tag snapshot that the safe
writer compares before and after a write (containers.py). Everything outside the keys of the fields being
written must come back unchanged.

Styles are immutable values; they operate on mutagen tag objects passed in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mutagen import id3
from mutagen.asf import ASFUnicodeAttribute
from mutagen.mp4 import AtomDataType, MP4FreeForm

# ID3 text encoding for frames we write. mutagen turns it into UTF-16 when saving as ID3v2.3.
_ID3_UTF8 = id3.Encoding.UTF8


@dataclass(frozen=True)
class StyleOptions:
    """Per-call settings a style may need."""

    # ID3v2.3 has no multi-value text frames: several values are joined with this and split on read.
    id3v23_separator: str = "; "


class StorageStyle(ABC):
    """One place in one tag kind that holds a list of strings."""

    @property
    @abstractmethod
    def key(self) -> str:
        """This style's key in the container's tag snapshot (see containers.TagFormat.snapshot)."""

    @abstractmethod
    def get(self, tags: Any, options: StyleOptions) -> list[str]:
        """The values stored here; [] when absent."""

    @abstractmethod
    def set(self, tags: Any, values: Sequence[str], options: StyleOptions) -> None:
        """Store `values` (non-empty) here, replacing what was there."""

    @abstractmethod
    def delete(self, tags: Any) -> None:
        """Remove this place from the tag; nothing else."""

    def check(self, values: Sequence[str], options: StyleOptions) -> None:
        """Raise ValueError when `values` cannot be stored so that get() returns them unchanged."""
        return None  # most places take any string


def _refuse_nul(values: Sequence[str], where: str) -> None:
    # NUL separates values in ID3 text frames and ends ASF strings: a value with NUL would read back split.
    if any("\x00" in value for value in values):
        raise ValueError(f"{where} cannot hold NUL characters")


# --- ID3 -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ID3TextStyle(StorageStyle):
    """A standard ID3 text frame (TCON, TMOO, TIT1...). ID3v2.4 stores several values NUL-separated."""

    frame_id: str

    @property
    def key(self) -> str:
        return self.frame_id

    def get(self, tags, options):
        frame = tags.get(self.frame_id)
        return [str(text) for text in frame.text] if frame is not None else []

    def set(self, tags, values, options):
        # Item assignment, not tags.add(): add() may merge with or "upgrade" an existing frame.
        tags[self.key] = id3.Frames[self.frame_id](encoding=_ID3_UTF8, text=list(values))

    def delete(self, tags):
        tags.pop(self.frame_id, None)

    def check(self, values, options):
        _refuse_nul(values, "ID3 text frames")


@dataclass(frozen=True)
class ID3UserTextStyle(StorageStyle):
    """A TXXX frame with a given description (case-sensitive, as ID3 frame keys are)."""

    desc: str

    @property
    def key(self) -> str:
        return f"TXXX:{self.desc}"

    def get(self, tags, options):
        frame = tags.get(self.key)
        return [str(text) for text in frame.text] if frame is not None else []

    def set(self, tags, values, options):
        tags[self.key] = id3.TXXX(encoding=_ID3_UTF8, desc=self.desc, text=list(values))

    def delete(self, tags):
        tags.pop(self.key, None)

    def check(self, values, options):
        _refuse_nul(values, "ID3 text frames")


@dataclass(frozen=True)
class ID3CommentStyle(StorageStyle):
    """One COMM frame, chosen by language and description; other COMM frames are left alone.

    Comments are free text, so even in ID3v2.3 they are not split on the separator; several values are
    written NUL-separated, the way mutagen reads them back.
    """

    lang: str = "eng"
    desc: str = ""

    @property
    def key(self) -> str:
        return f"COMM:{self.desc}:{self.lang}"

    def get(self, tags, options):
        frame = tags.get(self.key)
        return [str(text) for text in frame.text] if frame is not None else []

    def set(self, tags, values, options):
        tags[self.key] = id3.COMM(encoding=_ID3_UTF8, lang=self.lang, desc=self.desc, text=list(values))

    def delete(self, tags):
        tags.pop(self.key, None)

    def check(self, values, options):
        _refuse_nul(values, "ID3 comments")


@dataclass(frozen=True)
class ID3v23JoinedStyle(StorageStyle):
    """Wraps an ID3 style for ID3v2.3: several values become one string joined by the separator.

    On read every stored string is split again, so `["House", "Techno"]` round-trips. A value that
    contains the separator itself cannot round-trip and is refused by check().
    """

    inner: StorageStyle

    @property
    def key(self) -> str:
        return self.inner.key

    def get(self, tags, options):
        sep = options.id3v23_separator
        return [part for text in self.inner.get(tags, options) for part in text.split(sep)]

    def set(self, tags, values, options):
        self.inner.set(tags, [options.id3v23_separator.join(values)], options)

    def delete(self, tags):
        self.inner.delete(tags)

    def check(self, values, options):
        self.inner.check(values, options)
        sep = options.id3v23_separator
        clashing = [value for value in values if sep in value]
        if clashing:
            raise ValueError(
                f"ID3v2.3 joins several values with {sep!r}, which already occurs in {clashing[0]!r}"
            )


# --- Vorbis comments and ASF: both are ordered lists of (name, value) pairs --------------------------------


def _pairs(tags: list) -> list[tuple[str, Any]]:
    # list's own iteration: the mutagen classes add dict-like item access on top of the list.
    return list(list.__iter__(tags))


def _replace_pairs(tags: list, matches: Callable[[str], bool], name: str, new_values: Sequence[Any]) -> None:
    """Replace the pairs whose name matches by (name, value) pairs, in place in the list.

    The new pairs take the position of the first old one and keep its spelling of the name, so writing
    back old values (undo) restores the list as it was when those values were contiguous.
    """
    pairs = _pairs(tags)
    positions = [i for i, (key, _) in enumerate(pairs) if matches(key)]
    at = len(pairs)
    if positions:
        name = pairs[positions[0]][0]
        at = positions[0]
    kept = [pair for pair in pairs if not matches(pair[0])]
    rebuilt = [*kept[:at], *((name, value) for value in new_values), *kept[at:]]
    list.clear(tags)
    list.extend(tags, rebuilt)


@dataclass(frozen=True)
class VorbisStyle(StorageStyle):
    """A Vorbis comment name (case-insensitive by the spec); one comment per value."""

    name: str

    @property
    def key(self) -> str:
        return self.name.lower()

    def _matches(self, key: str) -> bool:
        return key.lower() == self.key

    def get(self, tags, options):
        return [value for key, value in _pairs(tags) if self._matches(key)]

    def set(self, tags, values, options):
        _replace_pairs(tags, self._matches, self.name, list(values))

    def delete(self, tags):
        _replace_pairs(tags, self._matches, self.name, [])

    def check(self, values, options):
        _refuse_nul(values, "Vorbis comments")


@dataclass(frozen=True)
class ASFStyle(StorageStyle):
    """An ASF (WMA) attribute; several values are several attributes of the same name."""

    name: str

    @property
    def key(self) -> str:
        return self.name

    def _matches(self, key: str) -> bool:
        return key == self.name

    def get(self, tags, options):
        return [str(value.value) for key, value in _pairs(tags) if self._matches(key)]

    def set(self, tags, values, options):
        _replace_pairs(tags, self._matches, self.name, [ASFUnicodeAttribute(value) for value in values])

    def delete(self, tags):
        _replace_pairs(tags, self._matches, self.name, [])

    def check(self, values, options):
        _refuse_nul(values, "ASF strings")


# --- MP4 -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MP4TextStyle(StorageStyle):
    """An iTunes text atom (©gen, ©cmt, ©grp...) holding a list of strings."""

    atom: str

    @property
    def key(self) -> str:
        return self.atom

    def get(self, tags, options):
        return [str(value) for value in tags.get(self.atom, [])]

    def set(self, tags, values, options):
        tags[self.atom] = list(values)

    def delete(self, tags):
        tags.pop(self.atom, None)


@dataclass(frozen=True)
class MP4IntStyle(StorageStyle):
    """An iTunes integer atom such as tmpo (BPM)."""

    atom: str

    @property
    def key(self) -> str:
        return self.atom

    def get(self, tags, options):
        return [str(value) for value in tags.get(self.atom, [])]

    def set(self, tags, values, options):
        tags[self.atom] = [int(value) for value in values]

    def delete(self, tags):
        tags.pop(self.atom, None)

    def check(self, values, options):
        for value in values:
            if not value.isdigit() or str(int(value)) != value:
                raise ValueError(f"MP4 {self.atom} holds whole numbers, not {value!r}")


@dataclass(frozen=True)
class MP4FreeformStyle(StorageStyle):
    """An iTunes freeform atom `----:mean:name`, one UTF-8 data atom per value."""

    mean: str
    name: str

    @property
    def key(self) -> str:
        return f"----:{self.mean}:{self.name}"

    def get(self, tags, options):
        values = []
        for value in tags.get(self.key, []):
            encoding = "utf-16-be" if getattr(value, "dataformat", None) == AtomDataType.UTF16 else "utf-8"
            values.append(bytes(value).decode(encoding, errors="replace"))
        return values

    def set(self, tags, values, options):
        tags[self.key] = [
            MP4FreeForm(value.encode("utf-8"), dataformat=AtomDataType.UTF8) for value in values
        ]

    def delete(self, tags):
        tags.pop(self.key, None)
