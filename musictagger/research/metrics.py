"""How good a classifier is, with honest uncertainty: reports for single-label and multi-label models.

Single-label (genre, mood quadrant): accuracy with a Wilson interval, macro-F1 with a bootstrap interval
(macro-F1 weighs every class equally, so a model cannot look good by ignoring small classes), per-class
precision/recall/F1 and the confusion matrix (as numbers and as a PNG). Multi-label (tags): per-tag
thresholds chosen on validation data, macro ROC-AUC and PR-AUC (threshold-free) and macro-F1 at those
thresholds. Small test sets are the rule in this project (40-200 clips), hence the intervals.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

__all__ = [
    "bootstrap_interval",
    "choose_thresholds",
    "classification_report",
    "format_report",
    "macro_f1",
    "multilabel_report",
    "save_confusion_matrix_png",
    "wilson_interval",
]


# ----------------------------------------------------------------------------------------- single-label


def _as_indices(y: Sequence, labels: Sequence[str]) -> np.ndarray:
    """Class indices from indices or label names."""
    arr = np.asarray(y)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    index = {label: i for i, label in enumerate(labels)}
    try:
        return np.array([index[str(v)] for v in arr], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not one of {list(labels)}") from None


def _confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int | None = None) -> float:
    """Unweighted mean of the per-class F1 over the classes present in ``y_true`` or ``y_pred`` (as
    sklearn's ``f1_score(average="macro")``; a class with no true and no predicted example has no F1).
    Plain numpy, fast enough to bootstrap a thousand times."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    n = n_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    cm = _confusion(y_true, y_pred, n)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # 2tp + fp + fn
    present = denom > 0
    if not present.any():
        return 0.0
    return float(np.mean(2 * tp[present] / denom[present]))


def classification_report(
    y_true: Sequence, y_pred: Sequence, labels: Sequence[str], *, bootstrap: int = 1000, seed: int = 0
) -> dict:
    """Accuracy (with a 95 % Wilson interval), macro-F1 (with a bootstrap interval of ``bootstrap``
    resamples; 0 skips it), per-class precision/recall/F1/support and the confusion matrix (rows = true
    class, columns = predicted, in ``labels`` order). ``y_true``/``y_pred`` are class indices or names."""
    labels = [str(label) for label in labels]
    y_true, y_pred = _as_indices(y_true, labels), _as_indices(y_pred, labels)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must be equal-length vectors")
    n = len(y_true)
    classes = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    correct = int(np.sum(y_true == y_pred))
    report = {
        "task": "multiclass",
        "n": n,
        "labels": labels,
        "accuracy": correct / n if n else 0.0,
        "accuracy_ci": wilson_interval(correct, n),
        "macro_f1": macro_f1(y_true, y_pred, len(labels)) if n else 0.0,
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
    }
    if bootstrap and n:
        report["macro_f1_ci"] = bootstrap_interval(
            lambda t, p: macro_f1(t, p, len(labels)), y_true, y_pred, n=bootstrap, seed=seed
        )
    return report


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / n`` (95 % for z = 1.96). Unlike the normal
    approximation it stays inside [0, 1] and is sensible for small ``n`` and for 0 % or 100 %.
    With ``n = 0`` nothing is known: (0, 1)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= correct <= n:
        raise ValueError(f"correct ({correct}) must be between 0 and n ({n})")
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_interval(
    metric_fn: Callable[[np.ndarray, np.ndarray], float],
    y_true: Sequence,
    y_pred: Sequence,
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric_fn(y_true, y_pred)``: the metric on ``n`` resamples of the
    examples with replacement (same resamples for the same seed). Works for multi-label arrays too (rows
    are resampled)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    size = len(y_true)
    if size == 0:
        raise ValueError("cannot bootstrap an empty sample")
    rng = np.random.default_rng(seed)
    values = np.empty(n, dtype=np.float64)
    for i in range(n):
        rows = rng.integers(0, size, size)
        values[i] = metric_fn(y_true[rows], y_pred[rows])
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return (float(lo), float(hi))


def save_confusion_matrix_png(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], path: str | os.PathLike, title: str = ""
) -> Path:
    """Draw the confusion matrix (rows true, columns predicted) with counts in the cells, shaded by the
    row fraction (recall) so small and large classes read alike. Rendered off-screen with Agg on a
    private Figure: no window, no pyplot state, safe in a GUI process or a thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(matrix, dtype=np.int64)
    labels = [str(label) for label in labels]
    if cm.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix shape {cm.shape} does not match {len(labels)} labels")
    rows = cm.sum(axis=1, keepdims=True)
    fraction = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    side = max(4.0, 1.2 + 0.55 * len(labels))
    fig = Figure(figsize=(side + 1.2, side), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=45, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    for i in ticks:
        for j in ticks:
            if cm[i, j]:
                colour = "white" if fraction[i, j] > 0.5 else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=colour, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


# ------------------------------------------------------------------------------------------ multi-label


def _f1_at(scores: np.ndarray, truth: np.ndarray, threshold: float) -> float:
    pred = scores >= threshold
    tp = np.sum(pred & truth)
    denom = np.sum(pred) + np.sum(truth)
    return float(2 * tp / denom) if denom else 0.0


def choose_thresholds(probs_val: np.ndarray, targets_val: np.ndarray, default: float = 0.5) -> np.ndarray:
    """Per tag, the threshold that maximises F1 on validation data (a tag is on when ``prob >= t``).

    Every distinct score is tried as a cut; the threshold returned is halfway between the best cut and
    the next lower score, so it gives the same validation predictions but is not balanced on one clip's
    score. Tags without a positive validation example keep ``default``."""
    probs = np.asarray(probs_val, dtype=np.float64)
    truth = np.asarray(targets_val) > 0
    if probs.shape != truth.shape or probs.ndim != 2:
        raise ValueError(f"probs {probs.shape} and targets {truth.shape} must be equal (N, C) arrays")
    thresholds = np.full(probs.shape[1], default, dtype=np.float64)
    for c in range(probs.shape[1]):
        positives = int(truth[:, c].sum())
        if positives == 0:
            continue
        order = np.argsort(-probs[:, c], kind="stable")
        scores, hits = probs[order, c], truth[order, c]
        # cut after each run of equal scores: predicting "on" for everything scoring >= that value
        last_of_value = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
        tp = np.cumsum(hits)[last_of_value]
        predicted = last_of_value + 1
        f1 = 2 * tp / (predicted + positives)
        best = int(np.argmax(f1))
        cut = scores[last_of_value[best]]
        below = scores[last_of_value[best] + 1] if last_of_value[best] + 1 < len(scores) else None
        thresholds[c] = cut if below is None else (cut + below) / 2
    return thresholds


def multilabel_report(
    probs: np.ndarray, targets: np.ndarray, thresholds: np.ndarray | Sequence[float], labels: Sequence[str]
) -> dict:
    """Macro ROC-AUC and PR-AUC (average precision) over tags, macro and micro F1 at ``thresholds``, and
    the same per tag. A tag whose targets are all one class has no AUC: it is left out of the AUC means
    and named in ``notes``."""
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(targets) > 0
    thresholds = np.asarray(thresholds, dtype=np.float64)
    labels = [str(label) for label in labels]
    if (
        probs.shape != truth.shape
        or probs.ndim != 2
        or probs.shape[1] != len(labels)
        or len(labels) != len(thresholds)
    ):
        raise ValueError(
            f"probs {probs.shape}, targets {truth.shape}, {len(thresholds)} thresholds and "
            f"{len(labels)} labels do not match"
        )
    pred = probs >= thresholds[None, :]
    per_tag, rocs, prs, f1s, one_class = {}, [], [], [], []
    for c, label in enumerate(labels):
        p, r, f, _ = precision_recall_fscore_support(
            truth[:, c], pred[:, c], average="binary", zero_division=0
        )
        entry = {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "threshold": float(thresholds[c]),
            "support": int(truth[:, c].sum()),
            "roc_auc": None,
            "pr_auc": None,
        }
        if truth[:, c].all() or not truth[:, c].any():
            one_class.append(label)
        else:
            entry["roc_auc"] = float(roc_auc_score(truth[:, c], probs[:, c]))
            entry["pr_auc"] = float(average_precision_score(truth[:, c], probs[:, c]))
            rocs.append(entry["roc_auc"])
            prs.append(entry["pr_auc"])
        f1s.append(entry["f1"])
        per_tag[label] = entry
    tp = int(np.sum(pred & truth))
    micro_denom = int(pred.sum() + truth.sum())
    notes = []
    if one_class:
        notes.append(f"no ROC/PR-AUC for {len(one_class)} tag(s) with only one class in the targets: "
                     + ", ".join(one_class))  # fmt: skip
    return {
        "task": "multilabel",
        "n": int(probs.shape[0]),
        "labels": labels,
        "macro_roc_auc": float(np.mean(rocs)) if rocs else None,
        "macro_pr_auc": float(np.mean(prs)) if prs else None,
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "micro_f1": 2 * tp / micro_denom if micro_denom else 0.0,
        "per_tag": per_tag,
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------------- display


def _ci(report: dict, key: str) -> str:
    ci = report.get(key)
    return f"  (95% CI {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""


def _num(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def format_report(report: dict) -> str:
    """A report from :func:`classification_report` or :func:`multilabel_report` as terminal text."""
    lines = []
    if report.get("task") == "multilabel":
        lines.append(f"{report['n']} clips, {len(report['labels'])} tags")
        lines.append(
            f"macro ROC-AUC {_num(report['macro_roc_auc'])}   macro PR-AUC {_num(report['macro_pr_auc'])}"
        )
        lines.append(f"macro F1 {report['macro_f1']:.3f}   micro F1 {report['micro_f1']:.3f}")
        width = max([len(label) for label in report["labels"]] + [3])
        lines.append("")
        lines.append(f"{'tag':<{width}}  ROC-AUC  PR-AUC  thresh     F1  support")
        for label, m in report["per_tag"].items():
            lines.append(
                f"{label:<{width}}  {_num(m['roc_auc']):>7}  {_num(m['pr_auc']):>6}  {m['threshold']:>6.3f}"
                f"  {m['f1']:.3f}  {m['support']:>7}"
            )
        lines += [f"note: {note}" for note in report.get("notes", [])]
        return "\n".join(lines)
    labels = report["labels"]
    lines.append(f"{report['n']} clips, {len(labels)} classes")
    lines.append(f"accuracy {report['accuracy']:.3f}{_ci(report, 'accuracy_ci')}")
    lines.append(f"macro F1 {report['macro_f1']:.3f}{_ci(report, 'macro_f1_ci')}")
    width = max([len(label) for label in labels] + [5])
    lines.append("")
    lines.append(f"{'class':<{width}}  precision  recall     F1  support")
    for label, m in report["per_class"].items():
        lines.append(
            f"{label:<{width}}  {m['precision']:>9.3f}  {m['recall']:>6.3f}  {m['f1']:.3f}  {m['support']:>7}"
        )
    # The confusion matrix with short column names (first 4 characters) so 10 classes fit a terminal.
    lines.append("")
    lines.append("confusion (rows true, columns predicted)")
    short = [label[:4] for label in labels]
    cell = max(4, *(len(str(v)) for row in report["confusion"] for v in row))
    lines.append(" " * width + "  " + " ".join(f"{s:>{cell}}" for s in short))
    for label, row in zip(labels, report["confusion"], strict=True):
        lines.append(f"{label:<{width}}  " + " ".join(f"{v:>{cell}}" for v in row))
    return "\n".join(lines)
