"""What a tag write may change: per field fill / merge / replace / skip, caps, threshold, comment block.

Pure functions, no I/O: writing.py reads the file and the index, asks this module for each field's new
values, and writes only what differs. Users ask for two things above all (shared/docs/tagging.md): few
canonical genres, and "don't overwrite what I set". Hence:

- ``fill``: write the suggestions only into a field the file has no value in;
- ``merge``: keep the file's values and append the suggestions it lacks. Values are compared through the
  vocabulary (``hip hop`` in the file and ``Hip-Hop`` suggested are one genre) and case-insensitively, so
  a merge never adds a second spelling of what is there;
- ``replace``: the suggestions instead of the file's values;
- ``skip``: never touch the field.

No mode ever deletes a field for lack of evidence: with no suggestion above the threshold the field stays.

Tempo and key are one value each, like energy: ``fill`` (the default: never overwrite a BPM or key the
user, Mixed In Key or Rekordbox already wrote), ``replace`` or ``skip``. BPM is written as a whole number
(ID3's TBPM and MP4's tmpo hold integers, and DJ software lays its own beat grid anyway); the key in the
notation ``key_notation`` names (keys.py: ``short`` "Am" by default, as Rekordbox, Traktor and Serato
write TKEY; ``camelot`` "8A" as Mixed In Key does; ``open_key`` "1m"; ``musical`` "A minor").

The comment block (``[mood: Chill; Mellow | genre: Jazz]``, see tags/comment_block.py) always holds the
suggestions of both categories, whatever the field modes: DJ software shows the comment but not MOOD, so
"mood only in the comment" is ``mood="skip", comment_block=True``. The block goes into the first comment
value (Rekordbox reads only that one); the rest of the comment is kept byte for byte.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from musictagger.keys import KEY_NOTATIONS
from musictagger.tags import set_comment_block
from musictagger.tags.containers import DEFAULT_ID3V1, ID3V1_MODES
from musictagger.taxonomy import Vocabulary

MODES = ("fill", "merge", "replace", "skip")
#: The fields whose values come from the models' labels (TrackLabel.category).
LABEL_FIELDS = ("genre", "mood")
#: The comment block's segments, in the order users asked for: `[mood: … | genre: … | energy: 6]`.
BLOCK_ORDER = ("mood", "genre", "energy")
#: Energy is one number: merge means nothing for it, so it is filled, replaced or skipped.
ENERGY_MODES = ("fill", "replace", "skip")
#: So are BPM and key.
TEMPO_KEY_MODES = ENERGY_MODES
#: The notation TKEY and its equivalents get by default: what Rekordbox, Traktor and Serato write and read.
DEFAULT_KEY_NOTATION = "short"


@dataclass(frozen=True)
class WritePolicy:
    """How plan_writes turns a track's labels into tag values. Stored as JSON with each WriteBatch."""

    genre: str = "fill"
    mood: str = "fill"
    max_genres: int = 2
    max_moods: int = 2
    # None: each label at its own calibrated write threshold (taxonomy.Vocabulary.passes); a number: one
    # calibrated probability for every label (a user's explicit --min-score).
    min_score: float | None = None
    comment_block: bool = False
    energy: str = "fill"  # the EnergyLevel field: fill keeps what Mixed In Key (or the user) put there
    bpm: str = "fill"  # TBPM and its equivalents: fill never overwrites a BPM already there
    key: str = "fill"  # TKEY and its equivalents (Vorbis also counts Picard's KEY as a key already there)
    key_notation: str = DEFAULT_KEY_NOTATION  # keys.KEY_NOTATIONS: how a written key is spelled
    # ID3v2.3 has no multi-valued text frames: genre and mood values are joined with this (and split on it
    # when read back), so reading and writing must agree; undo uses the batch's own.
    id3v23_separator: str = "; "
    # What every write does with an MP3's ID3v1 tag: keep, update or remove (tags.containers.ID3V1_MODES;
    # the default, update, is explained at DEFAULT_ID3V1). Undo uses the batch's own, and puts back a v1
    # tag the write changed byte for byte whatever it says.
    id3v1: str = DEFAULT_ID3V1
    # An empty genre or mood that no confident label fills takes what the same recording's other files
    # hold (library/recordings.py), when they agree: the user's own tag on the same audio, not a guess.
    from_copies: bool = True

    def __post_init__(self) -> None:
        for name in LABEL_FIELDS:
            if getattr(self, name) not in MODES:
                raise ValueError(
                    f"{name} mode must be one of {', '.join(MODES)}, not {getattr(self, name)!r}"
                )
        for name in ("max_genres", "max_moods"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number ≥ 0, not {value!r}")
        if not isinstance(self.id3v23_separator, str) or not self.id3v23_separator:
            raise ValueError("id3v23_separator must be a non-empty string")
        for name in ("energy", "bpm", "key"):
            if getattr(self, name) not in ENERGY_MODES:
                raise ValueError(
                    f"{name} mode must be one of {', '.join(ENERGY_MODES)}, not {getattr(self, name)!r}"
                )
        if self.key_notation not in KEY_NOTATIONS:
            raise ValueError(
                f"key_notation must be one of {', '.join(KEY_NOTATIONS)}, not {self.key_notation!r}"
            )
        if self.min_score is not None and not (
            isinstance(self.min_score, int | float) and 0.0 <= self.min_score <= 1.0
        ):
            raise ValueError(f"min_score must be None (per-label thresholds) or 0..1, not {self.min_score!r}")
        if self.id3v1 not in ID3V1_MODES:
            raise ValueError(f"id3v1 must be one of {', '.join(ID3V1_MODES)}, not {self.id3v1!r}")

    def mode(self, field: str) -> str:
        return getattr(self, field)

    def cap(self, field: str) -> int:
        return self.max_genres if field == "genre" else self.max_moods

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WritePolicy:
        """The policy of a stored batch; keys a later version added are ignored, missing ones default."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def value_key(value: str, vocabulary: Vocabulary) -> str:
    """What two spellings of one label have in common: the canonical name, else the folded text."""
    canonical = vocabulary.canonical_name(value)
    return (canonical or " ".join(value.split())).casefold()


def unique_values(values: Sequence[str], vocabulary: Vocabulary) -> list[str]:
    """`values` without later spellings of an earlier one, order kept."""
    seen: set[str] = set()
    kept = []
    for value in values:
        key = value_key(value, vocabulary)
        if key not in seen:
            seen.add(key)
            kept.append(value)
    return kept


def resolve_field(
    mode: str, current: Sequence[str], suggestions: Sequence[str], vocabulary: Vocabulary
) -> list[str]:
    """The values a field should hold after the write (equal to `current` when nothing changes).

    `suggestions` are canonical labels, best first, already capped and above the threshold.
    """
    current = list(current)
    if mode == "skip" or not suggestions:
        return current
    if mode == "fill":
        has_value = any(value.strip() for value in current)
        return current if has_value else list(suggestions)
    if mode == "merge":
        present = {value_key(value, vocabulary) for value in current}
        return current + [s for s in suggestions if value_key(s, vocabulary) not in present]
    if mode == "replace":
        return list(suggestions)
    raise ValueError(f"unknown mode {mode!r}")


def comment_with_block(current: Sequence[str], block: Mapping[str, Sequence[str]]) -> list[str]:
    """The comment values with our block set in the first one (removed when `block` has no values).

    Raises ValueError when a label cannot go into a block (it holds `[ ] | ;` or a line break).
    """
    block = {name: list(block[name]) for name in BLOCK_ORDER if block.get(name)}
    first = set_comment_block(current[0] if current else "", block or None)
    rest = list(current[1:])
    # A comment that held only our block loses the field rather than keep an empty value.
    return ([first] if first or rest else []) + rest
