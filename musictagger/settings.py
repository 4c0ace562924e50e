"""The user's settings: one TOML file that the app and the command line both read (Qt-free).

    settings = load_settings()                      # config_dir()/settings.toml; missing file = defaults
    settings.analysis.device                        # "auto"
    policy = settings.write_policy()                # WritePolicy for services.writes / library.writing
    selection = settings.selection_policy()         # SelectionPolicy: what the panels and `tag` show
    save_settings(dataclasses.replace(settings, display=dataclasses.replace(settings.display, cap=5)))

The file has three tables, ``[analysis]``, ``[display]`` and ``[write]``, and one top-level key,
``vocabulary``; docs/settings.md documents every key. Every key is optional: an absent key takes its
default, and so does a value that cannot be used (wrong type, out of range, unknown choice), with a warning
naming the key: a hand-edited file never stops the app or a command. Saving rewrites the file atomically
with tomlkit, keeping the user's comments and any key this version does not know.

The defaults live here once. Those of the write policy and of the suggestions shown are the core's own
(``WritePolicy()`` and ``SelectionPolicy()``), read from those dataclasses rather than copied.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from musictagger.atomic import write_atomically
from musictagger.device import LIBRARY_PRECISIONS, PRECISIONS
from musictagger.keys import KEY_NOTATIONS
from musictagger.library.policy import ENERGY_MODES, ID3V1_MODES, MODES, TEMPO_KEY_MODES, WritePolicy
from musictagger.paths import config_dir
from musictagger.sampling import DEFAULT_PATCH_BUDGET
from musictagger.taxonomy import SelectionPolicy, Vocabulary, load_vocabulary
from musictagger.tempo import DEFAULT_RANGE

log = logging.getLogger("musictagger.settings")

SETTINGS_FILE = "settings.toml"
THEMES = ("dark", "light")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_POLICY = WritePolicy()
_SELECTION = SelectionPolicy()


class SettingsValueError(ValueError):
    """A value that no setting can take; the message says what the key accepts."""


# -- converters: a TOML value -> the setting's value, or SettingsValueError ------------------------------


def _choice(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise SettingsValueError(f"one of {', '.join(choices)}")

    return convert


def _device(value: Any) -> str:
    if isinstance(value, str) and _DEVICE.match(value):
        return value
    raise SettingsValueError("auto, cpu, cuda, cuda:N or mps")


def _whole(lowest: int, highest: int | None = None) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        whole = isinstance(value, int) and not isinstance(value, bool)
        if whole and value >= lowest and (highest is None or value <= highest):
            return int(value)
        upper = f" and at most {highest}" if highest is not None else ""
        raise SettingsValueError(f"a whole number at least {lowest}{upper}")

    return convert


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        return None if value is None else convert(value)

    return optional


def _score(value: Any) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not math.isnan(value) and 0.0 <= value <= 1.0:
        return float(value)
    raise SettingsValueError("a number from 0 to 1")


AUTO = "auto"


def _score_or_auto(value: Any) -> float | str:
    """``"auto"`` (each label at its calibrated threshold) or one probability for every label."""
    if value == AUTO:
        return AUTO
    try:
        return _score(value)
    except SettingsValueError:
        raise SettingsValueError(
            f'"{AUTO}" (per-label calibrated thresholds) or a number from 0 to 1'
        ) from None


def _tempo_range(value: Any) -> tuple[float, float]:
    """Two BPM values, low and high, at least an octave apart (tempi are folded into the range)."""
    numbers = isinstance(value, list | tuple) and len(value) == 2
    numbers = numbers and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if numbers and value[0] >= 20 and value[1] <= 400 and value[1] >= 2 * value[0]:
        return (float(value[0]), float(value[1]))
    raise SettingsValueError("[low, high] in BPM, 20 to 400, with high at least twice low, e.g. [70, 180]")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise SettingsValueError("true or false")


def _names(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple) and all(isinstance(name, str) and name for name in value):
        return tuple(value)
    raise SettingsValueError('a list of names, e.g. ["MSD_musicnn"]')


def _text(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise SettingsValueError("a non-empty string")


def _path(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | os.PathLike) and os.fspath(value):
        return os.fspath(value)
    raise SettingsValueError("a file path")


def _key(convert: Callable[[Any], Any], help: str, example: str | None = None) -> dict[str, Any]:
    """Field metadata: the converter that checks a value, one line for the file's comments and, for a key
    that defaults to "absent", an example shown commented out in a fresh file."""
    return {"convert": convert, "help": help, "example": example}


# -- the settings ----------------------------------------------------------------------------------------


def _check(instance: Any) -> None:
    """Run every field's converter (raises SettingsValueError naming the key), storing what it returns."""
    for f in dataclasses.fields(instance):
        try:
            value = f.metadata["convert"](getattr(instance, f.name))
        except SettingsValueError as exc:
            raise SettingsValueError(f"{instance.TABLE}.{f.name} must be {exc}") from None
        object.__setattr__(instance, f.name, value)


@dataclass(frozen=True)
class AnalysisSettings:
    """How tracks are analysed: by tag and scan, and by the app from its next start."""

    TABLE = "analysis"

    device: str = field(
        default="auto", metadata=_key(_device, "auto (a GPU when there is one), cpu, cuda, cuda:N or mps")
    )
    precision: str = field(
        default="auto",
        metadata=_key(
            _choice(*PRECISIONS),
            "auto (bf16 on a CPU with AMX, else fp32), fp32 or bf16: how the taggers compute",
        ),
    )
    library_precision: str = field(
        default="auto",
        metadata=_key(
            _choice(*LIBRARY_PRECISIONS),
            "library mode's taggers: auto (int8 on a CPU with VNNI or AMX, else as precision), int8, or "
            "same (as precision); the full analysis never runs int8",
        ),
    )
    models: tuple[str, ...] | None = field(
        default=None,
        metadata=_key(
            _names, "taggers to run; absent: every tagger in models/", '["MSD_musicnn", "MTT_musicnn"]'
        ),
    )
    heads: tuple[str, ...] | None = field(
        default=None,
        metadata=_key(_names, "heads to run; absent: every head whose models run", '["genre_gtzan"]'),
    )
    run_heads: bool = field(default=True, metadata=_key(_flag, "false: run no head at all"))
    batch_size: int | None = field(
        default=None,
        metadata=_key(_optional(_whole(1)), "patches per model call; absent: 16 on a CPU, 64 on a GPU", "64"),
    )
    workers: int = field(default=2, metadata=_key(_whole(1), "decoding threads"))
    tempo_key: bool = field(
        default=True, metadata=_key(_flag, "estimate each track's tempo (BPM) and key; false: neither")
    )
    tempo_range: tuple[float, float] = field(
        default=DEFAULT_RANGE,
        metadata=_key(
            _tempo_range, "preferred BPM range [low, high]: a tempo outside is doubled or halved into it"
        ),
    )
    full: bool = field(
        default=False,
        metadata=_key(
            _flag,
            "true: scan and tag analyse every 3-s patch of every track; false: library mode, "
            "library_patches spread over each track (the app's track view is always full)",
        ),
    )
    library_patches: int = field(
        default=DEFAULT_PATCH_BUDGET,
        metadata=_key(
            _whole(1), "library mode: 3-s patches analysed per track, spread over it; a shorter track is full"
        ),
    )

    def __post_init__(self) -> None:
        _check(self)

    def heads_to_run(self) -> tuple[str, ...] | None:
        """What ``Analyzer(heads=...)`` takes: None = every head whose models run, () = none."""
        return self.heads if self.run_heads else ()

    def patch_budget(self) -> int | None:
        """What ``analyse_files(patch_budget=...)`` takes: patches per track in library mode, None = full."""
        return None if self.full else self.library_patches


@dataclass(frozen=True)
class DisplaySettings:
    """What the app's suggestion panels and the printing tag command show; the app's look."""

    TABLE = "display"

    threshold: float = field(
        default=_SELECTION.min_score, metadata=_key(_score, "labels scoring below this are not shown")
    )
    cap: int = field(default=_SELECTION.top_n, metadata=_key(_whole(1), "at most this many per category"))
    theme: str = field(default="dark", metadata=_key(_choice(*THEMES), "dark or light"))
    key_notation: str = field(
        default="camelot",
        metadata=_key(
            _choice(*KEY_NOTATIONS),
            'how the app shows keys: camelot ("8A", harmonic mixing), open_key ("1m"), short ("Am") or '
            'musical ("A minor")',
        ),
    )

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class WriteSettings:
    """How genres and moods are written into the files' tags (tag --write and the app's Write)."""

    TABLE = "write"

    genre_mode: str = field(
        default=_POLICY.genre,
        metadata=_key(_choice(*MODES), "fill (only empty fields), merge, replace or skip"),
    )
    mood_mode: str = field(default=_POLICY.mood, metadata=_key(_choice(*MODES), "as genre_mode, for mood"))
    write_genre: bool = field(
        default=True, metadata=_key(_flag, "false: never touch genre (keeps genre_mode for later)")
    )
    write_mood: bool = field(default=True, metadata=_key(_flag, "false: never touch mood"))
    max_genres: int = field(default=_POLICY.max_genres, metadata=_key(_whole(0), "genres to write at most"))
    max_moods: int = field(default=_POLICY.max_moods, metadata=_key(_whole(0), "moods to write at most"))
    min_score: float | str = field(
        default=AUTO,
        metadata=_key(
            _score_or_auto,
            '"auto": each genre and mood at its own calibrated threshold (docs/vocabulary.md); '
            "a number: write only labels whose calibrated probability is at least this",
        ),
    )
    energy_mode: str = field(
        default=_POLICY.energy,
        metadata=_key(
            _choice(*ENERGY_MODES),
            "EnergyLevel (1-10): fill (only if empty: keeps Mixed In Key's), replace or skip",
        ),
    )
    bpm_mode: str = field(
        default=_POLICY.bpm,
        metadata=_key(
            _choice(*TEMPO_KEY_MODES),
            "BPM (a whole number): fill (only if the file has none), replace or skip",
        ),
    )
    key_mode: str = field(
        default=_POLICY.key,
        metadata=_key(
            _choice(*TEMPO_KEY_MODES),
            "key: fill (only if the file has none: keeps Mixed In Key's), replace or skip",
        ),
    )
    key_notation: str = field(
        default=_POLICY.key_notation,
        metadata=_key(
            _choice(*KEY_NOTATIONS),
            'how a written key is spelled: short ("Am", Rekordbox/Traktor/Serato), camelot ("8A", Mixed In '
            'Key), open_key ("1m") or musical ("A minor")',
        ),
    )
    comment_block: bool = field(
        default=_POLICY.comment_block,
        metadata=_key(_flag, "keep a [mood: … | genre: …] block in the comment, for DJ software"),
    )
    id3v23_separator: str = field(
        default=_POLICY.id3v23_separator,
        metadata=_key(_text, "joins several values in an ID3v2.3 file (one value per frame)"),
    )
    id3v1: str = field(
        default=_POLICY.id3v1,
        metadata=_key(
            _choice(*ID3V1_MODES),
            "an MP3's ID3v1 tag on every write: update (from the new values), keep (as it is) or remove",
        ),
    )
    from_copies: bool = field(
        default=_POLICY.from_copies,
        metadata=_key(
            _flag,
            "an empty genre or mood no confident label fills takes what the same recording's other files "
            "hold (a FLAC and its MP3), when they agree",
        ),
    )

    def __post_init__(self) -> None:
        _check(self)

    def mode(self, field_name: str) -> str:
        """The stored mode of ``genre`` or ``mood``, whether or not that field is written."""
        return self.genre_mode if field_name == "genre" else self.mood_mode

    def writes(self, field_name: str) -> bool:
        return self.write_genre if field_name == "genre" else self.write_mood


SECTIONS = {"analysis": AnalysisSettings, "display": DisplaySettings, "write": WriteSettings}
_VOCABULARY_HELP = "vocabulary JSON; absent: yours in the config folder, else the shipped one"


@dataclass(frozen=True)
class Settings:
    """Everything a user sets; ``Settings()`` is the defaults."""

    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    write: WriteSettings = field(default_factory=WriteSettings)
    vocabulary: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "vocabulary", _path(self.vocabulary))
        except SettingsValueError as exc:
            raise SettingsValueError(f"vocabulary must be {exc}") from None

    def write_policy(self) -> WritePolicy:
        """The WritePolicy these settings describe; a field not written is ``skip`` whatever its mode."""
        w = self.write
        return WritePolicy(
            genre=w.genre_mode if w.write_genre else "skip",
            mood=w.mood_mode if w.write_mood else "skip",
            max_genres=w.max_genres,
            max_moods=w.max_moods,
            min_score=None if w.min_score == AUTO else w.min_score,
            comment_block=w.comment_block,
            energy=w.energy_mode,
            bpm=w.bpm_mode,
            key=w.key_mode,
            key_notation=w.key_notation,
            id3v23_separator=w.id3v23_separator,
            id3v1=w.id3v1,
            from_copies=w.from_copies,
        )

    def selection_policy(self) -> SelectionPolicy:
        """What is shown: the top ``display.cap`` labels per category at ``display.threshold`` or above."""
        return SelectionPolicy(top_n=self.display.cap, min_score=self.display.threshold)

    def load_vocabulary(self) -> Vocabulary:
        """The vocabulary file these settings name (absent: the user's copy, else the shipped one)."""
        return load_vocabulary(Path(self.vocabulary).expanduser() if self.vocabulary else None)

    def replace(self, **tables: Mapping[str, Any]) -> Settings:
        """A copy with some keys changed: ``settings.replace(write={"max_genres": 3}, vocabulary=None)``.

        Raises SettingsValueError (a ValueError) naming the key for a value it cannot take.
        """
        changes: dict[str, Any] = {}
        for name, values in tables.items():
            if name == "vocabulary":
                changes[name] = values
            elif name in SECTIONS:
                known = {f.name for f in dataclasses.fields(SECTIONS[name])}
                unknown = sorted(set(values) - known)
                if unknown:
                    raise SettingsValueError(
                        f"no key {name}.{unknown[0]}; [{name}] has {', '.join(sorted(known))}"
                    )
                changes[name] = dataclasses.replace(getattr(self, name), **dict(values))
            else:
                raise SettingsValueError(f"no settings table {name!r}")
        return dataclasses.replace(self, **changes)


# -- the file ----------------------------------------------------------------------------------------------


def settings_path() -> Path:
    """``settings.toml`` in the user's config folder (``MUSICTAGGER_CONFIG_DIR`` overrides the folder)."""
    return config_dir() / SETTINGS_FILE


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """The settings in ``path`` (default: settings_path()). Never raises for the file's content: a missing
    file gives the defaults, a TOML syntax error gives the defaults with a warning, and each unusable value
    its key's default with a warning naming the key."""
    path = Path(path) if path is not None else settings_path()
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("%s: cannot read the settings (%s); using the defaults", path, _reason(exc))
        return Settings()
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        log.warning("%s: not valid TOML (%s); using the defaults", path, exc)
        return Settings()
    return settings_from_dict(doc, source=str(path))


def settings_from_dict(doc: Mapping[str, Any], *, source: str = "settings") -> Settings:
    """Settings from a parsed TOML document, key by key (see load_settings for what is forgiven)."""
    tables: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        raw = doc.get(name, {})
        if not isinstance(raw, Mapping):
            log.warning("%s: [%s] must be a table; using its defaults", source, name)
            raw = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in raw.items():
            f = known.get(key)
            if f is None:
                log.warning("%s: unknown key %s.%s is ignored", source, name, key)
                continue
            try:
                values[key] = f.metadata["convert"](value)
            except SettingsValueError as exc:
                log.warning(
                    "%s: %s.%s must be %s, not %r; using the default %r",
                    source,
                    name,
                    key,
                    exc,
                    value,
                    f.default,
                )
        tables[name] = cls(**values)
    vocabulary = None
    if "vocabulary" in doc:
        try:
            vocabulary = _path(doc["vocabulary"])
        except SettingsValueError as exc:
            log.warning(
                "%s: vocabulary must be %s, not %r; using the default", source, exc, doc["vocabulary"]
            )
    for key in doc:
        if key not in SECTIONS and key != "vocabulary":
            log.warning("%s: unknown key %s is ignored", source, key)
    return Settings(**tables, vocabulary=vocabulary)


def save_settings(settings: Settings, path: str | os.PathLike | None = None) -> Path:
    """Write ``settings`` to ``path`` (default: settings_path()) atomically; returns the path.

    An existing file keeps its comments, its layout and every key this version does not know; only the
    known keys' values change (a key whose value is "absent", such as ``models`` meaning every model, is
    removed). A new file gets a header and a comment on every key.
    """
    path = Path(path) if path is not None else settings_path()
    doc = None
    try:
        doc = tomlkit.parse(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        # An unreadable file was ignored on load too: it is replaced (the old one kept beside it).
        log.warning("%s: replacing an unreadable settings file (%s)", path, _reason(exc))
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(path.name + ".bak"))
    if doc is None:
        text = fresh_document(settings)
    else:
        _update(doc, settings)
        text = tomlkit.dumps(doc)
    write_atomically(path, text.encode("utf-8"))
    return path


def _update(doc: tomlkit.TOMLDocument, settings: Settings) -> None:
    if settings.vocabulary is None:
        doc.pop("vocabulary", None)
    else:
        doc["vocabulary"] = settings.vocabulary
    for name, cls in SECTIONS.items():
        if name not in doc or not isinstance(doc[name], Mapping):
            doc[name] = tomlkit.table()
        table = doc[name]
        values = getattr(settings, name)
        for f in dataclasses.fields(cls):
            value = _toml_value(getattr(values, f.name))
            if value is None:
                table.pop(f.name, None)
            elif f.name not in table or _plain(table[f.name]) != value:
                table[f.name] = value  # an unchanged value keeps its own spelling and trailing comment


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _toml_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


HEADER = """\
musictagger settings, read by the app and by every command (tag, scan, undo, list, export).
Edit it by hand or in the app (Tags > Settings); every key is optional. A missing key takes its
default, and so does a value that cannot be used (with a warning naming the key). Command-line
options override these for one run. Every key is explained in docs/settings.md."""


def fresh_document(settings: Settings) -> str:
    """A new settings file: the header, then every key with its comment (absent ones commented out)."""
    doc = tomlkit.document()
    for line in HEADER.splitlines():
        doc.add(tomlkit.comment(line))
    doc.add(tomlkit.nl())
    doc.add(tomlkit.comment(_VOCABULARY_HELP))
    if settings.vocabulary is None:
        doc.add(tomlkit.comment('vocabulary = "/path/to/vocabulary.json"'))
    else:
        doc.add("vocabulary", settings.vocabulary)
    for name, cls in SECTIONS.items():
        doc.add(tomlkit.nl())
        table = tomlkit.table()
        table.add(tomlkit.comment(cls.__doc__ or ""))
        values = getattr(settings, name)
        for f in dataclasses.fields(cls):
            table.add(tomlkit.comment(f.metadata["help"]))
            value = _toml_value(getattr(values, f.name))
            if value is None:
                table.add(tomlkit.comment(f"{f.name} = {f.metadata['example']}"))
            else:
                table.add(f.name, value)
        doc.add(name, table)
    return tomlkit.dumps(doc)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


__all__ = [
    "SECTIONS",
    "THEMES",
    "AnalysisSettings",
    "DisplaySettings",
    "Settings",
    "SettingsValueError",
    "WriteSettings",
    "fresh_document",
    "load_settings",
    "save_settings",
    "settings_from_dict",
    "settings_path",
]
