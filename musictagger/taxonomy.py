"""One vocabulary for users: model outputs mapped to the genres, moods and descriptors a DJ reads.

The mapping is data (``resources/vocabulary.json``, documented in docs/vocabulary.md), not code, so a user
can rename, merge or drop labels by editing a copy in their config folder. Models and heads keep their own
raw labels; this module only decides how they are *shown and written*.

A label's source is a tagger (``MSD_musicnn``: its raw tags) or a head (``dj_moods``: its labels). A head
fitted with calibration (its card's ``calibration.thresholds``) gives calibrated probabilities and a
per-label write threshold; the vocabulary takes both over (``Vocabulary.threshold``). Genres and moods
written into files come from calibrated heads; raw tagger tags are styles and descriptors, shown as hints.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from musictagger.catalog import model_dirs
from musictagger.errors import MusictaggerError
from musictagger.paths import config_dir, resources_dir

# genre: a family (Electronic, Rock...), written; style: a refinement of a family (House, Metal...);
# mood: what a DJ browses by, written; descriptor: tempo, loudness, texture words (never written as moods).
CATEGORIES = ("genre", "style", "mood", "descriptor", "era", "instrument/voice", "other")
VOCABULARY_FILE = "vocabulary.json"
HEAD_CARD = "head.json"


class VocabularyError(MusictaggerError):
    """The vocabulary file is missing, not JSON, or not in the expected shape."""


@dataclass(frozen=True)
class CanonicalLabel:
    name: str
    category: str
    # model or head name -> its raw labels that mean this label
    sources: Mapping[str, tuple[str, ...]]
    family: str | None = None  # a style's genre family
    # Raw tags that mean this label but do not score it (a calibrated head does): a file's "rock" reads as
    # Rock, and an explanation of Rock can follow musicnn's own rock tag back to the spectrogram.
    hints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredLabel:
    label: str
    score: float

    def as_dict(self) -> dict:
        return {"label": self.label, "score": round(float(self.score), 4)}


@dataclass(frozen=True)
class SelectionPolicy:
    """How many labels of one category a track gets, and how sure the models must be."""

    top_n: int = 3
    min_score: float = 0.1


@dataclass(frozen=True)
class Vocabulary:
    labels: tuple[CanonicalLabel, ...]
    path: str
    # label -> calibrated write threshold, for labels fed by one calibrated head output
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def threshold(self, name: str) -> float | None:
        """The calibrated probability at which ``name`` is written; None when its scores are not
        calibrated (a raw tagger tag), where only a user's explicit minimum score applies."""
        return self.thresholds.get(name)

    def passes(self, name: str, score: float, min_score: float | None) -> bool:
        """Whether a write takes ``name`` at ``score``: at the user's ``min_score`` when one is set, else
        at the label's own calibrated threshold; an uncalibrated label needs an explicit ``min_score``."""
        if min_score is not None:
            return score >= min_score
        threshold = self.thresholds.get(name)
        return threshold is not None and score >= threshold

    def family_of(self, name: str) -> str | None:
        return next((label.family for label in self.labels if label.name == name), None)

    @functools.cached_property
    def style_families(self) -> dict[str, str]:
        """Style -> the genre family it refines ("Metal" -> "Rock"): plain data, for a worker thread."""
        return {label.name: label.family for label in self.labels if label.family is not None}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def in_category(self, category: str) -> tuple[CanonicalLabel, ...]:
        return tuple(label for label in self.labels if label.category == category)

    def canonical_scores(self, raw: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Canonical label -> score, from ``{model: {raw tag: probability}}``.

        A canonical label takes the highest score among its sources: synonyms (``chill``/``chillout``, the
        same genre in two models) are alternative names for one idea, so the strongest evidence counts and
        merging never dilutes a confident model with an unsure one. Labels none of whose models ran are
        left out.
        """
        scores: dict[str, float] = {}
        for label in self.labels:
            found = [
                float(raw[model][tag])
                for model, tags in label.sources.items()
                if model in raw
                for tag in tags
                if tag in raw[model]
            ]
            if found:
                scores[label.name] = max(found)
        return scores

    def select(
        self, raw: Mapping[str, Mapping[str, float]], category: str, policy: SelectionPolicy
    ) -> list[ScoredLabel]:
        """The top labels of one category at or above the policy's minimum score, best first."""
        scores = self.canonical_scores(raw)
        wanted = {label.name for label in self.in_category(category)}
        ranked = sorted(
            (ScoredLabel(name, score) for name, score in scores.items() if name in wanted),
            key=lambda s: (-s.score, s.label),
        )
        return [s for s in ranked if s.score >= policy.min_score][: policy.top_n]

    def canonical_name(self, text: str) -> str | None:
        """The canonical spelling of a label a user or a file wrote (case-insensitive, raw tags too)."""
        return self._names_by_fold.get(_fold(text))

    @functools.cached_property
    def _names_by_fold(self) -> dict[str, str]:
        """Folded name or raw tag -> canonical name; the first label naming it wins. Built once: reading a
        library's suggestions asks this for every label of every track."""
        names: dict[str, str] = {}
        for label in self.labels:
            for text in (
                label.name,
                *(t for tags in (*label.sources.values(), *label.hints.values()) for t in tags),
            ):
                names.setdefault(_fold(text), label.name)
        return names


def genres_as_read(
    families: Sequence[str], style: str | None, style_families: Mapping[str, str]
) -> tuple[str, ...]:
    """Confident genre families as a DJ reads a two-level genre: the strongest confident style beside its
    own family ("Rock › Metal", "Electronic"). A style whose family is not among them follows as a hint
    of its own, since the genre facets count it; none is shown without a family (a write puts no genre)."""
    if style is None or not families:
        return tuple(families)
    family = style_families.get(style)
    if family in families:
        return tuple(f"{name} › {style}" if name == family else name for name in families)
    return (*families, style)


def families_first(
    counts: Sequence[tuple[str, int]], style_families: Mapping[str, str]
) -> list[tuple[str, int, bool]]:
    """A genre facet's (label, count) rows as a two-level list, ``(label, count, is_style)``: each entry in
    its order (most tracks first), and each style right under its family, in its own order. A style whose
    family has no row stays where it was, as an entry of its own."""
    present = {label for label, _ in counts}
    under: dict[str, list[tuple[str, int]]] = {}
    for label, count in counts:
        family = style_families.get(label)
        if family in present:
            under.setdefault(family, []).append((label, count))
    rows: list[tuple[str, int, bool]] = []
    for label, count in counts:
        if style_families.get(label) in present:
            continue  # listed under its family
        rows.append((label, count, False))
        rows.extend((style, n, True) for style, n in under.get(label, []))
    return rows


def _fold(text: str) -> str:
    return " ".join(text.replace("-", " ").replace("_", " ").casefold().split())


def default_vocabulary_path() -> Path:
    """The user's copy in the config folder if there is one, else the shipped file."""
    user = config_dir() / VOCABULARY_FILE
    return user if user.is_file() else resources_dir() / VOCABULARY_FILE


def load_vocabulary(path: str | os.PathLike | None = None) -> Vocabulary:
    """Read and check a vocabulary file. Every problem names the entry it is in, so a user editing a copy
    can find it; nothing is shown or written with a vocabulary that does not load."""
    path = Path(path) if path is not None else default_vocabulary_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VocabularyError(f"{path}: cannot read vocabulary ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise VocabularyError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise VocabularyError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("labels"), list):
        raise VocabularyError(f'{path}: expected an object with a "labels" list')
    labels = tuple(_label(path, index, entry) for index, entry in enumerate(doc["labels"]))
    names = [label.name for label in labels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise VocabularyError(f"{path}: labels named more than once: {', '.join(duplicates)}")
    genres = {label.name for label in labels if label.category == "genre"}
    for index, label in enumerate(labels):
        if label.family is not None and label.family not in genres:
            raise VocabularyError(
                f"{path}: labels[{index}] ({label.name!r}): family {label.family!r} is not a genre label"
            )
    return Vocabulary(labels=labels, path=str(path), thresholds=_calibrated_thresholds(labels))


def _label(path: Path, index: int, entry: object) -> CanonicalLabel:
    where = f"{path}: labels[{index}]"
    if not isinstance(entry, dict):
        raise VocabularyError(f"{where}: each label is an object with name, category and sources")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise VocabularyError(f"{where}: 'name' must be a non-empty string")
    where = f"{where} ({name!r})"
    category = entry.get("category")
    if category not in CATEGORIES:
        raise VocabularyError(f"{where}: category {category!r}; use one of {', '.join(CATEGORIES)}")
    sources = entry.get("sources")
    if not _tag_map(sources) or not sources:
        raise VocabularyError(
            f"{where}: 'sources' must map a model or head name to a non-empty list of its labels"
        )
    hints = entry.get("hints", {})
    if not _tag_map(hints):
        raise VocabularyError(f"{where}: 'hints' must map a model name to a non-empty list of its tags")
    family = entry.get("family")
    if family is not None and (not isinstance(family, str) or category != "style"):
        raise VocabularyError(f"{where}: only a style has a 'family', and it is a genre's name")
    unknown = sorted(set(entry) - {"name", "category", "sources", "hints", "family", "_note"})
    if unknown:
        raise VocabularyError(f"{where}: unknown key(s) {', '.join(unknown)}")
    return CanonicalLabel(
        name=name,
        category=category,
        sources={model: tuple(tags) for model, tags in sources.items()},
        family=family,
        hints={model: tuple(tags) for model, tags in hints.items()},
    )


def _tag_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(model, str)
        and isinstance(tags, list)
        and tags
        and all(isinstance(tag, str) and tag for tag in tags)
        for model, tags in value.items()
    )


def _head_thresholds() -> dict[str, dict[str, float]]:
    """{head: {label: threshold}} of the calibrated heads in the model folders (shipped first)."""
    found: dict[str, dict[str, float]] = {}
    for root in reversed(model_dirs()):  # the shipped folder last, so a shipped head wins
        if not root.is_dir():
            continue
        for card in root.glob(f"*/{HEAD_CARD}"):
            try:
                data = json.loads(card.read_text(encoding="utf-8"))
                thresholds = (data.get("calibration") or {}).get("thresholds") or {}
                found[str(data["name"])] = {str(k): float(v) for k, v in thresholds.items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # loading the head reports what is wrong with it
    return found


def _calibrated_thresholds(labels: tuple[CanonicalLabel, ...]) -> dict[str, float]:
    """label -> threshold for each label fed by exactly one output of a calibrated head. A label merging
    several sources takes the best of them, which no single calibration describes: it stays uncalibrated."""
    heads = _head_thresholds()
    out = {}
    for label in labels:
        pairs = [(model, tag) for model, tags in label.sources.items() for tag in tags]
        if len(pairs) == 1 and pairs[0][1] in heads.get(pairs[0][0], {}):
            out[label.name] = heads[pairs[0][0]][pairs[0][1]]
    return out
