"""Training the research classifiers on a labelled set of audio files, and measuring them honestly.

Every net reads musicnn's input (16 kHz, 96-band log-mel, 3-s patches of 187 frames); the parallel CNN also
reads hand-made features per patch. A training sample is one patch; a prediction for a clip is the mean of
its patches' probabilities. Numbers are reported on a held-out test split only, with intervals, because
small music datasets give wide ones and training accuracy says nothing about new music.
"""

from __future__ import annotations

import copy
import datetime
import os
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, f1_score
from tqdm import tqdm

from musictagger import __version__, catalog
from musictagger.catalog import Architecture, ModelCard
from musictagger.device import describe_device, resolve_device
from musictagger.errors import FileError, ModelError, MusictaggerError
from musictagger.research import metrics
from musictagger.research.cache import PatchCache
from musictagger.research.datasets import LabelledSet, describe_split, train_val_test_split
from musictagger.spectrogram import MUSICNN_MEL

__all__ = [
    "CATEGORY_CHOICES",
    "RESEARCH_ARCHITECTURES",
    "ClipSet",
    "TrainConfig",
    "TrainedModel",
    "TrainingError",
    "card_dict",
    "format_report",
    "held_out_report",
    "load_clips",
    "predict_clips",
    "save_checkpoint",
    "train",
]

# The research nets ``train`` builds (registered in ``catalog.ARCHITECTURES``, imported on first use).
RESEARCH_ARCHITECTURES = ("resnet50_trust", "parallel_cnn", "emotion_cnn")
INTERACTIONS = ("none", "audio_to_visual", "visual_to_audio", "two_way")
CLASS_WEIGHT_SCHEMES = ("uniform", "inverse", "effective")
CATEGORY_CHOICES = ("genre", "mood", "other")
SAMPLE_RATE = 16000
PATCH_FRAMES = 187
LICENCE = "trained locally by the user"
INPUTS_MEL = "log-mel"
INPUTS_FEATURES = "handmade-features"


class TrainingError(MusictaggerError):
    """Training cannot start or go on: too few usable clips, contradictory options, no classes left."""


@dataclass
class TrainConfig:
    """Everything that decides a training run; stored whole in the model card's provenance."""

    architecture: str
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    patience: int = 8  # epochs without a better validation score before stopping
    val: float = 0.15
    test: float = 0.15
    max_patches: int = 10  # 3-s patches per clip, from its centre (10 = 30 s); the cache picks them
    # Balanced trusted loss (single-label): alpha*CE + beta*RCE, per-class weights, AMCM margins.
    alpha: float = 1.0
    beta: float = 0.0
    class_weights: str = "uniform"
    effective_beta: float = 0.999  # Cui et al.'s beta for the "effective" class weights
    margin_angle: float = 0.0
    margin_cos: float = 0.0
    scale: float | None = None
    classifier: str = "linear"  # resnet50_trust: "linear" or "cosine"
    imagenet_weights: str | None = None  # resnet50_trust: a local torchvision ImageNet weights file
    interaction: str = "audio_to_visual"  # parallel_cnn: the thesis's best mode
    # Further hyper-parameters the net's build(card) reads from card.config (layer widths, dropout ...).
    arch_options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.architecture not in RESEARCH_ARCHITECTURES:
            raise TrainingError(
                f"unknown architecture {self.architecture!r} (choose {', '.join(RESEARCH_ARCHITECTURES)})"
            )
        if self.epochs < 1 or self.batch_size < 2 or self.lr <= 0 or self.max_patches < 1:
            raise TrainingError("epochs and max-patches must be >= 1, batch-size >= 2 and lr > 0")
        if not (0 <= self.val < 1 and 0 < self.test < 1 and self.val + self.test < 1):
            raise TrainingError("--val and --test are fractions: 0 <= val, 0 < test, val + test < 1")
        if self.class_weights not in CLASS_WEIGHT_SCHEMES:
            raise TrainingError(f"--class-weights must be one of {', '.join(CLASS_WEIGHT_SCHEMES)}")
        if self.classifier not in ("linear", "cosine"):
            raise TrainingError("--classifier must be linear or cosine")
        if self.interaction not in INTERACTIONS:
            raise TrainingError(f"--interaction must be one of {', '.join(INTERACTIONS)}")
        margins = self.margin_angle != 0 or self.margin_cos != 0
        if margins and (self.architecture != "resnet50_trust" or self.classifier != "cosine"):
            # AMCM margins act on cos(theta): they only mean something with a cosine classifier.
            raise TrainingError("--margin-angle/--margin-cos need resnet50_trust with --classifier cosine")
        reserved = {"inputs", "thresholds", "max_patches", "classifier", "scale", "interaction"}
        if reserved & set(self.arch_options):
            raise TrainingError(
                f"--arch-option cannot set {', '.join(sorted(reserved & set(self.arch_options)))}: "
                "use the command's own option"
            )
        if self.imagenet_weights and self.architecture != "resnet50_trust":
            raise TrainingError("--imagenet-weights only applies to resnet50_trust")

    def architecture_config(self) -> dict[str, Any]:
        """The hyper-parameters the net's ``build(card)`` reads from ``card.config``."""
        config: dict[str, Any] = {}
        if self.architecture == "resnet50_trust":
            config["classifier"] = self.classifier
            if self.classifier == "cosine":
                # 30 is the usual s of cosine-margin softmaxes (and resnet.DEFAULT_SCALE).
                config["scale"] = float(self.scale if self.scale is not None else 30.0)
        elif self.architecture == "parallel_cnn":
            config["interaction"] = self.interaction
        return {**config, **self.arch_options}

    @property
    def uses_features(self) -> bool:
        return self.architecture == "parallel_cnn"


# ---------------------------------------------------------------------------------------------- architectures


def research_architecture(name: str) -> Architecture:
    """The catalog entry of a research net."""
    if name not in RESEARCH_ARCHITECTURES:
        raise ModelError(f"unknown architecture {name!r} (known: {', '.join(RESEARCH_ARCHITECTURES)})")
    return catalog.ARCHITECTURES[name]


def card_uses_features(card: ModelCard | Mapping[str, Any]) -> bool:
    config = card.config if isinstance(card, ModelCard) else card.get("config", {})
    return INPUTS_FEATURES in config.get("inputs", [INPUTS_MEL])


# ------------------------------------------------------------------------------------------------ the clips


@dataclass
class ClipSet:
    """The decoded patches of some clips, packed: patch rows of clip i are ``offsets[i]:offsets[i+1]``.

    Log-mels are held as float16 (as the cache stores them) so a few thousand clips fit in memory.
    """

    mel: np.ndarray  # (P, 187, 96) float16
    features: np.ndarray | None  # (P, 94, N_FEATURES) float32
    offsets: np.ndarray  # (N + 1,) int64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def patch_rows(self, clips: np.ndarray) -> np.ndarray:
        """The patch rows of the given clips, in clip order."""
        if len(clips) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in clips])

    def patch_clip(self) -> np.ndarray:
        """For every patch row, the clip it belongs to."""
        return np.repeat(np.arange(len(self)), np.diff(self.offsets))


def load_clips(
    cache: PatchCache,
    paths: Sequence[str],
    *,
    progress: bool = True,
) -> tuple[ClipSet, list[int], list[tuple[str, str]]]:
    """Decode (or read from the cache) every clip; a file that fails is listed with its cause and skipped.
    The cache decides which patches of a clip are used (at most ``cache.max_patches``, from the centre).

    Returns the packed patches of the clips that worked, their indices into ``paths`` and the failures.
    """
    mels: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    kept: list[int] = []
    failures: list[tuple[str, str]] = []
    bar = tqdm(paths, unit="clip", desc="reading audio", file=sys.stderr, disable=not progress, leave=False)
    for i, path in enumerate(bar):
        try:
            inputs = cache.get(path)
        except FileError as exc:
            failures.append((exc.path, exc.cause))
            continue
        except (OSError, ValueError, RuntimeError) as exc:  # anything else one file can throw: skip it too
            failures.append((str(path), f"{type(exc).__name__}: {exc}"))
            continue
        mels.append(np.asarray(inputs.mel).astype(np.float16, copy=False))
        if cache.with_features:
            feats.append(np.asarray(inputs.features, dtype=np.float32))
        kept.append(i)
    counts = [len(m) for m in mels]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    mel = np.concatenate(mels) if mels else np.zeros((0, PATCH_FRAMES, MUSICNN_MEL["n_mels"]), np.float16)
    features = np.concatenate(feats) if feats else None
    return ClipSet(mel=mel, features=features, offsets=offsets), kept, failures


# -------------------------------------------------------------------------------------------- running a net


def _forward(model: torch.nn.Module, clips: ClipSet, rows: np.ndarray, device: torch.device, features: bool):
    mel = torch.from_numpy(clips.mel[rows].astype(np.float32)).to(device)
    if features:
        return model(mel, torch.from_numpy(clips.features[rows]).to(device))
    return model(mel)


@torch.no_grad()
def predict_clips(
    model: torch.nn.Module,
    clips: ClipSet,
    clip_indices: np.ndarray | None = None,
    *,
    uses_features: bool,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """Clip-level probabilities ``(n_clips, n_labels)``: the mean of each clip's patch probabilities."""
    device = torch.device(device)
    if clip_indices is None:
        clip_indices = np.arange(len(clips))
    clip_indices = np.asarray(clip_indices, dtype=np.int64)
    rows = clips.patch_rows(clip_indices)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(rows), batch_size):
        out.append(_forward(model, clips, rows[start : start + batch_size], device, uses_features).probs)
    model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    patch_probs = torch.cat(out).float().cpu().numpy()
    sizes = np.diff(clips.offsets)[clip_indices]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return (np.add.reduceat(patch_probs, starts, axis=0) / sizes[:, None]).astype(np.float32)


# ---------------------------------------------------------------------------------------------- reporting


def held_out_report(
    *,
    multilabel: bool,
    labels: Sequence[str],
    probs: np.ndarray,
    targets: np.ndarray,
    thresholds: np.ndarray | None = None,
    seed: int = 0,
    split: str,
    dataset: str,
) -> dict[str, Any]:
    """The metrics of clip-level predictions, with 95 % intervals, and what they were measured on.

    Single-label: accuracy (Wilson interval), macro-F1 (bootstrap interval), per class, confusion matrix.
    Multi-label: macro ROC-AUC, PR-AUC and F1 at ``thresholds``, each with a bootstrap interval.
    """
    labels = list(labels)
    if multilabel:
        if thresholds is None:
            thresholds = np.full(len(labels), 0.5)
        thresholds = np.asarray(thresholds, dtype=np.float64)
        body = metrics.multilabel_report(probs, targets, thresholds, labels)
        truth = np.asarray(targets) > 0
        if len(truth):
            for key, fn in (
                ("macro_roc_auc_ci", _macro_roc_auc),
                ("macro_pr_auc_ci", _macro_average_precision),
                ("macro_f1_ci", lambda t, p: _macro_f1_at(t, p, thresholds)),
            ):
                interval = metrics.bootstrap_interval(fn, truth, np.asarray(probs, np.float64), seed=seed)
                if all(np.isfinite(interval)):
                    body[key] = list(interval)
    else:
        y_true = np.asarray(targets, dtype=np.int64)
        body = metrics.classification_report(y_true, probs.argmax(axis=1), labels, seed=seed)
    return {"dataset": dataset, "split": split, "n_clips": len(probs), **_jsonable(body)}


# Fast numpy versions of the multi-label metrics, for a thousand bootstrap resamples. A tag whose resample
# holds only one class has no AUC and is left out of that resample's mean, as in multilabel_report.
def _macro_roc_auc(truth: np.ndarray, probs: np.ndarray) -> float:
    values = []
    for c in range(truth.shape[1]):
        t, p = truth[:, c], probs[:, c]
        n_pos = int(t.sum())
        if 0 < n_pos < len(t):
            ranks = _average_ranks(p)
            values.append((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (len(t) - n_pos)))
    return float(np.mean(values)) if values else float("nan")


def _macro_average_precision(truth: np.ndarray, probs: np.ndarray) -> float:
    values = []
    for c in range(truth.shape[1]):
        t, p = truth[:, c], probs[:, c]
        n_pos = int(t.sum())
        if 0 < n_pos < len(t):
            hits = t[np.argsort(-p, kind="stable")]
            precision_at_hits = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
            values.append(precision_at_hits.sum() / n_pos)
    return float(np.mean(values)) if values else float("nan")


def _macro_f1_at(truth: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> float:
    pred = probs >= thresholds[None, :]
    tp = (pred & truth).sum(axis=0)
    denom = pred.sum(axis=0) + truth.sum(axis=0)
    return float(np.mean(np.divide(2 * tp, denom, out=np.zeros(len(denom)), where=denom > 0)))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank (as the Mann-Whitney statistic needs)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2
    return ranks


def format_report(report: Mapping[str, Any]) -> str:
    """The report for a terminal: what was measured on which clips, then the numbers with intervals."""
    lines = [f"{report['dataset']}: {report['n_clips']} clips — {report['split']}"]
    lines.append(metrics.format_report(dict(report)))
    if report.get("task") == "multilabel":
        intervals = [
            f"{name} {lo:.3f}-{hi:.3f}"
            for name, key in (
                ("ROC-AUC", "macro_roc_auc_ci"),
                ("PR-AUC", "macro_pr_auc_ci"),
                ("F1", "macro_f1_ci"),
            )
            if report.get(key)
            for lo, hi in [report[key]]
        ]
        if intervals:
            lines.append("95% bootstrap intervals of the macro means: " + ", ".join(intervals))
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


# ------------------------------------------------------------------------------------------------ training


@dataclass
class TrainedModel:
    """The best model of a run (by validation score), its card's contents and what it was measured on."""

    model: torch.nn.Module
    config: TrainConfig
    architecture_config: dict[str, Any]
    task: str
    labels: tuple[str, ...]
    embedding_dim: int
    dataset_name: str
    split_description: str
    split_sizes: dict[str, int]
    report: dict[str, Any]  # held-out test metrics
    failures: list[tuple[str, str]]
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    thresholds: list[float] | None = None
    device_name: str = ""
    extra_provenance: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _in_memory_card(config: TrainConfig, task: str, labels: Sequence[str], arch_config: Mapping) -> ModelCard:
    return ModelCard(
        name="training",
        architecture=config.architecture,
        version="1.0",
        task=task,
        labels=tuple(labels),
        categories={label: "other" for label in labels},
        sample_rate=SAMPLE_RATE,
        mel=dict(MUSICNN_MEL),
        patch_frames=PATCH_FRAMES,
        patch_hop_frames=PATCH_FRAMES,
        embedding_dim=0,
        licence=LICENCE,
        provenance={},
        reported_metrics={},
        folder=Path("."),
        config=dict(arch_config),
    )


def _loss(config: TrainConfig, multilabel: bool, train_targets: np.ndarray, n_labels: int, device):
    from musictagger.research import losses

    if multilabel:
        return losses.MultiLabelLoss().to(device)
    counts = np.bincount(train_targets, minlength=n_labels).tolist()
    weights = losses.class_weights(counts, config.class_weights, beta=config.effective_beta)
    scale = config.architecture_config().get("scale")
    return losses.BalancedTrustedLoss(
        alpha=config.alpha,
        beta=config.beta,
        class_weights=weights,
        margin_angle=config.margin_angle,
        margin_cos=config.margin_cos,
        scale=scale,
    ).to(device)


def _validation_score(multilabel: bool, probs: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(score, -loss): macro-F1 or macro PR-AUC first, clip-level loss to break ties between epochs."""
    eps = 1e-7
    if multilabel:
        t = targets.astype(np.float64)
        p = np.clip(probs, eps, 1 - eps)
        loss = float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())
        scored = [c for c in range(t.shape[1]) if 0 < t[:, c].sum() < len(t)]
        score = float(np.mean([average_precision_score(t[:, c], p[:, c]) for c in scored])) if scored else 0
        return score, -loss
    loss = float(-np.log(np.clip(probs[np.arange(len(targets)), targets], eps, 1)).mean())
    pred = probs.argmax(axis=1)
    score = float(f1_score(targets, pred, labels=range(probs.shape[1]), average="macro", zero_division=0))
    return score, -loss


def _say(progress: bool, text: str) -> None:
    if progress:
        tqdm.write(text, file=sys.stderr)


def train(
    config: TrainConfig,
    dataset: LabelledSet,
    *,
    cache: PatchCache | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> TrainedModel:
    """Train ``config.architecture`` on ``dataset`` and measure the best epoch on a held-out test split.

    Clips that cannot be decoded are skipped and listed in ``TrainedModel.failures``; the split is made
    on the clips that could be read (stratified, artist-disjoint when artists are known, the official split
    when the dataset has one). Early stopping keeps the epoch with the best validation macro-F1
    (single-label) or macro PR-AUC (multi-label).
    """
    config.validate()
    device = resolve_device(config.device)
    if device.type == "cuda":
        # cuBLAS needs this to be deterministic; it must be set before the first CUDA matmul.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    multilabel = bool(dataset.multilabel)
    task = "multilabel" if multilabel else "multiclass"
    if cache is None:
        cache = PatchCache(with_features=config.uses_features, max_patches=config.max_patches)
    elif config.uses_features and not cache.with_features:
        raise TrainingError(f"{config.architecture} needs hand-made features: PatchCache(with_features=True)")
    elif cache.max_patches != config.max_patches:
        raise TrainingError(
            f"the cache keeps {cache.max_patches} patches per clip, the config {config.max_patches}"
        )

    clips, kept, failures = load_clips(cache, [e.path for e in dataset.examples], progress=progress)
    if len(kept) < 3:
        raise TrainingError(
            f"{dataset.name}: only {len(kept)} of {len(dataset.examples)} clips could be read; "
            "training needs at least 3"
        )
    usable = dataset.subset(np.asarray(kept, dtype=np.int64))
    train_idx, val_idx, test_idx = train_val_test_split(
        usable, val=config.val, test=config.test, seed=config.seed
    )
    split_text = describe_split(usable, (train_idx, val_idx, test_idx), seed=config.seed)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise TrainingError(f"{dataset.name}: too few clips to hold out a test split ({split_text})")
    targets = usable.targets()
    labels = tuple(usable.labels)
    arch_config = config.architecture_config()
    arch_config["inputs"] = [INPUTS_MEL, INPUTS_FEATURES] if config.uses_features else [INPUTS_MEL]

    previous_determinism = torch.are_deterministic_algorithms_enabled()
    previous_benchmark = torch.backends.cudnn.benchmark
    if device.type != "cpu":
        # GPU kernels (atomics, cuDNN autotuning) vary between runs unless told not to; the CPU kernels
        # used here are deterministic already, and switching this on costs a 5-s import of torch._inductor.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    try:
        seed_everything(config.seed)
        try:
            model = research_architecture(config.architecture).build(
                _in_memory_card(config, task, labels, arch_config)
            )
        except (TypeError, ValueError) as exc:  # e.g. an --arch-option the net cannot take
            raise TrainingError(f"{config.architecture}: {exc}") from exc
        extra: dict[str, Any] = {}
        if config.imagenet_weights:
            from musictagger.nets import resnet

            loaded = resnet.load_imagenet_weights(model, config.imagenet_weights)
            _say(progress, f"ImageNet weights from {config.imagenet_weights}: {loaded}")
            extra["imagenet_weights"] = {
                "file": os.path.basename(config.imagenet_weights),
                **loaded.as_dict(),
            }
        model.to(device)
        best_state, best_epoch, history = _fit(
            model, config, clips, targets, train_idx, val_idx, multilabel, device, progress, on_epoch
        )
        model.load_state_dict(best_state)
        model.eval()

        thresholds = None
        if multilabel:
            if len(val_idx):
                val_probs = predict_clips(
                    model, clips, val_idx, uses_features=config.uses_features, device=device
                )
                thresholds = np.asarray(
                    metrics.choose_thresholds(val_probs, targets[val_idx]), dtype=np.float64
                )
            else:
                thresholds = np.full(len(labels), 0.5)
        test_probs = predict_clips(model, clips, test_idx, uses_features=config.uses_features, device=device)
        report = held_out_report(
            multilabel=multilabel,
            labels=labels,
            probs=test_probs,
            targets=targets[test_idx],
            thresholds=thresholds,
            seed=config.seed,
            split=f"test split of {split_text}",
            dataset=dataset.name,
        )
        with torch.no_grad():
            embedding_dim = int(
                _forward(model, clips, np.arange(1), device, config.uses_features).penultimate.shape[1]
            )
    finally:
        if device.type != "cpu":
            torch.use_deterministic_algorithms(previous_determinism)
            torch.backends.cudnn.benchmark = previous_benchmark

    return TrainedModel(
        model=model.cpu(),
        config=config,
        architecture_config=arch_config,
        task=task,
        labels=labels,
        embedding_dim=embedding_dim,
        dataset_name=dataset.name,
        split_description=split_text,
        split_sizes={"train": len(train_idx), "validation": len(val_idx), "test": len(test_idx)},
        report=report,
        failures=failures,
        best_epoch=best_epoch,
        history=history,
        thresholds=None if thresholds is None else [float(t) for t in thresholds],
        device_name=describe_device(device),
        extra_provenance=extra,
    )


def _fit(model, config, clips, targets, train_idx, val_idx, multilabel, device, progress, on_epoch):
    """The epoch loop; returns the best state (by validation score), its epoch (1-based) and the history."""
    rows = clips.patch_rows(train_idx)
    patch_clip = clips.patch_clip()
    row_targets = targets[patch_clip[rows]]
    loss_fn = _loss(config, multilabel, row_targets, _n_outputs(model, clips, device, config), device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    shuffler = torch.Generator().manual_seed(config.seed)
    best: tuple[float, float] | None = None
    best_state = copy.deepcopy(model.state_dict())
    best_epoch = 0
    history: list[dict[str, float]] = []
    stale = 0
    epochs = tqdm(
        range(1, config.epochs + 1), unit="epoch", desc="training", file=sys.stderr, disable=not progress
    )
    for epoch in epochs:
        model.train()
        order = rows[torch.randperm(len(rows), generator=shuffler).numpy()]
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            if len(batch) < 2:  # BatchNorm cannot train on a single sample
                continue
            out = _forward(model, clips, batch, device, config.uses_features)
            y = targets[patch_clip[batch]]
            target = torch.from_numpy(y.astype(np.float32) if multilabel else y.astype(np.int64)).to(device)
            loss = loss_fn(out.logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            seen += len(batch)
        record = {"epoch": epoch, "train_loss": total / max(seen, 1)}
        if len(val_idx):
            probs = predict_clips(model, clips, val_idx, uses_features=config.uses_features, device=device)
            score = _validation_score(multilabel, probs, targets[val_idx])
            record["val_score"], record["val_loss"] = score[0], -score[1]
        else:  # no validation clips: the last epoch is the model
            score = (float(epoch), 0.0)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if best is None or score > best:
            best, best_state, best_epoch, stale = score, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            stale += 1
        if len(val_idx):
            epochs.set_postfix(
                loss=f"{record['train_loss']:.3f}",
                val=f"{record['val_score']:.3f}",
                best=f"{best[0]:.3f}@{best_epoch}",
            )
        if stale >= config.patience:
            _say(progress, f"early stop after epoch {epoch}: no better validation score for {stale} epochs")
            break
    epochs.close()
    return best_state, best_epoch, history


def _n_outputs(model, clips: ClipSet, device, config: TrainConfig) -> int:
    with torch.no_grad():
        was = model.training
        model.eval()
        n = int(_forward(model, clips, np.arange(1), device, config.uses_features).logits.shape[1])
        model.train(was)
    return n


# ------------------------------------------------------------------------------------------ saving, loading


def card_dict(trained: TrainedModel, name: str, category: str, dataset_spec: str | None = None) -> dict:
    """The model card of a trained model: everything the app needs to run it and a user needs to judge it."""
    if category not in CATEGORY_CHOICES:
        raise TrainingError(f"--category must be one of {', '.join(CATEGORY_CHOICES)}")
    config = dict(trained.architecture_config)
    config["max_patches"] = trained.config.max_patches
    if trained.thresholds is not None:
        config["thresholds"] = {label: t for label, t in zip(trained.labels, trained.thresholds, strict=True)}
    return {
        "name": name,
        "architecture": trained.config.architecture,
        "version": "1.0",
        "task": trained.task,
        "labels": list(trained.labels),
        "categories": {label: category for label in trained.labels},
        "sample_rate": SAMPLE_RATE,
        "mel": dict(MUSICNN_MEL),
        "patch_frames": PATCH_FRAMES,
        "patch_hop_frames": PATCH_FRAMES,
        "embedding_dim": trained.embedding_dim,
        "licence": LICENCE,
        "provenance": _jsonable(
            {
                "trained_with": f"musictagger {__version__} train",
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "dataset": {
                    "name": trained.dataset_name,
                    "spec": dataset_spec,
                    "clips_used": sum(trained.split_sizes.values()),
                    "clips_skipped": len(trained.failures),
                },
                "split": trained.split_description,
                "split_sizes": trained.split_sizes,
                "seed": trained.config.seed,
                "settings": asdict(trained.config),
                "device": trained.device_name,
                "best_epoch": trained.best_epoch,
                "epochs_run": len(trained.history),
                **trained.extra_provenance,
            }
        ),
        "reported_metrics": trained.report,
        "config": _jsonable(config),
    }


def save_checkpoint(
    trained: TrainedModel, folder: Path, name: str, category: str, dataset_spec: str | None = None
) -> Path:
    """Write ``card.json`` + ``weights.safetensors`` (via the catalog, which reads the card back)."""
    card = card_dict(trained, name, category, dataset_spec)
    return catalog.save_model(Path(folder), card, trained.model.state_dict())
