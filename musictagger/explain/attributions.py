"""Pixel attributions on the log-mel input, in plain torch (no captum needed for these two).

Both explain the label's logit (``labels.label_logit``) and attribute it to each (frame, band) cell:

* ``gradient_x_input``: ∂S/∂x ⊙ x — one backward to the input. Since silence is log-mel 0, x − 0 = x, so
  this is the first-order estimate of what blanking each cell to silence would cost the score.
* ``integrated_gradients`` (Sundararajan et al. 2017) with the **silence baseline** x' = 0 (log-mel 0):
  (x − x') ⊙ mean over α ∈ (0, 1] of ∂S/∂x at x' + α (x − x'), Riemann midpoint rule with ``steps``
  points. Completeness: the cells sum to S(x) − S(silence). Cost: ``steps`` forward+backward passes.

Only the positive part is kept (evidence *for* the label), as Grad-CAM's ReLU does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from musictagger.explain.labels import label_logit

SILENCE = 0.0  # log10(10000·mel + 1) of a silent frame


def _input_gradient(net: nn.Module, x: torch.Tensor, label_indices: Sequence[int]) -> torch.Tensor:
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(label_logit(net(x).logits, label_indices).sum(), x)
    return grad


def gradient_x_input(net: nn.Module, patches: torch.Tensor, label_indices: Sequence[int]) -> torch.Tensor:
    """(B, T, F) ≥ 0: ReLU(∂S/∂x ⊙ (x − silence))."""
    grad = _input_gradient(net, patches, label_indices)
    return F.relu(grad * (patches - SILENCE))


def integrated_gradients(
    net: nn.Module,
    patches: torch.Tensor,
    label_indices: Sequence[int],
    steps: int = 8,
    max_batch: int = 8,
) -> torch.Tensor:
    """(B, T, F) ≥ 0: ReLU of integrated gradients from silence; ``max_batch`` inputs per pass."""
    baseline = torch.full_like(patches, SILENCE)
    delta = patches - baseline
    alphas = (torch.arange(steps, dtype=patches.dtype, device=patches.device) + 0.5) / steps
    total = torch.zeros_like(patches)
    # Every (patch, α) pair is one input; they are independent (batch norms in eval mode), so they are
    # batched freely: max_batch of them per forward/backward.
    pairs = [(b, a) for b in range(patches.shape[0]) for a in range(steps)]
    for start in range(0, len(pairs), max_batch):
        chunk = pairs[start : start + max_batch]
        rows = torch.tensor([b for b, _ in chunk], device=patches.device)
        scale = alphas[torch.tensor([a for _, a in chunk], device=patches.device)].view(-1, 1, 1)
        grad = _input_gradient(net, baseline[rows] + scale * delta[rows], label_indices)
        total.index_add_(0, rows, grad)
    return F.relu(delta * total / steps)
