"""Training losses of the research models: the balanced trusted loss (ResNet50_trust) and multi-label BCE.

Li et al. (Multimedia Tools and Applications 81(4), 2022) train ResNet50 with a "balanced trusted loss"
whose formula is not public; what follows is *our reading* of it, as one configurable loss:

* **trusted** — symmetric cross-entropy (Wang et al., ICCV 2019), robust to wrongly labelled clips:
  ``l = α·CE(p, y) + β·RCE(p, y)`` with ``CE = −log p_y`` and the reverse cross-entropy
  ``RCE = −Σ_k p_k log q_k``, ``q`` the one-hot label with ``log 0`` clipped to ``A = log_clip`` (−4), so
  ``RCE = −A·(1 − p_y)``: it lies in ``[0, −A]`` however confidently the net contradicts the label, where
  CE grows without bound — a mislabelled clip cannot dominate the gradient.
* **balanced** — per-class weights from class frequency (:func:`class_weights`: inverse frequency or
  Cui et al. 2019's effective number ``(1 − β)/(1 − β^{n_c})``), applied per sample as ``w[y_i]`` and
  normalised like PyTorch's weighted cross-entropy: ``Σ w_i l_i / Σ w_i``.
* **margins** — the same group's AMCM-Softmax (Neural Computing and Applications, 2022): with a cosine
  classifier (L2-normalised weights and features, logits ``s·cos θ``) the target logit becomes
  ``s·(cos(θ_y + m1) − m2)`` before the softmax, so a clip must beat the other classes by a margin.

With α = 1, β = 0, uniform weights and no margins the loss is exactly ``F.cross_entropy``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "WEIGHT_SCHEMES",
    "BalancedTrustedLoss",
    "MultiLabelLoss",
    "class_weights",
    "positive_weights",
]

WEIGHT_SCHEMES = ("uniform", "inverse", "effective")
# logits / s can leave [−1, 1] by float rounding, where acos is NaN, and acos' slope 1/sin θ is unbounded
# near ±1: cosines are kept this far inside, which caps the slope at ~700.
_COS_EPS = 1e-6


def class_weights(counts: Sequence[int], scheme: str = "uniform", beta: float = 0.999) -> torch.Tensor:
    """Per-class loss weights from the training-set class counts, scaled to mean 1 (they sum to n_classes).

    ``"uniform"``: all 1. ``"inverse"``: ``1/n_c``. ``"effective"``: ``(1 − β)/(1 − β^{n_c})`` (Cui et al.,
    CVPR 2019, "Class-balanced loss based on effective number of samples"): between uniform (β → 0) and
    inverse frequency (β → 1). A class with no training examples never appears as a target, so its weight
    never enters the loss; it is weighted as if it had one example so the scaling of the others stays finite.
    """
    if scheme not in WEIGHT_SCHEMES:
        raise ValueError(f"unknown class-weight scheme {scheme!r} (allowed: {', '.join(WEIGHT_SCHEMES)})")
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0:
        raise ValueError("counts must be a non-empty list with one count per class")
    if (n < 0).any():
        raise ValueError("class counts cannot be negative")
    n = np.maximum(n, 1.0)
    if scheme == "uniform":
        w = np.ones_like(n)
    elif scheme == "inverse":
        w = 1.0 / n
    else:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"effective-number beta must be in [0, 1), got {beta}")
        w = (1.0 - beta) / (1.0 - np.power(beta, n))
    w = w * (len(w) / w.sum())
    return torch.as_tensor(w, dtype=torch.float32)


class BalancedTrustedLoss(nn.Module):
    """The balanced trusted loss (our reading; see the module docstring) for single-label classification.

    ``forward(logits (B, C), target (B,) int64 class indices) -> scalar``. Per sample, with ``p`` the softmax
    of the (margin-adjusted) logits: ``l_i = α·(−log p_y) + β·(−log_clip)·(1 − p_y)``; the batch loss is
    ``Σ w[y_i]·l_i / Σ w[y_i]`` (plain mean without ``class_weights``).

    Margins (``margin_angle`` = m1 in radians, ``margin_cos`` = m2) need logits from a cosine classifier with
    scale ``scale`` = s: ``cos θ = logits / s`` and the target logit becomes ``s·(cos(θ_y + m1) − m2)``, with
    ``θ_y + m1`` clamped to ``[0, π]`` — past π the cosine would rise again and the margin would *help* the
    worst-classified clips. Use no margins at evaluation time: they only shape training.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        beta: float = 0.0,
        class_weights: torch.Tensor | Sequence[float] | None = None,
        margin_angle: float = 0.0,
        margin_cos: float = 0.0,
        scale: float | None = None,
        log_clip: float = -4.0,
    ):
        super().__init__()
        if alpha < 0 or beta < 0 or alpha + beta == 0:
            raise ValueError(f"alpha and beta must be ≥ 0 and not both 0 (got {alpha}, {beta})")
        if log_clip >= 0:
            raise ValueError(f"log_clip stands for log 0 and must be negative, got {log_clip}")
        if (margin_angle or margin_cos) and (scale is None or scale <= 0):
            raise ValueError(
                "margins need the positive scale s of the cosine classifier that made the logits"
            )
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.margin_angle = float(margin_angle)
        self.margin_cos = float(margin_cos)
        self.scale = None if scale is None else float(scale)
        self.log_clip = float(log_clip)
        weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        if weights is not None and (weights.ndim != 1 or (weights < 0).any()):
            raise ValueError("class_weights must be a 1-D tensor of non-negative weights, one per class")
        # A buffer so .to(device) moves it with the module; not persistent: it is a training setting.
        self.register_buffer("class_weights", weights, persistent=False)

    @property
    def has_margin(self) -> bool:
        return bool(self.margin_angle or self.margin_cos)

    def margin_logits(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The logits with the AMCM margins applied to each row's target class (unchanged without margins)."""
        if not self.has_margin:
            return logits
        s = self.scale
        target_cos = (logits.gather(1, target[:, None]) / s).clamp(-1 + _COS_EPS, 1 - _COS_EPS)
        theta = torch.acos(target_cos) + self.margin_angle
        adjusted = s * (torch.cos(theta.clamp(0.0, math.pi)) - self.margin_cos)
        return logits.scatter(1, target[:, None], adjusted)

    def per_sample(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``l_i`` for each row, before class weighting: (B,)."""
        logits = self.margin_logits(logits, target)
        log_p = F.log_softmax(logits, dim=1)
        log_p_target = log_p.gather(1, target[:, None]).squeeze(1)
        loss = -self.alpha * log_p_target if self.alpha else torch.zeros_like(log_p_target)
        if self.beta:
            # RCE = −Σ_k p_k log q_k: log q_y = 0 and log q_k = log_clip elsewhere, so only 1 − p_y remains.
            loss = loss + self.beta * (-self.log_clip) * (1.0 - log_p_target.exp())
        return loss

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.ndim != 2 or target.shape != logits.shape[:1]:
            raise ValueError(
                f"expected logits (B, C) and target (B,), got {tuple(logits.shape)} and {tuple(target.shape)}"
            )
        if target.dtype != torch.int64:
            raise ValueError(f"target must hold int64 class indices, got {target.dtype}")
        n_classes = logits.shape[1]
        if target.numel() and (target.min() < 0 or target.max() >= n_classes):
            raise ValueError(f"target class index out of range for {n_classes} classes")
        loss = self.per_sample(logits, target)
        if self.class_weights is None:
            return loss.mean()
        if self.class_weights.numel() != n_classes:
            raise ValueError(f"{self.class_weights.numel()} class weights for {n_classes} classes")
        w = self.class_weights.to(loss.dtype)[target]
        return (w * loss).sum() / w.sum()


def positive_weights(targets: np.ndarray | torch.Tensor) -> torch.Tensor:
    """BCE ``pos_weight`` per tag from a (N, C) 0/1 training target matrix: negatives / positives.

    This makes a rare tag's few positives weigh as much, in total, as its many negatives. A tag with no
    positives gets weight 1 (its positive term never occurs).
    """
    t = torch.as_tensor(np.asarray(targets), dtype=torch.float64)
    if t.ndim != 2:
        raise ValueError(f"targets must be (N, C), got shape {tuple(t.shape)}")
    positives = t.sum(0)
    negatives = t.shape[0] - positives
    weights = torch.where(positives > 0, negatives / positives.clamp(min=1), torch.ones_like(positives))
    return weights.to(torch.float32)


class MultiLabelLoss(nn.Module):
    """Binary cross-entropy on logits, one independent sigmoid per tag (the emotion CNN's loss).

    ``forward(logits (B, C), targets (B, C) in {0, 1}) -> scalar`` mean over all entries; ``pos_weight``
    (C,) multiplies each tag's positive term (see :func:`positive_weights`).
    """

    def __init__(self, pos_weight: torch.Tensor | Sequence[float] | None = None):
        super().__init__()
        weight = None if pos_weight is None else torch.as_tensor(pos_weight, dtype=torch.float32)
        if weight is not None and (weight.ndim != 1 or (weight < 0).any()):
            raise ValueError("pos_weight must be a 1-D tensor of non-negative weights, one per tag")
        self.register_buffer("pos_weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.shape != targets.shape or logits.ndim != 2:
            raise ValueError(
                f"expected logits and targets of the same (B, C) shape, got "
                f"{tuple(logits.shape)} and {tuple(targets.shape)}"
            )
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=pos_weight)
