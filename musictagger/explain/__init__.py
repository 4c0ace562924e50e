"""Why a track got a label: Grad-CAM and pixel attributions over the spectrogram (time × mel), and a
sentence for humans. Qt-free; see ``api.explain`` and ``describe.describe``."""

from musictagger.explain.api import Explanation, compute_map, explain
from musictagger.explain.cache import ExplanationCache, default_cache_dir
from musictagger.explain.describe import band_centres_hz, describe
from musictagger.explain.gradcam import grad_cam
from musictagger.explain.labels import ExplainError, resolve_label
from musictagger.explain.methods import DEFAULT_METHOD, METHODS, get_method
from musictagger.explain.musicnn_cam import musicnn_grad_cam

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "ExplainError",
    "Explanation",
    "ExplanationCache",
    "band_centres_hz",
    "compute_map",
    "default_cache_dir",
    "describe",
    "explain",
    "get_method",
    "grad_cam",
    "musicnn_grad_cam",
    "resolve_label",
]
