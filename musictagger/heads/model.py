"""A head: a small classifier on the tagger models' track embeddings, stored as ``head.json`` + weights.

A head learns a taxonomy the taggers do not have (GTZAN's ten genres, Russell's mood quadrants, a DJ's
"Warm-up" / "Peak time") from a few hundred labelled tracks, in seconds, because the expensive part (the
musicnn embedding) is already computed for every analysed track. Its input is the concatenation, in the
card's order, of each input model's mean penultimate embedding and, with ``features =
"embedding+scores"``, that model's track-level tag probabilities.

Weights are read with safetensors only. The standardisation (mean and std of the training features) is
part of the weights, so a head is one self-contained file pair.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from musictagger.catalog import CATEGORIES, TASKS, model_dirs, read_card
from musictagger.errors import ModelError

__all__ = [
    "FEATURE_SETS",
    "HEAD_CARD",
    "HEAD_TASKS",
    "EmbeddingHead",
    "HeadCard",
    "HeadScores",
    "available_heads",
    "head_from_linear",
    "head_input",
    "load_head",
    "mood_plane",
    "save_head",
]

HEAD_CARD = "head.json"
WEIGHTS_FILE = "weights.safetensors"
# What a head reads from each input model: the 200-d mean penultimate embedding, optionally followed by
# the model's 50 track-level tag probabilities.
FEATURE_SETS = ("embedding", "embedding+scores")
# Heads may also regress: "regression" outputs one number per label (energy 1-10, valence -1..1), clipped to
# the card's ``ranges``.
HEAD_TASKS = (*TASKS, "regression")
_REQUIRED = ("name", "version", "task", "labels", "category", "inputs", "features", "input_dim", "hidden")


class ModelOutputs(Protocol):
    """What a head needs of one tagger's result (``analysis.ModelScores`` and stored analyses have it)."""

    embedding: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class HeadCard:
    """``head.json``: what the head predicts, what it reads and how well it did under cross-validation."""

    name: str
    version: str
    task: str  # "multiclass" (softmax), "multilabel" (a sigmoid per label) or "regression" (values)
    labels: tuple[str, ...]
    category: str  # the vocabulary category its labels belong to: genre, mood, ...
    inputs: tuple[str, ...]  # tagger model names, in the order their features are concatenated
    features: str  # one of FEATURE_SETS
    input_dim: int
    hidden: int  # 0: logistic regression; else one hidden layer of this width
    licence: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict, hash=False)
    metrics: Mapping[str, Any] = field(default_factory=dict, hash=False)  # cross-validated, never training
    # How the probabilities were calibrated, on what, and each label's write threshold ("thresholds").
    calibration: Mapping[str, Any] = field(default_factory=dict, hash=False)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict, hash=False)  # regression
    folder: Path = field(default=Path("."), compare=False)

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    @property
    def thresholds(self) -> dict[str, float]:
        """label -> the calibrated probability at which it is written ({} for an uncalibrated head)."""
        return {str(k): float(v) for k, v in (self.calibration.get("thresholds") or {}).items()}

    def as_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in _REQUIRED}
        data.update(licence=self.licence, provenance=dict(self.provenance), metrics=dict(self.metrics))
        data["labels"], data["inputs"] = list(self.labels), list(self.inputs)
        if self.calibration:
            data["calibration"] = dict(self.calibration)
        if self.ranges:
            data["ranges"] = {label: list(bounds) for label, bounds in self.ranges.items()}
        return data

    @classmethod
    def from_file(cls, path: Path) -> HeadCard:
        data = read_card(path, "head card", _REQUIRED)
        labels, inputs = data["labels"], data["inputs"]
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
            raise ModelError(f"{path}: 'labels' must list at least two label names")
        if len(set(labels)) != len(labels):
            raise ModelError(f"{path}: duplicate labels")
        if not isinstance(inputs, list) or not inputs or not all(isinstance(x, str) for x in inputs):
            raise ModelError(f"{path}: 'inputs' must list the tagger models the head reads")
        if data["task"] not in HEAD_TASKS:
            raise ModelError(f"{path}: unknown task {data['task']!r} (allowed: {', '.join(HEAD_TASKS)})")
        ranges = _ranges(path, data.get("ranges") or {}, labels)
        calibration = data.get("calibration") or {}
        if not isinstance(calibration, dict):
            raise ModelError(f"{path}: 'calibration' must be an object")
        thresholds = calibration.get("thresholds") or {}
        if not isinstance(thresholds, dict) or any(
            label not in labels or not isinstance(t, int | float) or not 0 <= t <= 1
            for label, t in thresholds.items()
        ):
            raise ModelError(f"{path}: calibration thresholds must map the head's labels to 0..1")
        if data["category"] not in CATEGORIES:
            raise ModelError(f"{path}: unknown category {data['category']!r}")
        if data["features"] not in FEATURE_SETS:
            raise ModelError(f"{path}: unknown features {data['features']!r} (allowed: {FEATURE_SETS})")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            task=data["task"],
            labels=tuple(labels),
            category=data["category"],
            inputs=tuple(inputs),
            features=data["features"],
            input_dim=int(data["input_dim"]),
            hidden=int(data["hidden"]),
            licence=str(data.get("licence", "")),
            provenance=dict(data.get("provenance") or {}),
            metrics=dict(data.get("metrics") or {}),
            calibration=dict(calibration),
            ranges=ranges,
            folder=path.parent,
        )


def _ranges(path: Path, raw: object, labels: Sequence[str]) -> dict[str, tuple[float, float]]:
    if not isinstance(raw, dict):
        raise ModelError(f"{path}: 'ranges' must map labels to [low, high]")
    out = {}
    for label, bounds in raw.items():
        ok = isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds)
        if label not in labels or not ok or not bounds[0] < bounds[1]:
            raise ModelError(f"{path}: range of {label!r} must be [low, high] of one of the head's labels")
        out[str(label)] = (float(bounds[0]), float(bounds[1]))
    return out


class EmbeddingHead(torch.nn.Module):
    """Standardise, then a linear layer (or one small hidden layer) to one logit per label."""

    def __init__(self, input_dim: int, n_labels: int, hidden: int = 0, dropout: float = 0.25):
        super().__init__()
        # Filled from the training features; part of the saved weights.
        self.register_buffer("feature_mean", torch.zeros(input_dim))
        self.register_buffer("feature_std", torch.ones(input_dim))
        if hidden:
            self.classifier = torch.nn.Sequential(
                torch.nn.Linear(input_dim, hidden),
                torch.nn.ReLU(),
                torch.nn.Dropout(dropout),
                torch.nn.Linear(hidden, n_labels),
            )
        else:
            self.classifier = torch.nn.Sequential(torch.nn.Linear(input_dim, n_labels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier((features - self.feature_mean) / self.feature_std)


@dataclass(frozen=True)
class HeadScores:
    """One head's output for one track."""

    head: str
    category: str
    labels: tuple[str, ...]
    probs: np.ndarray  # (n_labels,); a regression head's values
    task: str = "multilabel"
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # a regression head's scales

    def as_dict(self) -> dict[str, float]:
        return {label: float(p) for label, p in zip(self.labels, self.probs, strict=True)}

    def top(self) -> tuple[str, float]:
        i = int(np.argmax(self.probs))
        return self.labels[i], float(self.probs[i])


def head_input(card: HeadCard, outputs: Mapping[str, ModelOutputs]) -> np.ndarray:
    """The head's feature vector for one track from its input models' outputs (float32, ``input_dim``)."""
    parts = []
    for model in card.inputs:
        if model not in outputs:
            raise ModelError(f"head {card.name!r} reads {model!r}, which was not run on this track")
        parts.append(np.asarray(outputs[model].embedding, dtype=np.float32))
        if card.features == "embedding+scores":
            parts.append(np.asarray(outputs[model].scores, dtype=np.float32))
    vector = np.concatenate(parts)
    if vector.shape != (card.input_dim,):
        raise ModelError(
            f"head {card.name!r} expects {card.input_dim} features, its inputs give {len(vector)}"
        )
    return vector


def predict(head: EmbeddingHead, card: HeadCard, features: np.ndarray) -> np.ndarray:
    """Probabilities for a batch ``(n, input_dim)`` (or one vector) of head inputs."""
    x = torch.as_tensor(np.atleast_2d(features), dtype=torch.float32)
    with torch.inference_mode():
        logits = head(x)
        if card.task == "regression":
            out = logits.numpy().astype(np.float64)
            for i, label in enumerate(card.labels):
                if label in card.ranges:
                    out[:, i] = np.clip(out[:, i], *card.ranges[label])
        elif card.multilabel:
            out = torch.sigmoid(logits).numpy()
        else:
            out = torch.softmax(logits, dim=-1).numpy()
    return out if np.ndim(features) == 2 else out[0]


def head_from_linear(weight: np.ndarray, bias: np.ndarray, features: np.ndarray) -> EmbeddingHead:
    """A linear head computing ``features @ weight.T + bias``, stored the way every head is: the
    standardisation of ``features`` (its training features) as buffers, the weights rescaled to match."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    head = EmbeddingHead(features.shape[1], weight.shape[0])
    with torch.no_grad():
        head.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        head.feature_std.copy_(torch.as_tensor(std, dtype=torch.float32))
        layer = head.classifier[0]
        layer.weight.copy_(torch.as_tensor(weight * std, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(bias + weight @ mean, dtype=torch.float32))
    return head.eval()


# Russell's circumplex: each quadrant of a 4Q head as (valence, arousal). Q1 happy/excited, Q2 angry/tense,
# Q3 sad/depressed, Q4 calm/relaxed (Panda et al. 2018) -- the plane DJs read as mood x energy.
RUSSELL_QUADRANTS = {"Q1": (1.0, 1.0), "Q2": (-1.0, 1.0), "Q3": (-1.0, -1.0), "Q4": (1.0, -1.0)}


def mood_plane(card: HeadCard) -> dict[str, tuple[float, float]] | None:
    """``{label: (valence, arousal)}`` for a head trained on Russell quadrants (Q1-Q4, perhaps renamed),
    else None. A track's point on the plane is the probability-weighted mean of its quadrants' corners."""
    renamed = dict(card.provenance.get("renamed") or {})
    corners = {renamed.get(q, q): xy for q, xy in RUSSELL_QUADRANTS.items()}
    if card.category != "mood" or set(card.labels) != set(corners):
        return None
    return {label: corners[label] for label in card.labels}


def available_heads() -> list[str]:
    """Names of the heads in the model folders (shipped first, then the user's), sorted."""
    names: set[str] = set()
    for root in model_dirs():
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if (p / HEAD_CARD).is_file())
    return sorted(names)


def _head_folder(name: str) -> Path:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ModelError(f"{name!r}: not a head name")
    for root in model_dirs():
        if (root / name / HEAD_CARD).is_file():
            return root / name
    raise ModelError(f"{name!r}: no such head (available: {', '.join(available_heads()) or 'none'})")


def load_head(name_or_folder: str | os.PathLike) -> tuple[EmbeddingHead, HeadCard]:
    """Load a head by name (searched in the model folders) or from a folder path."""
    folder = Path(name_or_folder)
    if not (folder / HEAD_CARD).is_file():
        folder = _head_folder(str(name_or_folder))
    card = HeadCard.from_file(folder / HEAD_CARD)
    path = folder / WEIGHTS_FILE
    try:
        state = load_file(path)  # safetensors: tensors only, no code execution
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable head weights ({exc})") from exc
    head = EmbeddingHead(card.input_dim, len(card.labels), card.hidden)
    try:
        head.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: weights do not fit the head card: {' '.join(str(exc).split())}") from exc
    return head.eval(), card


def save_head(folder: str | os.PathLike, head: EmbeddingHead, card: HeadCard) -> Path:
    """Write the weights and ``head.json`` (each atomically), then load them back to prove they work."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}, str(tmp))
    os.chmod(tmp, 0o644)  # safetensors creates files owner-only; a model is not a secret
    os.replace(tmp, folder / WEIGHTS_FILE)
    tmp = folder / (HEAD_CARD + ".tmp")
    tmp.write_text(json.dumps(card.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / HEAD_CARD)
    load_head(folder)
    return folder


def label_matrix(labels: Sequence[Sequence[str]], names: Sequence[str]) -> np.ndarray:
    """0/1 matrix ``(n, len(names))`` of which names each example carries."""
    index = {name: i for i, name in enumerate(names)}
    out = np.zeros((len(labels), len(names)), dtype=np.float32)
    for row, values in enumerate(labels):
        for value in values:
            out[row, index[value]] = 1.0
    return out
