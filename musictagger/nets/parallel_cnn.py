"""Multi-input parallel CNN with middle-level feature interaction (work 2: Liu, Wang, Zha, Electronics 2021).

Two branches read the same 3-s patch:

* ``visual``: a 2-D CNN on the log-mel patch, given as musicnn's ``(B, 187, 96)`` (time, mel) and turned
  into a one-channel image ``(B, 1, 96 mel, 187 time)``, frequency as height.
* ``audio``: a 1-D CNN over the patch's hand-made feature sequence ``(B, 94, N_FEATURES)`` from
  :func:`musictagger.research.features.patch_features` (MFCC, spectral shape, chroma, ZCR, RMS, tempo).

Both start with a batch norm of their raw input (so log-mel and raw feature units need no dataset
statistics), then blocks of conv → BN → ReLU → max-pool(2) → dropout 0.1. After block
``interaction_after`` the branches can exchange their mid-level features (``interaction``):

* ``"none"``: the baseline; the branches meet only at the end.
* ``"audio_to_visual"`` (the paper's best): the audio block's output ``(B, Ca, Ta)`` goes through a 1×1
  ``bridge_audio_to_visual`` (conv, BN, ReLU), is resized along time to the visual map's width and
  repeated over its frequency rows, and is concatenated as extra channels into the next visual block.
* ``"visual_to_audio"``: the visual map ``(B, Cv, F, Tv)`` is averaged over frequency, goes through a
  1×1 ``bridge_visual_to_audio``, is resized along time to ``Ta`` and concatenated into the next audio
  block.
* ``"two_way"``: both, exchanged simultaneously (each bridge reads the other branch before injection).

Time aligns because both sequences cover the same 3 s (mel hop 256, feature hop 512). The bridges keep
the exchanged channel count small (``bridge_channels``) and put it on the receiving branch's scale.

Fusion: global average pool of each branch, concatenated → ``fusion`` Linear(→128) → ReLU (the 128-d
``penultimate``) → dropout → ``output`` Linear(→n_labels). Softmax for single-label, sigmoid for multi-label.

Module paths (hooks, Grad-CAM, state-dict keys), for the default widths and a 187-frame patch:

=================================  ==================================================================
``visual.input_bn``                 BatchNorm2d(1) on the log-mel image — (B, 1, 96, 187)
``visual.blocks.{i}``               ConvBlock2d (``.conv``, ``.bn``, ``.relu``, ``.pool``, ``.dropout``)
                                    — (B, 16, 48, 93), (B, 32, 24, 46), (B, 64, 12, 23), (B, 128, 6, 11)
``visual.blocks.3.relu``            **Grad-CAM target** — the last conv layer's activations after ReLU,
                                    before pooling: (B, 128, 12, 23) (frequency, time); also
                                    :attr:`ParallelCNN.gradcam_layer` / :meth:`ParallelCNN.gradcam_layer_name`
``audio.input_bn``                  BatchNorm1d(N_FEATURES) on the features — (B, 45, 94)
``audio.blocks.{i}``                ConvBlock1d — (B, 32, 47), (B, 64, 23), (B, 64, 11)
``bridge_audio_to_visual``          only in audio_to_visual / two_way modes
``bridge_visual_to_audio``          only in visual_to_audio / two_way modes
``fusion``                          Linear(128 + 64 → 128)
``output``                          Linear(128 → n_labels): :data:`OUTPUT_WEIGHT` is its weight
=================================  ==================================================================

Default size: about 160 k parameters (audio_to_visual, 10 labels), cheap enough to train on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from musictagger.nets.outputs import ClassifierOutput

__all__ = [
    "ARCHITECTURE_NAME",
    "INTERACTIONS",
    "OUTPUT_WEIGHT",
    "ConvBlock1d",
    "ConvBlock2d",
    "ParallelCNN",
    "build",
]

ARCHITECTURE_NAME = "parallel_cnn"
OUTPUT_WEIGHT = "output.weight"
INTERACTIONS = ("none", "audio_to_visual", "visual_to_audio", "two_way")

#: Hand-made features per frame of ``research.features`` (its ``N_FEATURES``; a test keeps the two equal).
#: Spelled out so that the net, a runtime module, does not import the training side (and librosa).
DEFAULT_N_FEATURES = 45
DEFAULT_VISUAL_CHANNELS = (16, 32, 64, 128)
DEFAULT_AUDIO_CHANNELS = (32, 64, 64)
_BLOCK_DROPOUT = 0.1  # the paper's dropout after each conv block


class ConvBlock2d(nn.Module):
    """conv 3×3 → BN → ReLU → max-pool 2 → dropout; ``relu`` is a module so hooks can read its output."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = _BLOCK_DROPOUT):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()  # not in-place: Grad-CAM hooks keep this tensor
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.relu(self.bn(self.conv(x)))))


class ConvBlock1d(nn.Module):
    """The 1-D counterpart of :class:`ConvBlock2d`, over time."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float = _BLOCK_DROPOUT):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm1d(out_channels)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(2)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.pool(self.relu(self.bn(self.conv(x)))))


class _Branch(nn.Module):
    """An input batch norm and a stack of blocks; the interaction code runs the blocks one at a time."""

    def __init__(self, input_bn: nn.Module, blocks: Sequence[nn.Module]):
        super().__init__()
        self.input_bn = input_bn
        self.blocks = nn.ModuleList(blocks)


class _Bridge(nn.Module):
    """1×1 conv → BN → ReLU over time: brings one branch's mid-level features to the other's scale."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size=1, bias=False)
        self.bn = nn.BatchNorm1d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, length: int) -> torch.Tensor:
        """``(B, C_in, T)`` → ``(B, C_out, length)``: linear resampling along time (both span 3 s)."""
        y = self.relu(self.bn(self.conv(x)))
        if y.shape[-1] != length:
            y = F.interpolate(y, size=length, mode="linear", align_corners=False)
        return y


class ParallelCNN(nn.Module):
    """The two-branch genre CNN; ``forward(mel, features)`` returns a :class:`ClassifierOutput`."""

    def __init__(
        self,
        n_labels: int,
        *,
        n_mels: int = 96,
        n_features: int = 45,
        interaction: str = "audio_to_visual",
        visual_channels: Sequence[int] = DEFAULT_VISUAL_CHANNELS,
        audio_channels: Sequence[int] = DEFAULT_AUDIO_CHANNELS,
        interaction_after: int = 1,
        bridge_channels: int = 16,
        dense_units: int = 128,
        dropout: float = 0.3,
        multilabel: bool = False,
    ):
        super().__init__()
        if interaction not in INTERACTIONS:
            raise ValueError(f"interaction must be one of {', '.join(INTERACTIONS)}, not {interaction!r}")
        visual_channels, audio_channels = tuple(visual_channels), tuple(audio_channels)
        if not visual_channels or not audio_channels:
            raise ValueError("each branch needs at least one block")
        # the exchanged features enter the block after `interaction_after`, so that block must exist
        last = min(len(visual_channels), len(audio_channels)) - 1
        if not 0 <= interaction_after < last:
            raise ValueError(
                f"interaction_after must be a block index below {last} for {len(visual_channels)} visual and "
                f"{len(audio_channels)} audio blocks, got {interaction_after}"
            )
        self.n_labels = int(n_labels)
        self.n_mels = int(n_mels)
        self.n_features = int(n_features)
        self.interaction = interaction
        self.interaction_after = int(interaction_after)
        self.multilabel = bool(multilabel)
        to_visual = interaction in ("audio_to_visual", "two_way")
        to_audio = interaction in ("visual_to_audio", "two_way")
        k = self.interaction_after

        visual_in = [1, *visual_channels[:-1]]
        if to_visual:
            visual_in[k + 1] += bridge_channels
        self.visual = _Branch(
            nn.BatchNorm2d(1), [ConvBlock2d(i, o) for i, o in zip(visual_in, visual_channels, strict=True)]
        )
        audio_in = [self.n_features, *audio_channels[:-1]]
        if to_audio:
            audio_in[k + 1] += bridge_channels
        self.audio = _Branch(
            nn.BatchNorm1d(self.n_features),
            [ConvBlock1d(i, o) for i, o in zip(audio_in, audio_channels, strict=True)],
        )
        self.bridge_audio_to_visual = _Bridge(audio_channels[k], bridge_channels) if to_visual else None
        self.bridge_visual_to_audio = _Bridge(visual_channels[k], bridge_channels) if to_audio else None

        self.fusion = nn.Linear(visual_channels[-1] + audio_channels[-1], dense_units)
        self.fusion_relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(dense_units, self.n_labels)

    @property
    def gradcam_layer(self) -> nn.Module:
        """The visual branch's last conv activations (after ReLU, before pooling): Grad-CAM's target."""
        return self.visual.blocks[-1].relu

    def gradcam_layer_name(self) -> str:
        """``gradcam_layer``'s path for ``named_modules()``, e.g. ``"visual.blocks.3.relu"``."""
        return f"visual.blocks.{len(self.visual.blocks) - 1}.relu"

    def forward(self, mel: torch.Tensor, features: torch.Tensor) -> ClassifierOutput:
        """``mel`` (B, T, n_mels) log-mel patches, ``features`` (B, T_f, n_features) → ClassifierOutput."""
        if mel.dim() != 3 or mel.shape[-1] != self.n_mels:
            raise ValueError(f"expected mel patches (B, T, {self.n_mels}), got {tuple(mel.shape)}")
        if features.dim() != 3 or features.shape[-1] != self.n_features:
            raise ValueError(f"expected features (B, T_f, {self.n_features}), got {tuple(features.shape)}")
        if features.shape[0] != mel.shape[0]:
            raise ValueError(f"{mel.shape[0]} mel patches but {features.shape[0]} feature patches")
        v = self.visual.input_bn(mel.transpose(1, 2).unsqueeze(1))  # (B, 1, n_mels, T)
        a = self.audio.input_bn(features.transpose(1, 2))  # (B, n_features, T_f)
        k = self.interaction_after
        for i in range(k + 1):
            v = self.visual.blocks[i](v)
            a = self.audio.blocks[i](a)
        # Both bridges read the pre-exchange maps, so two_way is a simultaneous swap.
        v_mid, a_mid = v, a
        if self.bridge_audio_to_visual is not None:
            injected = self.bridge_audio_to_visual(a_mid, v_mid.shape[-1])  # (B, C, T_v)
            injected = injected.unsqueeze(2).expand(-1, -1, v_mid.shape[2], -1)  # same for every mel row
            v = torch.cat([v_mid, injected], dim=1)
        if self.bridge_visual_to_audio is not None:
            a = torch.cat([a_mid, self.bridge_visual_to_audio(v_mid.mean(dim=2), a_mid.shape[-1])], dim=1)
        for block in self.visual.blocks[k + 1 :]:
            v = block(v)
        for block in self.audio.blocks[k + 1 :]:
            a = block(a)
        pooled = torch.cat([v.mean(dim=(2, 3)), a.mean(dim=2)], dim=1)
        penultimate = self.fusion_relu(self.fusion(pooled))
        logits = self.output(self.dropout(penultimate))
        probs = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)
        return ClassifierOutput(logits=logits, probs=probs, penultimate=penultimate)


def build(card: Any) -> ParallelCNN:
    """Build from a :class:`~musictagger.catalog.ModelCard`.

    ``card.config`` keys (all optional): ``interaction`` (one of :data:`INTERACTIONS`, default
    ``"audio_to_visual"``), ``visual_channels`` (list, default [16, 32, 64, 128]), ``audio_channels``
    (default [32, 64, 64]), ``interaction_after`` (block index, default 1), ``bridge_channels`` (16),
    ``dense_units`` (128), ``dropout`` (0.3), ``n_features`` (default the current feature set's 45).
    ``n_mels`` comes from ``card.mel``, the number of outputs from ``card.labels`` and sigmoid vs
    softmax from ``card.task``.
    """
    config = dict(card.config)
    return ParallelCNN(
        n_labels=len(card.labels),
        n_mels=int(card.mel.get("n_mels", 96)),
        n_features=int(config.get("n_features", DEFAULT_N_FEATURES)),
        interaction=str(config.get("interaction", "audio_to_visual")),
        visual_channels=[int(c) for c in config.get("visual_channels", DEFAULT_VISUAL_CHANNELS)],
        audio_channels=[int(c) for c in config.get("audio_channels", DEFAULT_AUDIO_CHANNELS)],
        interaction_after=int(config.get("interaction_after", 1)),
        bridge_channels=int(config.get("bridge_channels", 16)),
        dense_units=int(config.get("dense_units", 128)),
        dropout=float(config.get("dropout", 0.3)),
        multilabel=card.task == "multilabel",
    )
