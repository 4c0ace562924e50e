"""Typed access to the app's stored settings (QSettings), and what they mean to the core.

    prefs = AppSettings(QSettings(...))      # tests pass an INI file in tmp_path
    prefs.device = "cpu"
    policy = prefs.write_policy()            # a WritePolicy for plan_writes / apply_writes
    selection = prefs.selection_policy()     # a SelectionPolicy for the suggestions shown

QSettings hands values back as strings from INI files and as native types from the registry or plists,
so every read goes through one converter per type, falling back to the default on anything unreadable:
a hand-edited or older settings file must never stop the app from starting.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

from musictagger.library.policy import LABEL_FIELDS, MODES, WritePolicy
from musictagger.taxonomy import SelectionPolicy

DEVICES = ("auto", "cpu", "cuda", "mps")
THEMES = ("dark", "light")
_DEFAULT_POLICY = WritePolicy()


@dataclass(frozen=True)
class _Key:
    name: str
    default: object


# One place for every key and its default; the group prefix keeps them apart from window geometry.
DEVICE = _Key("analysis/device", "auto")
MODELS = _Key("analysis/models", None)  # None: every model in models/
DISPLAY_THRESHOLD = _Key("display/threshold", SelectionPolicy().min_score)
DISPLAY_CAP = _Key("display/cap", SelectionPolicy().top_n)
THEME = _Key("display/theme", "dark")
GENRE_MODE = _Key("write/genre_mode", _DEFAULT_POLICY.genre)
MOOD_MODE = _Key("write/mood_mode", _DEFAULT_POLICY.mood)
WRITE_GENRE = _Key("write/genre_enabled", True)
WRITE_MOOD = _Key("write/mood_enabled", True)
MAX_GENRES = _Key("write/max_genres", _DEFAULT_POLICY.max_genres)
MAX_MOODS = _Key("write/max_moods", _DEFAULT_POLICY.max_moods)
MIN_SCORE = _Key("write/min_score", _DEFAULT_POLICY.min_score)
COMMENT_BLOCK = _Key("write/comment_block", _DEFAULT_POLICY.comment_block)
ID3V23_SEPARATOR = _Key("write/id3v23_separator", _DEFAULT_POLICY.id3v23_separator)


def _to_bool(value: object, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    if isinstance(value, int):
        return bool(value)
    return default


def _to_int(value: object, default: int, lowest: int = 0) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return number if number >= lowest else default


def _to_float(value: object, default: float) -> float:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return default
    return number if 0.0 <= number <= 1.0 else default


def _to_choice(value: object, choices: tuple[str, ...], default: str) -> str:
    return value if isinstance(value, str) and value in choices else default


class AppSettings:
    """Properties over one QSettings; setters write at once (QSettings syncs to disk on its own)."""

    def __init__(self, settings: QSettings):
        self.qsettings = settings

    def _get(self, key: _Key) -> object:
        return self.qsettings.value(key.name, key.default)

    def _set(self, key: _Key, value: object) -> None:
        self.qsettings.setValue(key.name, value)

    # -- analysis ---------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        return _to_choice(self._get(DEVICE), DEVICES, DEVICE.default)

    @device.setter
    def device(self, value: str) -> None:
        self._set(DEVICE, _to_choice(value, DEVICES, DEVICE.default))

    @property
    def models(self) -> list[str] | None:
        """The models to run; None (never set) means every model shipped."""
        value = self._get(MODELS)
        if value is None:
            return None
        if isinstance(value, str):  # a one-element list comes back from an INI file as a bare string
            value = [value] if value else []
        return [str(name) for name in value]

    @models.setter
    def models(self, names: list[str] | None) -> None:
        if names is None:
            self.qsettings.remove(MODELS.name)
        else:
            self._set(MODELS, list(names))

    # -- display ----------------------------------------------------------------------------------

    @property
    def display_threshold(self) -> float:
        return _to_float(self._get(DISPLAY_THRESHOLD), DISPLAY_THRESHOLD.default)

    @display_threshold.setter
    def display_threshold(self, value: float) -> None:
        self._set(DISPLAY_THRESHOLD, float(value))

    @property
    def display_cap(self) -> int:
        return _to_int(self._get(DISPLAY_CAP), DISPLAY_CAP.default, lowest=1)

    @display_cap.setter
    def display_cap(self, value: int) -> None:
        self._set(DISPLAY_CAP, int(value))

    @property
    def theme(self) -> str:
        return _to_choice(self._get(THEME), THEMES, THEME.default)

    @theme.setter
    def theme(self, value: str) -> None:
        self._set(THEME, _to_choice(value, THEMES, THEME.default))

    # -- writing ----------------------------------------------------------------------------------

    def field_mode(self, field: str) -> str:
        """The stored fill / merge / replace / skip of `field`, whether or not the field is written."""
        key = GENRE_MODE if field == "genre" else MOOD_MODE
        return _to_choice(self._get(key), MODES, key.default)

    def set_field_mode(self, field: str, mode: str) -> None:
        if field not in LABEL_FIELDS or mode not in MODES:
            raise ValueError(f"no mode {mode!r} for field {field!r}")
        self._set(GENRE_MODE if field == "genre" else MOOD_MODE, mode)

    def writes_field(self, field: str) -> bool:
        key = WRITE_GENRE if field == "genre" else WRITE_MOOD
        return _to_bool(self._get(key), key.default)

    def set_writes_field(self, field: str, enabled: bool) -> None:
        if field not in LABEL_FIELDS:
            raise ValueError(f"no field {field!r}")
        self._set(WRITE_GENRE if field == "genre" else WRITE_MOOD, bool(enabled))

    @property
    def max_genres(self) -> int:
        return _to_int(self._get(MAX_GENRES), MAX_GENRES.default)

    @max_genres.setter
    def max_genres(self, value: int) -> None:
        self._set(MAX_GENRES, int(value))

    @property
    def max_moods(self) -> int:
        return _to_int(self._get(MAX_MOODS), MAX_MOODS.default)

    @max_moods.setter
    def max_moods(self, value: int) -> None:
        self._set(MAX_MOODS, int(value))

    @property
    def min_score(self) -> float:
        return _to_float(self._get(MIN_SCORE), MIN_SCORE.default)

    @min_score.setter
    def min_score(self, value: float) -> None:
        self._set(MIN_SCORE, float(value))

    @property
    def comment_block(self) -> bool:
        return _to_bool(self._get(COMMENT_BLOCK), COMMENT_BLOCK.default)

    @comment_block.setter
    def comment_block(self, value: bool) -> None:
        self._set(COMMENT_BLOCK, bool(value))

    @property
    def id3v23_separator(self) -> str:
        value = self._get(ID3V23_SEPARATOR)
        return value if isinstance(value, str) and value else ID3V23_SEPARATOR.default

    @id3v23_separator.setter
    def id3v23_separator(self, value: str) -> None:
        if not value:
            raise ValueError("the ID3v2.3 separator cannot be empty")
        self._set(ID3V23_SEPARATOR, value)

    # -- what the core takes ----------------------------------------------------------------------

    def write_policy(self) -> WritePolicy:
        """The WritePolicy these settings describe; a field not written is ``skip`` whatever its mode."""
        modes = {
            field: self.field_mode(field) if self.writes_field(field) else "skip" for field in LABEL_FIELDS
        }
        return WritePolicy(
            genre=modes["genre"],
            mood=modes["mood"],
            max_genres=self.max_genres,
            max_moods=self.max_moods,
            min_score=self.min_score,
            comment_block=self.comment_block,
            id3v23_separator=self.id3v23_separator,
        )

    def selection_policy(self) -> SelectionPolicy:
        """What the suggestions panels show: the top `display_cap` labels at or above the threshold."""
        return SelectionPolicy(top_n=self.display_cap, min_score=self.display_threshold)
