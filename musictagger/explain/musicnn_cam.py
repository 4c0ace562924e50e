"""Grad-CAM for musicnn with frequency resolution, on the front end's five parallel branches.

Why not the usual "last conv layer": every musicnn branch takes a **max over the frequency axis** right
after its first convolution, so everything from ``front`` on — ``mid.conv1..3`` included — is a function
of time alone. Grad-CAM there (``grad_cam(net, x, "mid.conv3", …)``) can only say *when*, and is repeated
over all 96 bands. Frequency is only resolved *before* that max. So we hook each branch's batch norm
(``front.<branch>.bn``), whose output ``A`` (B, C, T, F') is the map the max then reduces:

* timbral branches (7×w kernels, w = 38 or 67, "valid" on frequency): F' = 96 − w + 1 positions; position
  f' is a filter that saw mel bands [f', f' + w). The CAM value at (t, f') is therefore **spread evenly
  over those w bands** (a transposed convolution with a 1×w kernel of 1/w): a 38-band filter lights its
  38 bands, and the spread keeps the value's total, so the branches stay in the same units (below).
  The 7-frame time support (±3 frames, ±48 ms) is below what a display can show and is not spread.
* temporal branches (k×1 kernels, k = 128/64/32 frames, "same" on time): F' = 96, one value per mel band
  already, so the CAM is used as is at (t, band). Its time support (up to 2 s) is not spread either: the
  filter's output at t is centred on t.

Per branch b the CAM is ``Σ_c w_c ⊙ A_c`` with weights from the gradient of the label's logit at ``A``.
Two weightings, chosen between by ``bench/bench_faithfulness.py``:

* ``"gradcam"``: w_c = the channel's mean gradient over (t, f') (Selvaraju et al. 2017);
* ``"hirescam"``: w = the gradient itself, element-wise (HiResCAM, Draelos & Carin 2020). Through a max over
  frequency the gradient reaches only the band position each channel's max picked, so this lights exactly
  the (t, f') the network used, where the mean-gradient weighting also lights positions the max ignored.

Either way ``Σ_{t,f'} w ⊙ A`` is a first-order estimate of the branch's contribution to the logit (units of
logit), so the five branches are **combined by summing their maps** after the spread — each is weighted by
its own gradient contribution, with no per-branch normalisation that would let a weak branch look as strong
as a decisive one. The ReLU (keep evidence *for* the label) comes after the sum, as in Grad-CAM.

A head explained through several musicnn taggers (``head_net.HeadNet``) has each tagger's branches under
``taggers.<i>.front``: all of them are hooked and summed the same way, each map being in units of the
head's logit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from musictagger.explain.gradcam import ActivationRecorder
from musictagger.explain.labels import ExplainError, label_logit

BRANCHES = ("timbral_38", "timbral_67", "temporal_128", "temporal_64", "temporal_32")
WEIGHTINGS = ("gradcam", "hirescam")


def _spread_over_bands(cam: torch.Tensor, n_mels: int) -> torch.Tensor:
    """(B, T, F') CAM over filter positions → (B, T, n_mels): position f' shares its value equally among
    the bands [f', f' + w) its filter covers, w = n_mels − F' + 1 (w = 1: unchanged)."""
    width = n_mels - cam.shape[-1] + 1
    if width == 1:
        return cam
    kernel = cam.new_full((1, 1, 1, width), 1.0 / width)
    return F.conv_transpose2d(cam.unsqueeze(1), kernel).squeeze(1)


def branch_layers(net: nn.Module, branches: Sequence[str] = BRANCHES) -> list[str]:
    """The names of the front-end branches' batch norms: ``front.<branch>.bn`` of a musicnn, or of every
    musicnn inside ``net`` (a head over several taggers)."""
    wanted = {f"front.{b}.bn" for b in branches}
    names = [n for n, _ in net.named_modules() if any(n == w or n.endswith("." + w) for w in wanted)]
    if not names:
        raise ExplainError(
            f"{type(net).__name__} has no musicnn front end to take a frequency-resolved CAM on"
        )
    return names


def musicnn_grad_cam(
    net: nn.Module,
    patches: torch.Tensor,
    label_indices: Sequence[int],
    weighting: str = "gradcam",
    branches: Sequence[str] = BRANCHES,
) -> torch.Tensor:
    """(B, T, n_mels) ≥ 0 frequency-resolved Grad-CAM of the label's logit for (B, T, n_mels) patches.

    One forward and one backward for the batch; the backward stops at the front end's batch norms.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    names = branch_layers(net, branches)
    with torch.enable_grad(), ActivationRecorder(net, names) as recorder:
        logits = net(patches).logits
        activations = [recorder.outputs[n] for n in names]
        grads = torch.autograd.grad(label_logit(logits, label_indices).sum(), activations)
    n_mels = patches.shape[-1]
    total = patches.new_zeros(patches.shape)
    for activation, grad in zip(activations, grads, strict=True):
        weights = grad.mean(dim=(2, 3), keepdim=True) if weighting == "gradcam" else grad
        cam = (weights * activation.detach()).sum(dim=1)  # (B, T, F'): signed contribution per position
        total += _spread_over_bands(cam, n_mels)
    return F.relu(total)
