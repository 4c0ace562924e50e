"""The model store: ``models/<name>/card.json`` + ``weights.safetensors``.

A model folder holds a card (what the model is, its labels and the features it expects) and its weights.
Weights are read with ``safetensors`` only — never ``torch.load``/pickle, which can run code from the file.
Architectures are built by name from :data:`ARCHITECTURES`; add one with :func:`register_architecture`.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from musictagger.errors import ModelError
from musictagger.nets import Musicnn
from musictagger.paths import data_dir

__all__ = [
    "ARCHITECTURES",
    "CATEGORIES",
    "TAGGER_ARCHITECTURES",
    "TASKS",
    "Architecture",
    "ModelCard",
    "available_models",
    "load_card",
    "load_model",
    "model_dirs",
    "models_dir",
    "register_architecture",
    "save_model",
    "user_models_dir",
]

CARD_FILE = "card.json"
WEIGHTS_FILE = "weights.safetensors"
ENV_MODELS_DIR = "MUSICTAGGER_MODELS"
CATEGORIES = ("genre", "mood", "era", "instrument/voice", "other")
# The architectures the analysis runs by default: the shipped taggers. Trained research models run when named.
TAGGER_ARCHITECTURES = ("musicnn",)
# "multilabel": an independent sigmoid per label (taggers, emotion tags); "multiclass": one softmax.
TASKS = ("multilabel", "multiclass")
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
    task: str  # one of TASKS
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
    # Architecture hyper-parameters (layer sizes, interaction mode, ...): optional, {} for musicnn.
    config: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def weights_path(self) -> Path:
        return self.folder / WEIGHTS_FILE

    def labels_in(self, category: str) -> tuple[str, ...]:
        """The labels of one category, in output order."""
        return tuple(label for label in self.labels if self.categories[label] == category)

    @classmethod
    def from_file(cls, path: Path) -> ModelCard:
        """Parse and validate a card; every problem is a :class:`ModelError` naming the file."""
        data = read_card(path, "model card", _CARD_KEYS)
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
        if data["task"] not in TASKS:
            raise ModelError(f"{path}: unknown task {data['task']!r} (allowed: {', '.join(TASKS)})")
        config = data.get("config", {})
        if not isinstance(config, dict):
            raise ModelError(f"{path}: 'config' must be a JSON object")
        card = {k: data[k] for k in _CARD_KEYS}
        card["labels"] = tuple(labels)
        return cls(**card, folder=path.parent, config=config)


def read_card(path: Path, what: str, required: Collection[str]) -> dict[str, Any]:
    """A card file's JSON object with its ``required`` keys, or a :class:`ModelError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: {what} missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable {what} ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: {what} is not a JSON object")
    missing = [k for k in required if k not in data]
    if missing:
        raise ModelError(f"{path}: {what} lacks {', '.join(missing)}")
    return data


@dataclass(frozen=True)
class Architecture:
    """How to build a network from its card.

    ``output_weight`` names the state-dict tensor whose first dimension is the number of outputs, so a
    card whose labels do not match the weights is reported as such rather than as a generic shape error.
    """

    build: Callable[[ModelCard], torch.nn.Module]
    output_weight: str


def _built_by(module: str) -> Callable[[ModelCard], torch.nn.Module]:
    """``build(card)`` of a net module, imported on first use (torchvision and librosa load slowly)."""

    def build(card: ModelCard) -> torch.nn.Module:
        return importlib.import_module(module).build(card)

    return build


ARCHITECTURES: dict[str, Architecture] = {
    "musicnn": Architecture(
        build=lambda card: Musicnn(n_labels=len(card.labels), n_mels=int(card.mel["n_mels"])),
        output_weight="back.output.weight",
    ),
    # The research models (trained with ``train``): their output layer names are the modules' OUTPUT_WEIGHT.
    "resnet50_trust": Architecture(
        build=_built_by("musictagger.nets.resnet"), output_weight="classifier.weight"
    ),
    "parallel_cnn": Architecture(
        build=_built_by("musictagger.nets.parallel_cnn"), output_weight="output.weight"
    ),
    "emotion_cnn": Architecture(
        build=_built_by("musictagger.nets.emotion_cnn"), output_weight="output.weight"
    ),
}


def register_architecture(name: str, architecture: Architecture) -> None:
    """Make ``name`` usable as a card's ``architecture``."""
    ARCHITECTURES[name] = architecture


def models_dir() -> Path:
    """The shipped models: ``$MUSICTAGGER_MODELS`` if set, else ``models/`` beside the package folder."""
    override = os.environ.get(ENV_MODELS_DIR)
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parent.parent / "models"


def user_models_dir() -> Path:
    """Where models a user trains go (``train``, ``train-head``): ``models/`` in the user data folder."""
    return data_dir() / "models"


def model_dirs() -> list[Path]:
    """Folders searched for a model by name, in order: a shipped model wins over a user's of the same name."""
    return [models_dir(), user_models_dir()]


def _folder(name: str) -> Path:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ModelError(f"{name!r}: not a model name")
    for root in model_dirs():
        if (root / name).is_dir():
            return root / name
    return models_dir() / name


def available_models(architectures: Collection[str] | None = None) -> list[str]:
    """Names of the model folders that have a card, sorted; only those of ``architectures`` if given."""
    names: set[str] = set()
    for root in model_dirs():
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if (p / CARD_FILE).is_file())
    if architectures is None:
        return sorted(names)
    wanted = set(architectures)
    out = []
    for name in sorted(names):
        try:
            arch = json.loads((_folder(name) / CARD_FILE).read_text(encoding="utf-8")).get("architecture")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            continue  # an unreadable card is reported when that model is loaded by name
        if arch in wanted:
            out.append(name)
    return out


def save_model(folder: Path, card: Mapping[str, Any], state: Mapping[str, torch.Tensor]) -> Path:
    """Write ``card.json`` + ``weights.safetensors`` into ``folder`` (created), each file atomically.

    The card is validated by reading it back, so a model that saves is a model the app can load.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    tmp_weights = folder / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp_weights))
    os.chmod(tmp_weights, 0o644)  # safetensors creates files owner-only; a model is not a secret
    os.replace(tmp_weights, folder / WEIGHTS_FILE)
    tmp_card = folder / (CARD_FILE + ".tmp")
    tmp_card.write_text(json.dumps(dict(card), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp_card, folder / CARD_FILE)
    ModelCard.from_file(folder / CARD_FILE)
    return folder


def load_card(name: str | os.PathLike) -> ModelCard:
    """The card of a model by name (searched in :func:`model_dirs`) or of a model folder given by path."""
    given = Path(name)
    if (given / CARD_FILE).is_file() and (given.is_absolute() or len(given.parts) > 1):
        return ModelCard.from_file(given / CARD_FILE)
    name = str(name)
    folder = _folder(name)
    if not folder.is_dir():
        raise ModelError(
            f"{folder}: no such model folder (available: {', '.join(available_models()) or 'none'})"
        )
    card = ModelCard.from_file(folder / CARD_FILE)
    if card.name != name:
        raise ModelError(f"{folder / CARD_FILE}: card is for {card.name!r}, folder is {name!r}")
    return card


def load_model(
    name: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, ModelCard]:
    """Build the card's network, load its weights (strict), switch to eval mode and move it to ``device``.

    ``name`` is a model name or the path of a model folder (e.g. one ``train --out DIR`` wrote)."""
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
