"""``explain``: why a model gave a track a label, as a (frames × mel) map over the displayed spectrogram.

Qt-free; the GUI passes ``Explanation.map`` to ``TrackView.set_overlay``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from musictagger.catalog import ModelCard, load_card, load_model
from musictagger.errors import ModelError
from musictagger.explain.cache import ExplanationCache, cache_key, spectrogram_fingerprint
from musictagger.explain.labels import ExplainError, resolve_label
from musictagger.explain.methods import DEFAULT_METHOD, get_method
from musictagger.explain.patches import cut_patches, stitch_maps
from musictagger.taxonomy import Vocabulary

# Patches per forward/backward pass. One pass per batch, but musicnn keeps ~100 MB of activations per
# 3 s patch for the backward, so a whole 4-minute track (80 patches) in one pass would need ~8 GB.
DEFAULT_BATCH = 8

MEMORY_CACHE = ExplanationCache(max_items=32)  # used when explain() is given no cache


@dataclass(frozen=True)
class Explanation:
    map: np.ndarray = field(repr=False)  # (frames, n_mels) float32 in [0, 1], aligned with the spectrogram
    method: str
    label: str  # the label as resolved: a model's raw tag or the vocabulary's canonical name
    model: str
    patch_seconds: float
    frame_seconds: float
    tags: tuple[str, ...] = ()  # the model's raw tags that the label stands for (max of their logits)


@lru_cache(maxsize=4)
def _loaded(model_name: str) -> tuple[nn.Module, ModelCard]:
    return load_model(model_name)


def _model_and_card(source, model_name: str) -> tuple[nn.Module, ModelCard]:
    """Accepts an ``Analyzer`` (its loaded model is reused), a ``(net, card)`` pair, a bare network (the
    card is read from the catalog), or None (model and card loaded from the catalog once)."""
    if source is None:
        return _loaded(model_name)
    if isinstance(source, tuple):
        return source
    if isinstance(source, nn.Module):
        return source, load_card(model_name)
    try:  # an Analyzer: reuse its loaded model
        return source.model(model_name)
    except ModelError as exc:
        raise ExplainError(str(exc)) from exc


def _normalise(values: np.ndarray) -> np.ndarray:
    """To [0, 1] by the track's maximum: one scale for the whole track, so quiet evidence stays quiet."""
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
    peak = float(values.max()) if values.size else 0.0
    return (values / peak if peak > 0 else values).astype(np.float32)


def compute_map(
    net: nn.Module,
    spectrogram: np.ndarray,
    label_indices: tuple[int, ...],
    method: str,
    patch_frames: int,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """The unnormalised (frames × mel) map: patches batched, one forward + backward per batch."""
    method_fn = get_method(method)
    patches, starts = cut_patches(spectrogram, patch_frames)
    device = next(net.parameters()).device
    maps = []
    # Gradients are the point here: leave an inference_mode the caller (e.g. an analysis thread) may hold.
    with torch.inference_mode(False):
        for first in range(0, len(patches), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(patches[first : first + batch_size])).to(device)
            maps.append(method_fn(net, batch, label_indices).detach().float().cpu().numpy())
    return stitch_maps(np.concatenate(maps), starts, spectrogram.shape[0])


def explain(
    analyzer_or_model,
    spectrogram: np.ndarray,
    model_name: str,
    label: str,
    method: str = DEFAULT_METHOD,
    patch_frames: int | None = None,
    *,
    track_key: str | None = None,
    cache: ExplanationCache | None = None,
    vocabulary: Vocabulary | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> Explanation:
    """Explain ``label`` (raw tag or canonical label) of ``model_name`` on a (frames × n_mels) spectrogram.

    ``patch_frames`` defaults to the model card's (187 for musicnn). ``track_key`` (e.g. the library's audio
    fingerprint) names the track in the cache; without it the spectrogram's bytes are hashed. ``cache``
    defaults to an in-memory LRU shared by all callers; pass ``ExplanationCache(directory=
    default_cache_dir())`` to keep maps on disk too.
    """
    spectrogram = np.asarray(spectrogram, dtype=np.float32)
    net, card = _model_and_card(analyzer_or_model, model_name)
    n_mels = int(card.mel["n_mels"])
    if spectrogram.ndim != 2 or spectrogram.shape[1] != n_mels or spectrogram.shape[0] == 0:
        raise ExplainError(f"expected a (frames, {n_mels}) spectrogram, got shape {spectrogram.shape}")
    patch_frames = int(patch_frames or card.patch_frames)
    name, indices = resolve_label(label, model_name, card.labels, vocabulary)
    frame_seconds = int(card.mel["hop_length"]) / int(card.sample_rate)
    cache = cache if cache is not None else MEMORY_CACHE
    track = track_key or spectrogram_fingerprint(spectrogram)
    key = cache_key(track, model_name, card.version, name, method, patch_frames)
    values = cache.get(key)
    if values is None:
        values = _normalise(compute_map(net, spectrogram, indices, method, patch_frames, batch_size))
        cache.put(key, values)
    return Explanation(
        map=values,
        method=method,
        label=name,
        model=model_name,
        patch_seconds=patch_frames * frame_seconds,
        frame_seconds=frame_seconds,
        tags=tuple(card.labels[i] for i in indices),
    )
