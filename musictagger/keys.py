"""Musical keys as DJs name them: one canonical key, read from any common notation, written in any.

A key is a pitch class (0 = C … 11 = B) and a mode (major / minor). `parse_key` reads the notations a
library holds: musical names ("A minor", "F# major", "Bbm", "Amin", "C♯m", "Db"), Camelot ("8A", Mixed
In Key) and Open Key ("1m", Traktor). `Key` renders itself in each notation:

| notation   | example     | who writes it                                    |
|------------|-------------|--------------------------------------------------|
| `musical`  | "A minor"   | the canonical name (the index, `tag --json`)     |
| `short`    | "Am"        | Rekordbox, Traktor, Serato, the ID3 TKEY frame   |
| `camelot`  | "8A"        | Mixed In Key                                     |
| `open_key` | "1m"        | Traktor's Open Key                               |

Spelling: each key takes the name whose key signature has the fewest accidentals (Db major, not C#
major; G# minor, not Ab minor; Bb minor, not A# minor), which is how sheet music and most DJ software
spell them. The two six-accidental ties take F# major and Eb minor, as Mixed In Key's wheel does. So
every key has exactly one canonical name, and a key read in any spelling ("A# minor") compares equal to
the same key read in another ("Bbm").

Compatibility (harmonic mixing) is the Camelot rule: the same key, one step either way round the wheel
(a fifth up or down, same mode), and the relative major / minor (same number, other letter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

KeyNotation = Literal["musical", "short", "camelot", "open_key"]
KEY_NOTATIONS: tuple[KeyNotation, ...] = ("musical", "short", "camelot", "open_key")


class Mode(StrEnum):
    MAJOR = "major"
    MINOR = "minor"


# Canonical spelling per pitch class (see the module docstring for the rule).
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")

_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# The Camelot number of C major is 8 and of A minor 8; each step round the wheel is a fifth (7
# semitones). Open Key is the same wheel numbered from C major / A minor = 1.
_CAMELOT_OF_C_MAJOR = 8
_CAMELOT_OF_A_MINOR = 8


@dataclass(frozen=True, order=True)
class Key:
    """One of the 24 major / minor keys. Compare, hash and sort by (pitch class, mode)."""

    pitch_class: int
    mode: Mode

    def __post_init__(self) -> None:
        if not 0 <= self.pitch_class <= 11:
            raise ValueError(f"pitch class {self.pitch_class} is not 0..11")
        object.__setattr__(self, "mode", Mode(self.mode))

    @property
    def is_minor(self) -> bool:
        return self.mode is Mode.MINOR

    @property
    def tonic(self) -> str:
        """The tonic's canonical spelling: "A", "F#", "Bb"."""
        return (_MINOR_NAMES if self.is_minor else _MAJOR_NAMES)[self.pitch_class]

    @property
    def musical(self) -> str:
        """The canonical name: "A minor", "F# major"."""
        return f"{self.tonic} {self.mode.value}"

    @property
    def short(self) -> str:
        """The short name DJ software writes to TKEY: "Am", "F#", "Bbm"."""
        return self.tonic + ("m" if self.is_minor else "")

    @property
    def camelot_number(self) -> int:
        """1..12: the key's position on the Camelot wheel."""
        home, root = (_CAMELOT_OF_A_MINOR, 9) if self.is_minor else (_CAMELOT_OF_C_MAJOR, 0)
        fifths = (self.pitch_class - root) * 7 % 12  # steps of a fifth from the home key
        return (home - 1 + fifths) % 12 + 1

    @property
    def camelot(self) -> str:
        """Mixed In Key's code: "8A" (A minor), "8B" (C major); A = minor, B = major."""
        return f"{self.camelot_number}{'A' if self.is_minor else 'B'}"

    @property
    def open_key(self) -> str:
        """Traktor's Open Key code: "1m" (A minor), "1d" (C major)."""
        number = (self.camelot_number - _CAMELOT_OF_C_MAJOR) % 12 + 1
        return f"{number}{'m' if self.is_minor else 'd'}"

    def relative(self) -> Key:
        """The relative major of a minor key, or the relative minor of a major key (same notes)."""
        if self.is_minor:
            return Key((self.pitch_class + 3) % 12, Mode.MAJOR)
        return Key((self.pitch_class + 9) % 12, Mode.MINOR)

    def parallel(self) -> Key:
        """The same tonic in the other mode (A minor ↔ A major)."""
        return Key(self.pitch_class, Mode.MAJOR if self.is_minor else Mode.MINOR)

    def fifth_up(self) -> Key:
        """One step clockwise on the wheel (Camelot +1)."""
        return Key((self.pitch_class + 7) % 12, self.mode)

    def fifth_down(self) -> Key:
        """One step counter-clockwise on the wheel (Camelot −1)."""
        return Key((self.pitch_class + 5) % 12, self.mode)

    def render(self, notation: KeyNotation) -> str:
        """The key in a notation by name: musical, short, camelot or open_key."""
        if notation not in KEY_NOTATIONS:
            raise ValueError(f"unknown key notation {notation!r}; one of {', '.join(KEY_NOTATIONS)}")
        return getattr(self, notation)

    def __str__(self) -> str:
        return self.musical


ALL_KEYS: tuple[Key, ...] = tuple(Key(pc, mode) for mode in (Mode.MAJOR, Mode.MINOR) for pc in range(12))


class KeyParseError(ValueError):
    """A text that names no key in any notation this module reads."""


_WHEEL = re.compile(r"^0?(?P<number>[1-9]|1[0-2])\s*(?P<letter>[abdm])$", re.IGNORECASE)
_MUSICAL = re.compile(
    r"^(?P<letter>[a-g])\s*(?P<accidental>[#♯b♭]?)\s*[-_]?\s*"
    r"(?P<mode>major|maj|minor|min|m|moll|dur)?$",
    re.IGNORECASE,
)


def parse_key(text: str) -> Key:
    """The key a text names, in any notation a DJ library holds; `KeyParseError` if none.

    Musical names take an optional mode ("A" is A major, as in TKEY); a lower-case "m" or "min" is
    minor, "M" alone is read as minor too, because DJ software writes "Am", never "AM" for A major.
    """
    cleaned = " ".join(str(text).strip().split())
    if not cleaned:
        raise KeyParseError("an empty key")
    wheel = _WHEEL.match(cleaned)
    if wheel:
        return _from_wheel(int(wheel["number"]), wheel["letter"].lower(), cleaned)
    musical = _MUSICAL.match(cleaned)
    if musical:
        pitch_class = _NATURALS[musical["letter"].upper()]
        accidental = musical["accidental"]
        if accidental in ("#", "♯"):
            pitch_class += 1
        elif accidental in ("b", "♭"):
            pitch_class -= 1
        mode_word = (musical["mode"] or "major").lower()
        mode = Mode.MINOR if mode_word in ("minor", "min", "m", "moll") else Mode.MAJOR
        return Key(pitch_class % 12, mode)
    raise KeyParseError(f"{text!r} names no key (expected e.g. 'A minor', 'Am', '8A' or '1m')")


def try_parse_key(text: str | None) -> Key | None:
    """`parse_key`, or None for an empty or unreadable text (a tag written by hand, "o" for off-key)."""
    if text is None:
        return None
    try:
        return parse_key(text)
    except KeyParseError:
        return None


def _from_wheel(number: int, letter: str, text: str) -> Key:
    if letter in ("a", "b"):  # Camelot: A minor keys, B major keys
        mode = Mode.MINOR if letter == "a" else Mode.MAJOR
        steps = number - (_CAMELOT_OF_A_MINOR if mode is Mode.MINOR else _CAMELOT_OF_C_MAJOR)
    else:  # Open Key: m minor, d major; 1 = A minor / C major
        mode = Mode.MINOR if letter == "m" else Mode.MAJOR
        steps = number - 1
    root = 9 if mode is Mode.MINOR else 0
    return Key((root + 7 * steps) % 12, mode)


def compatible_keys(key: Key) -> tuple[Key, ...]:
    """The keys that mix harmonically with `key`: itself, Camelot ±1, and its relative (4 keys)."""
    return (key, key.fifth_down(), key.fifth_up(), key.relative())


def are_compatible(a: Key, b: Key) -> bool:
    """Whether two keys mix harmonically by the Camelot rule (symmetric)."""
    return b in compatible_keys(a)


def canonical_key_name(text: str | None) -> str | None:
    """The canonical musical name of a key in any notation, or None when the text names no key."""
    key = try_parse_key(text)
    return key.musical if key is not None else None
