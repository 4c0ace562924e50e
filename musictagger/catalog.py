"""The model store: ``models/<name>/card.json`` + ``weights.safetensors``.

A model folder holds a card (what the model is, its labels and the features it expects) and its weights.
Weights are read with ``safetensors`` only — never ``torch.load``/pickle, which can run code from the file.
Architectures are built by name from :data:`ARCHITECTURES`; add one with :func:`register_architecture`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from musictagger.errors import ModelError
from musictagger.nets import Musicnn

__all__ = [
    "ARCHITECTURES",
    "CATEGORIES",
    "Architecture",
    "ModelCard",
    "available_models",
    "load_card",
    "load_model",
    "models_dir",
    "register_architecture",
]

CARD_FILE = "card.json"
WEIGHTS_FILE = "weights.safetensors"
ENV_MODELS_DIR = "MUSICTAGGER_MODELS"
CATEGORIES = ("genre", "mood", "era", "instrument/voice", "other")
_CARD_KEYS = (
    "name",
    "architecture",
    "version",
    "task",
    "labels",
    "categories",
    "sample_rate",
    "mel",
    "patch_frames",
    "patch_hop_frames",
    "embedding_dim",
    "licence",
    "provenance",
    "reported_metrics",
)


@dataclass(frozen=True)
class ModelCard:
    """The contents of ``card.json``; ``folder`` is where it was read from (not part of the JSON)."""

    name: str
    architecture: str
    version: str
    task: str  # "multilabel": independent sigmoid per label
    labels: tuple[str, ...]  # output order
    categories: Mapping[str, str] = field(hash=False)  # label -> one of CATEGORIES
    sample_rate: int
    mel: Mapping[str, Any] = field(hash=False)  # front-end parameters (n_fft, hop_length, n_mels, ...)
    patch_frames: int
    patch_hop_frames: int
    embedding_dim: int
    licence: str
    provenance: Mapping[str, Any] = field(hash=False)
    reported_metrics: Mapping[str, Any] = field(hash=False)
    folder: Path = field(compare=False)

    @property
    def weights_path(self) -> Path:
        return self.folder / WEIGHTS_FILE

    def labels_in(self, category: str) -> tuple[str, ...]:
        """The labels of one category, in output order."""
        return tuple(label for label in self.labels if self.categories[label] == category)

    @classmethod
    def from_file(cls, path: Path) -> ModelCard:
        """Parse and validate a card; every problem is a :class:`ModelError` naming the file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: model card missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: unreadable model card ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelError(f"{path}: model card is not a JSON object")
        missing = [k for k in _CARD_KEYS if k not in data]
        if missing:
            raise ModelError(f"{path}: model card lacks {', '.join(missing)}")
        labels = data["labels"]
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ModelError(f"{path}: 'labels' must be a non-empty list of strings")
        if len(set(labels)) != len(labels):
            raise ModelError(f"{path}: duplicate labels")
        categories = data["categories"]
        if not isinstance(categories, dict) or set(categories) != set(labels):
            raise ModelError(f"{path}: 'categories' must map exactly the labels to a category")
        bad = sorted({c for c in categories.values() if c not in CATEGORIES})
        if bad:
            raise ModelError(f"{path}: unknown categories {bad} (allowed: {', '.join(CATEGORIES)})")
        card = {k: data[k] for k in _CARD_KEYS}
        card["labels"] = tuple(labels)
        return cls(**card, folder=path.parent)


@dataclass(frozen=True)
class Architecture:
    """How to build a network from its card.

    ``output_weight`` names the state-dict tensor whose first dimension is the number of outputs, so a
    card whose labels do not match the weights is reported as such rather than as a generic shape error.
    """

    build: Callable[[ModelCard], torch.nn.Module]
    output_weight: str


ARCHITECTURES: dict[str, Architecture] = {
    "musicnn": Architecture(
        build=lambda card: Musicnn(n_labels=len(card.labels), n_mels=int(card.mel["n_mels"])),
        output_weight="back.output.weight",
    ),
}


def register_architecture(name: str, architecture: Architecture) -> None:
    """Make ``name`` usable as a card's ``architecture``."""
    ARCHITECTURES[name] = architecture


def models_dir() -> Path:
    """The models folder: ``$MUSICTAGGER_MODELS`` if set, else ``models/`` beside the package folder."""
    override = os.environ.get(ENV_MODELS_DIR)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / "models"


def _folder(name: str) -> Path:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ModelError(f"{name!r}: not a model name")
    return models_dir() / name


def available_models() -> list[str]:
    """Names of the model folders that have a card, sorted."""
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CARD_FILE).is_file())


def load_card(name: str) -> ModelCard:
    folder = _folder(name)
    if not folder.is_dir():
        raise ModelError(
            f"{folder}: no such model folder (available: {', '.join(available_models()) or 'none'})"
        )
    card = ModelCard.from_file(folder / CARD_FILE)
    if card.name != name:
        raise ModelError(f"{folder / CARD_FILE}: card is for {card.name!r}, folder is {name!r}")
    return card


def load_model(name: str, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelCard]:
    """Build the card's network, load its weights (strict), switch to eval mode and move it to ``device``."""
    card = load_card(name)
    arch = ARCHITECTURES.get(card.architecture)
    if arch is None:
        raise ModelError(
            f"{card.folder / CARD_FILE}: unknown architecture {card.architecture!r} "
            f"(known: {', '.join(sorted(ARCHITECTURES))})"
        )
    path = card.weights_path
    if not path.is_file():
        raise ModelError(f"{path}: weights missing")
    try:
        state = load_file(path)  # safetensors: tensors only, no code execution
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable weights ({exc})") from exc
    out = state.get(arch.output_weight)
    if out is not None and out.shape[0] != len(card.labels):
        raise ModelError(
            f"{path}: the weights have {out.shape[0]} outputs but the card lists {len(card.labels)} labels"
        )
    model = arch.build(card)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # missing/unexpected keys or size mismatches
        detail = " ".join(str(exc).split())
        raise ModelError(f"{path}: weights do not fit architecture {card.architecture!r}: {detail}") from exc
    return model.eval().to(device), card
