"""One vocabulary for users: raw model tags mapped to canonical genres, moods, eras and instruments.

The mapping is data (``resources/vocabulary.json``), not code, so a user can rename, merge or drop labels
by editing a copy in their config folder. Models keep their own raw tags; this module only decides how
those tags are *shown and written*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from musictagger.errors import MusictaggerError
from musictagger.paths import config_dir, resources_dir

CATEGORIES = ("genre", "mood", "era", "instrument/voice", "other")
VOCABULARY_FILE = "vocabulary.json"


class VocabularyError(MusictaggerError):
    """The vocabulary file is missing, not JSON, or not in the expected shape."""


@dataclass(frozen=True)
class CanonicalLabel:
    name: str
    category: str
    # model name -> raw tags of that model that mean this label
    sources: Mapping[str, tuple[str, ...]]


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
        key = _fold(text)
        for label in self.labels:
            if _fold(label.name) == key:
                return label.name
            if any(_fold(tag) == key for tags in label.sources.values() for tag in tags):
                return label.name
        return None


def _fold(text: str) -> str:
    return " ".join(text.replace("-", " ").replace("_", " ").casefold().split())


def default_vocabulary_path() -> Path:
    """The user's copy in the config folder if there is one, else the shipped file."""
    user = config_dir() / VOCABULARY_FILE
    return user if user.is_file() else resources_dir() / VOCABULARY_FILE


def load_vocabulary(path: str | os.PathLike | None = None) -> Vocabulary:
    path = Path(path) if path is not None else default_vocabulary_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VocabularyError(f"{path}: cannot read vocabulary ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise VocabularyError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        labels = tuple(
            CanonicalLabel(
                name=str(entry["name"]),
                category=str(entry["category"]),
                sources={str(m): tuple(str(t) for t in tags) for m, tags in entry["sources"].items()},
            )
            for entry in doc["labels"]
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise VocabularyError(f"{path}: each label needs name, category and sources ({exc!r})") from exc
    for label in labels:
        if label.category not in CATEGORIES:
            raise VocabularyError(
                f"{path}: label {label.name!r} has category {label.category!r}; use one of {CATEGORIES}"
            )
    names = [label.name for label in labels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise VocabularyError(f"{path}: labels named more than once: {', '.join(duplicates)}")
    return Vocabulary(labels=labels, path=str(path))
