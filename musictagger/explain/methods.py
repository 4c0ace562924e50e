"""The explanation methods by name: each maps (net, patches (B, T, F), label indices) → (B, T, F) ≥ 0.

``"gradcam@<layer>"`` is the generic Grad-CAM on any named layer (e.g. ``"gradcam@mid.conv3"``, a map over
time only). The default is the method that won the deletion test of ``bench/bench_faithfulness.py`` (blank
the cells a map ranks highest, compare the score drop with blanking random cells): see DEFAULT_METHOD.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from musictagger.explain.attributions import gradient_x_input, integrated_gradients
from musictagger.explain.gradcam import grad_cam
from musictagger.explain.labels import ExplainError, label_logit
from musictagger.explain.musicnn_cam import musicnn_grad_cam

MapFn = Callable[[nn.Module, torch.Tensor, Sequence[int]], torch.Tensor]
GENERIC_PREFIX = "gradcam@"


def _product(first: MapFn, second: MapFn) -> MapFn:
    """The research's combination (Guided Grad-CAM style): a coarse class map ⊙ a fine pixel map, so a
    cell must both lie where the class evidence is and matter itself."""

    def combined(net: nn.Module, patches: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
        return first(net, patches, indices) * second(net, patches, indices)

    return combined


METHODS: dict[str, MapFn] = {
    "gradcam": partial(musicnn_grad_cam, weighting="gradcam"),
    "hirescam": partial(musicnn_grad_cam, weighting="hirescam"),
    "grad_input": gradient_x_input,
    "ig": integrated_gradients,
}
METHODS["gradcam_ig"] = _product(METHODS["gradcam"], METHODS["ig"])
METHODS["gradcam_grad_input"] = _product(METHODS["gradcam"], METHODS["grad_input"])
METHODS["hirescam_ig"] = _product(METHODS["hirescam"], METHODS["ig"])
METHODS["hirescam_grad_input"] = _product(METHODS["hirescam"], METHODS["grad_input"])

# Chosen by bench/bench_faithfulness.py: deletion test on the 16 tracks of shared/audio/music, first 15 s,
# top-1 MSD tag; mean (over k = 5/10/20 %) of score drop by the map ÷ drop by random regions:
#   grad_input 4.67, ig 4.57, hirescam_grad_input 4.38, hirescam_ig 4.29, gradcam_grad_input 3.77,
#   gradcam_ig 3.64, hirescam 3.57, gradcam@mid.conv3 2.25, gradcam 1.85.
# Gradient × input wins, and at one backward it costs ~1/8 of IG (8 steps), which it matches. The
# frequency-resolved CAMs are the coarser, more readable maps (hirescam ≫ mean-gradient gradcam: through
# the max over frequency the real gradient points at the bands actually used); none is at or below random.
# Head labels (``--heads``, through explain.head_net): on a small step toward silence gradient × input wins
# 48/48 (track, k) for every DJ mood, energy and valence; blanked whole, energy, Aggressive and "what lowers
# valence" fail for every method tried (grad_input, hirescam, ig): the heads answer silent holes
# non-linearly (README, "Explanations").
DEFAULT_METHOD = "grad_input"


def method_names() -> list[str]:
    return [*METHODS, GENERIC_PREFIX + "<layer>"]


def get_method(name: str) -> MapFn:
    if name.startswith(GENERIC_PREFIX):
        layer = name[len(GENERIC_PREFIX) :]

        def generic(net: nn.Module, patches: torch.Tensor, indices: Sequence[int]) -> torch.Tensor:
            return grad_cam(net, patches, layer, lambda out: label_logit(out.logits, indices))

        return generic
    try:
        return METHODS[name]
    except KeyError:
        raise ExplainError(f"{name!r}: unknown method (known: {', '.join(method_names())})") from None
