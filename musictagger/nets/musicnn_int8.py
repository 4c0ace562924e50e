"""Library mode's quick form of a musicnn: the five front-end convolutions in int8, the rest as it is.

The front end's five convolutions are 81 % of musicnn's 1.4 GMAC per 3-s patch, and on an x86 CPU with
VNNI (or AMX) oneDNN runs them in int8 about 3x faster than in fp32 (97 -> 33 ms for the 7x38 filters on 16
patches); the whole network then takes about half its fp32 time. Library mode (analysis.Analyzer with
``library_int8``) runs this form; the full analysis (the track view, ``tag --full``, the parity check
against the original musicnn) never does. How far its answers move is measured in
``bench/bench_library_mode.py`` (written labels, each tagger's top 3, the heads' accuracy) and stated in
the README, *Library mode*.

How each convolution is quantized, and why:

- **Weights**: per output channel, symmetric int8 (each filter's own scale), rounded once with error
  diffusion (``_diffused_int8`` says why: a third of the error of plain rounding).
- **Input**: the batch-normalised log-mel, per patch: each patch's own range (0 included, since the
  padding is 0) in 255 steps. Per patch, not per batch, so a patch's answer never depends on the patches
  batched with it (a track analysed alone or in a batch of many gives the same scores).
- **Output** in fp32. oneDNN's prepacked filters take one input scale; they are packed once for scale 1
  and zero point 0, and each patch's own scale ``s`` and zero point ``z`` are applied after the max over
  frequency: conv(x) = s * conv_int(q) - s * z * sum(w) + b, a positive affine map per patch that commutes
  with the max (the same argument as ``FrontBlock._pooled_first``, whose sign folding is reused).

The mid end (a 561 -> 64 conv1d and two small ones) and the back end stay in fp32: 6 % of the work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from musictagger.nets.musicnn import FrontBlock, Musicnn, MusicnnOutput

__all__ = ["Int8Musicnn", "int8_ops_available"]


def int8_ops_available() -> bool:
    """Whether this torch has the oneDNN int8 convolution (its x86 quantization's) that the int8 form runs."""
    ops = getattr(torch.ops, "onednn", None)
    return ops is not None and hasattr(ops, "qconv_prepack") and hasattr(ops, "qconv_pointwise")


_LEVELS = 255  # uint8 input steps


def _quantize_per_patch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x`` (B, 1, T, F) as uint8 with one scale and zero point per patch: (q, scale (B,), zero (B,))."""
    flat = x.flatten(1)
    low = flat.amin(dim=1).clamp(max=0.0)
    high = flat.amax(dim=1).clamp(min=0.0)
    scale = ((high - low) / _LEVELS).clamp(min=torch.finfo(torch.float32).tiny)
    zero = torch.round(-low / scale)
    q = torch.round(x / scale[:, None, None, None]) + zero[:, None, None, None]
    return q.clamp_(0, _LEVELS).to(torch.uint8), scale, zero


def _diffused_int8(steps: torch.Tensor) -> torch.Tensor:
    """Filters (C, 1, KT, KF), in units of their int8 step, rounded to int8 with error diffusion: each
    weight's rounding error is carried to the next, walking down one frequency column of the kernel and up
    the next, so any run of neighbouring weights sums to within one step of its true sum.

    Why: the input is a log-mel spectrogram whose level varies slowly over time and frequency, so most of
    a filter's response is its weights' local sums times that level. Rounding each weight on its own
    leaves those sums off by up to sqrt(n)/2 steps, a bias in every output; measured on 160 mer4q patches,
    the taggers' probabilities moved 0.0009-0.0012 on average (max 0.038) with plain rounding, 0.0003
    (max 0.013) diffused, against 0.0002 for the input's own rounding. It costs nothing at run time."""
    values = steps[:, 0]
    rounded = torch.empty_like(values)
    carry = torch.zeros(values.shape[0], dtype=values.dtype)
    n_rows = values.shape[1]
    for column in range(values.shape[2]):
        rows = range(n_rows) if column % 2 == 0 else range(n_rows - 1, -1, -1)
        for row in rows:
            wanted = values[:, row, column] + carry
            got = torch.round(wanted).clamp(-127, 127)
            carry = wanted - got
            rounded[:, row, column] = got
    return rounded[:, None].to(torch.int8)


class Int8FrontBlock(nn.Module):
    """One of a musicnn's front-end blocks with its convolution in int8 (see the module docstring).

    Takes the block's already padded uint8 input and each patch's scale and zero point; returns what
    ``FrontBlock`` returns, (B, filters, T)."""

    def __init__(self, block: FrontBlock):
        super().__init__()
        self.bn = block.bn  # shared: the inference batch norm applied after the max, as FrontBlock does
        weight = block.conv.weight.detach().float()
        # Negate the filters of channels whose batch-norm scale is negative (FrontBlock._pooled_first).
        sign = torch.where(self.bn.weight.detach() < 0, -1.0, 1.0)
        weight = weight * sign[:, None, None, None]
        w_scale = (weight.abs().amax(dim=(1, 2, 3)) / 127.0).clamp(min=torch.finfo(torch.float32).tiny)
        q_weight = _diffused_int8(weight / w_scale[:, None, None, None])
        self.register_buffer("sign", sign, persistent=False)
        self.register_buffer("w_scale", w_scale, persistent=False)
        self.register_buffer("w_zero", torch.zeros(len(sign), dtype=torch.int64), persistent=False)
        # sum(w) per filter, of the int8 filters as dequantized: the zero point's share of each output.
        self.register_buffer(
            "w_sum", (q_weight.float() * w_scale[:, None, None, None]).sum(dim=(1, 2, 3)), persistent=False
        )
        self.register_buffer("bias", block.conv.bias.detach().float() * sign, persistent=False)
        self.packed = torch.ops.onednn.qconv_prepack(
            q_weight, w_scale, 1.0, 0, [1, 1], [0, 0], [1, 1], 1, None
        )

    def forward(self, q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
        raw = torch.ops.onednn.qconv_pointwise(
            q, 1.0, 0, self.packed, self.w_scale, self.w_zero, None,
            [1, 1], [0, 0], [1, 1], 1, 1.0, 0, torch.float32, "none", [], "",
        )  # fmt: skip
        # The max over frequency. oneDNN answers channels-last; torch's max pooling has a kernel for that
        # layout, 2.5x faster than amax for the temporal blocks' 51 channels (1 ms against 2.5 per two
        # patches on one core) and no slower for the others.
        pooled = F.max_pool2d(raw, (1, raw.shape[3])).squeeze(3)  # (B, C, T), int units
        s = scale[:, None, None]
        pooled = s * pooled - (s * zero[:, None, None]) * self.w_sum[None, :, None] + self.bias[None, :, None]
        pooled = pooled * self.sign[None, :, None]
        bn = self.bn
        return F.batch_norm(
            F.relu(pooled), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
        )


class Int8Musicnn(nn.Module):
    """``net`` with its front-end convolutions in int8; shares ``net``'s input batch norm, mid end and back
    end (no copy of their weights). Inference only: (B, T, n_mels) log-mel patches -> MusicnnOutput."""

    def __init__(self, net: Musicnn):
        super().__init__()
        if net.training:
            raise ValueError("the int8 form is for inference: call .eval() on the network first")
        self.net = net
        f = net.front
        blocks = (f.timbral_38, f.timbral_67, f.temporal_128, f.temporal_64, f.temporal_32)
        self.pads = [block.time_pad for block in blocks]
        self.blocks = nn.ModuleList(Int8FrontBlock(block) for block in blocks)
        # The front end runs this many patches at a time. Its maps are large (the 7x38 block's fp32 output
        # is 9 MB per patch) and each is written and then read once for the max over frequency: a few
        # patches at a time stay in the cache between the two. Measured on one core (AVX-512 + AMX), medians
        # of 12 interleaved rounds: 15.3 ms per patch in twos, 19.6 in sixteens; the answer is the same
        # (per-patch quantization).
        self.front_batch = 2
        # One quantized input serves every block: padded once by the widest padding, sliced per block.
        self.before = max(before for before, _ in self.pads)
        self.after = max(after for _, after in self.pads)

    @torch.inference_mode()
    def forward(self, patches: torch.Tensor) -> MusicnnOutput:
        net = self.net
        if patches.ndim != 3 or patches.shape[2] != net.n_mels:
            got = tuple(patches.shape)
            raise ValueError(f"expected (batch, time, {net.n_mels}) log-mel patches, got {got}")
        x = net.front.input_bn(patches.float().unsqueeze(1))  # (B, 1, T, F)
        q, scale, zero = _quantize_per_patch(F.pad(x, (0, 0, self.before, self.after)))
        n_frames, step = x.shape[2], self.front_batch
        front = [
            self._front(q[i : i + step], scale[i : i + step], zero[i : i + step], n_frames)
            for i in range(0, q.shape[0], step)
        ]
        logits, penultimate, mean_pool, max_pool = net.back(net.mid(torch.cat(front)))
        return MusicnnOutput(logits, torch.sigmoid(logits), penultimate, mean_pool, max_pool)

    def _front(self, q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, n_frames: int) -> torch.Tensor:
        outputs = []
        for block, (before, after) in zip(self.blocks, self.pads, strict=True):
            first = self.before - before
            window = q[:, :, first : first + before + n_frames + after].contiguous()
            outputs.append(block(window, scale, zero))
        return torch.cat(outputs, dim=1)
