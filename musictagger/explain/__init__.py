"""Why a track got a label: Grad-CAM and pixel attributions over the spectrogram (time × mel), and a
sentence for humans. A tagger's raw tags are explained on the tagger, a head's labels (genre families, DJ
moods, energy, valence) through the head and its taggers (``head_net``); ``labels.resolve`` picks which.
Qt-free; see ``api.explain`` and ``describe.describe``."""

from musictagger.explain.api import Explanation, compute_map, explain, head_net
from musictagger.explain.cache import ExplanationCache, default_cache_dir
from musictagger.explain.describe import band_centres_hz, describe, heading
from musictagger.explain.gradcam import grad_cam
from musictagger.explain.head_net import HeadNet
from musictagger.explain.labels import LOWERS, ExplainError, LabelSource, resolve, resolve_label
from musictagger.explain.methods import DEFAULT_METHOD, METHODS, get_method
from musictagger.explain.musicnn_cam import musicnn_grad_cam

__all__ = [
    "DEFAULT_METHOD",
    "LOWERS",
    "METHODS",
    "ExplainError",
    "Explanation",
    "ExplanationCache",
    "HeadNet",
    "LabelSource",
    "band_centres_hz",
    "compute_map",
    "default_cache_dir",
    "describe",
    "explain",
    "get_method",
    "grad_cam",
    "head_net",
    "heading",
    "musicnn_grad_cam",
    "resolve",
    "resolve_label",
]
