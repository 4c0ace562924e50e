"""PyTorch port of musicnn (Pons & Serra, ISMIR 2019 LBD), faithful to the original TF1 graph.

The original is ``musicnn/models.py::build_musicnn`` of the ``musicnn`` 0.1.0 wheel, with
``num_filt=1.6``, ``num_filt_midend=64``, ``num_units_backend=200`` (the same for the MSD and MTT
checkpoints). Weights are converted by ``tools/convert_musicnn.py``. Given the same log-mel patches the port
reproduces the original taggram to ~5e-6 and the penultimate layer and mean pool to ~5e-5 (max-abs,
``tools/check_port_parity.py``); max_pool, whose values reach ~170 after batch norms that scale by up to ~80,
only to ~5e-4 — float32 rounding noise that the original graph itself shows between CPUs (~1.5e-4).

Input: ``(B, T, n_mels)`` float32 log-mel patches, time × mel, exactly the original model input
(``log10(10000·mel + 1)``, T = 187 frames = 3 s at 16 kHz / hop 256 for the shipped models; any T works
because every layer is convolutional along time and the back end pools over time).

Internally everything is channels-first (B, C, T[, F]); TF ran channels-last (B, T, F, C). Module names,
for hooks (Grad-CAM) and state-dict keys, with output shapes for B patches of T frames (n_mels = 96):

====================  ===========================================================================
``front.input_bn``     BatchNorm2d(1) on the raw log-mel — (B, 1, T, 96). The original normalises its
                       input with a batch norm, not with dataset statistics.
``front.timbral_38``   pad T by 3/3, Conv2d(1→204, 7×38), ReLU, BN, max over frequency — (B, 204, T)
``front.timbral_67``   same with 7×67 filters — (B, 204, T)
``front.temporal_128`` TF-"same" pad T, Conv2d(1→51, 128×1), ReLU, BN, max over frequency — (B, 51, T)
``front.temporal_64``  same with 64×1 — (B, 51, T)
``front.temporal_32``  same with 32×1 — (B, 51, T)
``front``              concat of the five above, in that order — (B, 561, T)
``mid.conv1``          Conv1d(561→64, 7, pad 3), ReLU, BN — (B, 64, T)   (musicnn's ``cnn1``)
``mid.conv2``          Conv1d(64→64, 7, pad 3), ReLU, BN, + mid.conv1 — (B, 64, T)   (``cnn2``)
``mid.conv3``          Conv1d(64→64, 7, pad 3), ReLU, BN, + mid.conv2 — (B, 64, T)   (``cnn3``)
``mid``                dense connection: concat [front, conv1, conv2, conv3] — (B, 753, T)
``back.pool_bn``       BatchNorm1d(1506) on [max_0, mean_0, max_1, mean_1, …] over time — (B, 1506)
``back.dropout_pool``  Dropout(0.5)
``back.dense``         Linear(1506→200), ReLU — (B, 200)
``back.dense_bn``      BatchNorm1d(200) — (B, 200): the ``penultimate`` embedding
``back.dropout_dense`` Dropout(0.5)
``back.output``        Linear(200→n_labels) — (B, n_labels) logits; sigmoid gives the taggram
====================  ===========================================================================

Each front-end / mid-end block has submodules ``.conv`` and ``.bn`` (e.g. ``mid.conv2.conv``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Musicnn", "MusicnnOutput"]

# tf.compat.v1.layers.batch_normalization defaults: epsilon=1e-3 (PyTorch's default is 1e-5, which would
# shift every normalised value of low-variance channels) and momentum=0.99 on the moving average, which is
# PyTorch momentum 0.01 (PyTorch weighs the *new* batch by `momentum`). Momentum only matters if fine-tuned.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


class MusicnnOutput(NamedTuple):
    """What :meth:`Musicnn.forward` returns; the names match the keys of the reference npz files."""

    logits: torch.Tensor  # (B, n_labels), before the sigmoid
    probs: torch.Tensor  # (B, n_labels), sigmoid(logits): one taggram row per patch
    penultimate: torch.Tensor  # (B, 200), after the last batch norm (before dropout)
    mean_pool: torch.Tensor  # (B, 753), mean over time of the mid-end feature map
    max_pool: torch.Tensor  # (B, 753), max over time of the mid-end feature map


def _tf_same_pad(kernel: int) -> tuple[int, int]:
    """Padding (before, after) of TF's ``padding="same"`` at stride 1.

    TF puts the odd extra row *after* (bottom/right): total k-1, before (k-1)//2. For the even temporal
    kernels (128, 64, 32) that is asymmetric — 63/64, 31/32, 15/16 — which PyTorch's symmetric
    ``padding=`` cannot express, hence an explicit ``F.pad``.
    """
    total = kernel - 1
    return total // 2, total - total // 2


class FrontBlock(nn.Module):
    """Conv2d over (time, mel) on the normalised spectrogram → ReLU → BN → max over the frequency axis.

    Timbral blocks (k×w, w < n_mels) are zero-padded 3/3 on time only and use "valid" on frequency (the
    original pads time only "for an efficient 'same'", since frequency is max-pooled away afterwards).
    Temporal blocks (k×1) use TF "same" padding on time; frequency needs none for a width-1 kernel.
    Output (B, filters, T).
    """

    def __init__(self, filters: int, kernel: tuple[int, int], time_pad: tuple[int, int]):
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, kernel_size=kernel)
        self.bn = nn.BatchNorm2d(filters, eps=_BN_EPS, momentum=_BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1, T, F)
        x = F.pad(x, (0, 0, *self.time_pad))  # (F_left, F_right, T_top, T_bottom): zeros, as tf.pad CONSTANT
        if self.training or torch.is_grad_enabled() or self.bn._forward_hooks:
            # As the original (training, and the explanations, which hook the batch norm's full map).
            x = self.bn(F.relu(self.conv(x)))  # the original applies ReLU *before* its batch norm
            return x.amax(dim=3)  # max_pooling2d over the whole remaining frequency axis, then squeeze
        return self._pooled_first(x)

    def _pooled_first(self, x: torch.Tensor) -> torch.Tensor:
        """The same output, pooling first (inference only). ReLU and the inference batch norm (an affine
        map per channel) are monotone, and a max commutes with a monotone map even in floating point, so
        pooling first is exact; the ReLU and the batch norm then run on the (B, C, T) map, not on one F
        times larger. A channel whose batch-norm scale is negative needs the minimum over frequency
        instead: its filter is negated (exact), so one max gives minus that minimum."""
        sign = torch.where(self.bn.weight < 0, -1.0, 1.0).to(self.conv.weight.dtype)
        conv = F.conv2d(x, self.conv.weight * sign[:, None, None, None], self.conv.bias * sign)
        pooled = conv.amax(dim=3) * sign[None, :, None].to(conv.dtype)
        bn = self.bn
        return F.batch_norm(
            F.relu(pooled), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
        )


class MidBlock(nn.Module):
    """Conv1d(7) along time → ReLU → BN, plus an optional residual (input added after the BN).

    The original is a Conv2d with a 7×C kernel over a (T, C, 1) map with "valid" on the C axis, i.e. a
    1-D convolution with C input channels; the time axis is zero-padded 3/3 (symmetric, as tf.pad).
    """

    def __init__(self, in_channels: int, filters: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv = nn.Conv1d(in_channels, filters, kernel_size=7, padding=3)
        self.bn = nn.BatchNorm1d(filters, eps=_BN_EPS, momentum=_BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, T)
        y = self.bn(F.relu(self.conv(x)))
        return y + x if self.residual else y


class MusicnnFrontEnd(nn.Module):
    """Musically motivated front end: input BN, 2 timbral + 3 temporal blocks. (B, T, F) → (B, 561, T)."""

    def __init__(self, n_mels: int = 96, num_filt: float = 1.6):
        super().__init__()
        timbral_filters = int(num_filt * 128)  # 204
        temporal_filters = int(num_filt * 32)  # 51
        self.input_bn = nn.BatchNorm2d(1, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        # Names keep the 96-band widths (int(0.4*96)=38, int(0.7*96)=67) so hooks and weights stay stable.
        self.timbral_38 = FrontBlock(timbral_filters, (7, int(0.4 * n_mels)), (3, 3))
        self.timbral_67 = FrontBlock(timbral_filters, (7, int(0.7 * n_mels)), (3, 3))
        self.temporal_128 = FrontBlock(temporal_filters, (128, 1), _tf_same_pad(128))
        self.temporal_64 = FrontBlock(temporal_filters, (64, 1), _tf_same_pad(64))
        self.temporal_32 = FrontBlock(temporal_filters, (32, 1), _tf_same_pad(32))
        self.out_channels = 2 * timbral_filters + 3 * temporal_filters

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        # TF: expand_dims(x, 3) → (B, T, F, 1), channels-last; here (B, 1, T, F), same values.
        x = self.input_bn(patches.unsqueeze(1))
        blocks = (self.timbral_38, self.timbral_67, self.temporal_128, self.temporal_64, self.temporal_32)
        return torch.cat([b(x) for b in blocks], dim=1)  # TF concat on its feature axis, same order


class MusicnnMidEnd(nn.Module):
    """Three 1-D conv layers with residuals, densely connected. (B, 561, T) → (B, 561 + 3·64, T)."""

    def __init__(self, in_channels: int = 561, filters: int = 64):
        super().__init__()
        self.conv1 = MidBlock(in_channels, filters, residual=False)  # adapts 561 → 64 channels
        self.conv2 = MidBlock(filters, filters, residual=True)
        self.conv3 = MidBlock(filters, filters, residual=True)
        self.out_channels = in_channels + 3 * filters

    def forward(self, front: torch.Tensor) -> torch.Tensor:
        c1 = self.conv1(front)
        c2 = self.conv2(c1)
        c3 = self.conv3(c2)
        return torch.cat([front, c1, c2, c3], dim=1)


class MusicnnBackEnd(nn.Module):
    """Temporal mean+max pooling → BN → dropout → dense(200, ReLU) → BN → dropout → dense(n_labels)."""

    def __init__(self, in_channels: int = 753, units: int = 200, n_labels: int = 50, dropout: float = 0.5):
        super().__init__()
        self.pool_bn = nn.BatchNorm1d(2 * in_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self.dropout_pool = nn.Dropout(dropout)
        self.dense = nn.Linear(2 * in_channels, units)
        self.dense_bn = nn.BatchNorm1d(units, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        self.dropout_dense = nn.Dropout(dropout)
        self.output = nn.Linear(units, n_labels)

    def forward(self, mid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        max_pool = mid.amax(dim=2)  # (B, C)
        mean_pool = mid.mean(dim=2)  # tf.nn.moments' mean
        # TF: concat([max, mean], axis=2) of (B, C, 1) maps, then flatten → row-major interleave
        # [max_0, mean_0, max_1, mean_1, …]. pool_bn and dense were trained on that order; keep it.
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        hidden = F.relu(self.dense(self.dropout_pool(self.pool_bn(pooled))))
        penultimate = self.dense_bn(hidden)
        logits = self.output(self.dropout_dense(penultimate))
        return logits, penultimate, mean_pool, max_pool


class Musicnn(nn.Module):
    """musicnn: log-mel patches (B, T, n_mels) → :class:`MusicnnOutput`. See the module docstring for layers.

    Call ``.eval()`` before inference: batch norms then use their stored moving statistics and dropout is
    off, which is what the original does with ``is_training=False``.
    """

    def __init__(
        self,
        n_labels: int = 50,
        n_mels: int = 96,
        num_filt_frontend: float = 1.6,
        num_filt_midend: int = 64,
        num_units_backend: int = 200,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.n_labels = n_labels
        self.n_mels = n_mels
        self.front = MusicnnFrontEnd(n_mels, num_filt_frontend)
        self.mid = MusicnnMidEnd(self.front.out_channels, num_filt_midend)
        self.back = MusicnnBackEnd(self.mid.out_channels, num_units_backend, n_labels, dropout)

    def forward(self, patches: torch.Tensor) -> MusicnnOutput:
        if patches.ndim != 3 or patches.shape[2] != self.n_mels:
            raise ValueError(
                f"expected (batch, time, {self.n_mels}) log-mel patches, got {tuple(patches.shape)}"
            )
        logits, penultimate, mean_pool, max_pool = self.back(self.mid(self.front(patches)))
        return MusicnnOutput(logits, torch.sigmoid(logits), penultimate, mean_pool, max_pool)
