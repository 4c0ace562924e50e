"""Grad-CAM (Selvaraju et al., ICCV 2017) for any CNN of the project, on a layer named like a submodule.

``grad_cam(net, inputs, "mid.conv3", score)`` hooks ``net.get_submodule("mid.conv3")``, takes its output
``A`` (B, C, *spatial) and the gradient of the score there, weighs each channel by its mean gradient
``α_c = mean(∂S/∂A_c)`` and returns ``ReLU(Σ_c α_c A_c)`` upsampled to the input's spatial size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from musictagger.explain.labels import ExplainError

# (B, ...) network output → (B,) score to explain, one per input in the batch.
ScoreFn = Callable[[object], torch.Tensor]


def get_layer(net: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``, or an :class:`ExplainError` that lists names that do exist."""
    try:
        return net.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in net.named_modules() if n]
        hint = ", ".join(names[:40]) + (" …" if len(names) > 40 else "")
        raise ExplainError(f"{name!r}: no such layer in {type(net).__name__} (layers: {hint})") from None


class ActivationRecorder:
    """Keeps the output of some submodules during a forward pass (a context manager removing its hooks)."""

    def __init__(self, net: nn.Module, names: list[str]):
        self.outputs: dict[str, torch.Tensor] = {}
        self._handles = [get_layer(net, n).register_forward_hook(self._hook(n)) for n in names]

    def _hook(self, name: str):
        def record(_module, _inputs, output):
            self.outputs[name] = output[0] if isinstance(output, tuple) else output

        return record

    def __enter__(self) -> ActivationRecorder:
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()


def upsample_map(cam: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    """(B, *spatial) → (B, *size). A 1-D map (e.g. a Conv1d over time) is stretched along the input's
    first spatial axis and repeated along the others: a 1-D layer has no resolution on them."""
    if cam.ndim - 1 == len(size):
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
        return F.interpolate(cam.unsqueeze(1), size=size, mode=mode, align_corners=False).squeeze(1)
    if cam.ndim == 2:
        line = F.interpolate(cam.unsqueeze(1), size=size[0], mode="linear", align_corners=False)
        line = line.squeeze(1)  # (B, size[0])
        return line.reshape(*line.shape, *([1] * (len(size) - 1))).expand(-1, *size).contiguous()
    raise ExplainError(f"cannot map a {cam.ndim - 1}-D layer map onto a {len(size)}-D input")


def grad_cam(
    net: nn.Module,
    inputs: torch.Tensor,
    layer: str,
    score: ScoreFn,
    output_size: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Grad-CAM of ``score(net(inputs))`` at ``layer``: (B, *output_size), ≥ 0, not normalised.

    ``output_size`` defaults to the last two axes of ``inputs`` — (time, mel) for musicnn's (B, T, 96)
    patches, (H, W) for image-like (B, C, H, W) inputs. One forward and one backward for the whole batch;
    the backward stops at the layer (only the gradients it needs are computed, none for the weights).
    """
    size = tuple(output_size) if output_size is not None else tuple(inputs.shape[-2:])
    with torch.enable_grad(), ActivationRecorder(net, [layer]) as recorder:
        scores = score(net(inputs))
        activation = recorder.outputs.get(layer)
        if activation is None or activation.ndim < 3:
            raise ExplainError(f"{layer!r}: needs an output (batch, channels, positions…) to make a map")
        (grads,) = torch.autograd.grad(scores.sum(), activation)
    spatial = tuple(range(2, activation.ndim))
    alpha = grads.mean(dim=spatial, keepdim=True)  # (B, C, 1, …): Grad-CAM's channel weights
    cam = F.relu((alpha * activation.detach()).sum(dim=1))  # (B, *spatial)
    return upsample_map(cam, size)
