"""Multi-label music emotion CNN (work 3: Liu, Chen, Wu, Liu, Liu, "CNN based music emotion
classification", arXiv:1704.05665, 2017).

A plain 2-D CNN reads the log-mel patch itself instead of hand-made features, and each emotion tag gets
its own sigmoid, because a segment can evoke several emotions at once (trained with binary cross-entropy).
The input is musicnn's ``(B, 187, 96)`` (time, mel) patch, seen as a one-channel image
``(B, 1, 96 mel, 187 time)`` with frequency as height.

Module paths (hooks, state-dict keys), for the default widths and a 187-frame patch:

=====================  ============================================================================
``input_bn``            BatchNorm2d(1) on the raw log-mel, so no dataset statistics are needed
``blocks.{i}``          conv 3×3 → BN → ReLU → max-pool 2 (``.conv``, ``.bn``, ``.relu``, ``.pool``)
                        — (B, 16, 48, 93), (B, 32, 24, 46), (B, 64, 12, 23), (B, 128, 6, 11)
``blocks.3.relu``       the last conv activations before pooling, (B, 128, 12, 23): a Grad-CAM target
``dense``               Linear(128 → 128) after global average pooling, then ReLU: ``penultimate``
``output``              Linear(128 → n_labels): :data:`OUTPUT_WEIGHT` is its weight
=====================  ============================================================================

Default size: about 120 k parameters (18 CAL500 emotion tags).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from musictagger.nets.outputs import ClassifierOutput

__all__ = ["ARCHITECTURE_NAME", "OUTPUT_WEIGHT", "EmotionCNN", "build"]

ARCHITECTURE_NAME = "emotion_cnn"
OUTPUT_WEIGHT = "output.weight"
DEFAULT_CHANNELS = (16, 32, 64, 128)


class _ConvBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()  # a module, not in-place, so hooks can keep its output
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.bn(self.conv(x))))


class EmotionCNN(nn.Module):
    """``forward(mel)`` on ``(B, T, n_mels)`` log-mel patches returns a :class:`ClassifierOutput`:
    independent sigmoids when ``multilabel`` (the default), else a softmax (e.g. four mood quadrants)."""

    def __init__(
        self,
        n_labels: int,
        *,
        n_mels: int = 96,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        dense_units: int = 128,
        dropout: float = 0.3,
        multilabel: bool = True,
    ):
        super().__init__()
        channels = tuple(channels)
        if not channels:
            raise ValueError("EmotionCNN needs at least one conv block")
        self.n_labels = int(n_labels)
        self.n_mels = int(n_mels)
        self.multilabel = bool(multilabel)
        self.input_bn = nn.BatchNorm2d(1)
        self.blocks = nn.ModuleList(
            _ConvBlock(i, o) for i, o in zip((1, *channels[:-1]), channels, strict=True)
        )
        self.dense = nn.Linear(channels[-1], dense_units)
        self.dense_relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(dense_units, self.n_labels)

    def forward(self, mel: torch.Tensor) -> ClassifierOutput:
        if mel.dim() != 3 or mel.shape[-1] != self.n_mels:
            raise ValueError(f"expected mel patches (B, T, {self.n_mels}), got {tuple(mel.shape)}")
        x = self.input_bn(mel.transpose(1, 2).unsqueeze(1))  # (B, 1, n_mels, T)
        for block in self.blocks:
            x = block(x)
        # average over frequency and time: an emotion cue anywhere in the 3 s counts
        penultimate = self.dense_relu(self.dense(x.mean(dim=(2, 3))))
        logits = self.output(self.dropout(penultimate))
        probs = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)
        return ClassifierOutput(logits=logits, probs=probs, penultimate=penultimate)


def build(card: Any) -> EmotionCNN:
    """Build from a :class:`~musictagger.catalog.ModelCard`.

    ``card.config`` keys (all optional): ``channels`` (list, default [16, 32, 64, 128]), ``dense_units``
    (128), ``dropout`` (0.3). ``n_mels`` comes from ``card.mel``, the outputs from ``card.labels``;
    ``card.task == "multilabel"`` gives sigmoids, ``"multiclass"`` a softmax.
    """
    config = dict(card.config)
    return EmotionCNN(
        n_labels=len(card.labels),
        n_mels=int(card.mel.get("n_mels", 96)),
        channels=[int(c) for c in config.get("channels", DEFAULT_CHANNELS)],
        dense_units=int(config.get("dense_units", 128)),
        dropout=float(config.get("dropout", 0.3)),
        multilabel=card.task == "multilabel",
    )
