"""``explain``: why a model or a head gave a track a label, as a (frames × mel) map over the displayed
spectrogram.

A tagger's label is explained on the tagger; a head's label (a genre family, a DJ mood, energy, valence) on
``head_net.HeadNet``, the head applied to each patch's features of its input taggers, so the map runs from
the head's output back through the taggers to the spectrogram (``labels.resolve`` says which to use for a
label the DJ sees). Qt-free; the GUI passes ``Explanation.map`` to ``TrackView.set_overlay``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from musictagger.catalog import ModelCard, available_models, load_card, load_model
from musictagger.errors import ModelError
from musictagger.explain.cache import ExplanationCache, cache_key, spectrogram_fingerprint
from musictagger.explain.head_net import HeadNet
from musictagger.explain.labels import LOWERS, ExplainError, resolve_head_output, resolve_label
from musictagger.explain.methods import DEFAULT_METHOD, get_method
from musictagger.explain.patches import cut_patches, stitch_maps
from musictagger.heads.model import available_heads, load_head
from musictagger.taxonomy import Vocabulary

# Patches per forward/backward pass. One pass per batch, but musicnn keeps ~100 MB of activations per
# 3 s patch for the backward, so a whole 4-minute track (80 patches) in one pass would need ~8 GB.
DEFAULT_BATCH = 8

MEMORY_CACHE = ExplanationCache(max_items=32)  # used when explain() is given no cache


@dataclass(frozen=True)
class Explanation:
    map: np.ndarray = field(repr=False)  # (frames, n_mels) float32 in [0, 1], aligned with the spectrogram
    method: str
    label: str  # the label as the DJ sees it: a raw tag, a canonical name, "Energy"
    model: str  # the network explained: a tagger, or the head (then ``models`` are its input taggers)
    patch_seconds: float
    frame_seconds: float
    tags: tuple[str, ...] = ()  # the raw tags the label stands for (max of their logits), or the head output
    head: str = ""  # the head whose output is explained; "" for a tagger's raw tags
    models: tuple[str, ...] = ()  # the taggers the map runs back through
    direction: str = ""  # a regression output's: "raises" (what raises the value) or "lowers"
    approximate: bool = False  # a head with a hidden layer: per-patch logits only approximate the track's
    value_range: tuple[float, float] | None = None  # a regression output's scale (energy 1-10)


@lru_cache(maxsize=4)
def _loaded(model_name: str) -> tuple[nn.Module, ModelCard]:
    return load_model(model_name)


@lru_cache(maxsize=4)
def _loaded_head_net(head_name: str) -> HeadNet:
    head, card = load_head(head_name)
    return HeadNet(head, card, {name: _loaded(name) for name in card.inputs})


def is_head(name: str) -> bool:
    """Whether ``name`` is a head in the model folders (and not a tagger model of the same name)."""
    return name in available_heads() and name not in available_models()


def head_net(source, head_name: str) -> HeadNet:
    """The head as a network over patches. ``source``: a ``HeadNet`` (used as is), an ``Analyzer`` (its
    loaded head and taggers are reused) or None (head and taggers loaded from the model folders once)."""
    if isinstance(source, HeadNet):
        if source.name != head_name:
            raise ExplainError(f"asked to explain head {head_name!r} with head {source.name!r}")
        return source
    if source is None:
        try:
            return _loaded_head_net(head_name)
        except ModelError as exc:
            raise ExplainError(str(exc)) from exc
    heads = getattr(source, "heads", None)
    if not isinstance(heads, dict) or head_name not in heads:
        raise ExplainError(f"head {head_name!r} is not loaded here")
    head, card = heads[head_name]
    try:
        return HeadNet(head, card, {name: source.model(name) for name in card.inputs})
    except ModelError as exc:
        raise ExplainError(str(exc)) from exc


def _wants_head(source, name: str) -> bool:
    if isinstance(source, HeadNet):
        return True
    if source is None:
        return is_head(name)
    heads = getattr(source, "heads", None)
    return isinstance(heads, dict) and name in heads


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
    """Explain ``label`` of ``model_name`` (a tagger or a head) on a (frames × n_mels) spectrogram.

    On a tagger, ``label`` is a raw tag or a canonical label (explained through its raw tags); on a head,
    one of the head's outputs or the canonical label it feeds ("Dark", "energy", "valence (what lowers
    it)"). ``analyzer_or_model`` is an ``Analyzer`` (its loaded models and heads are reused), a tagger's
    ``(net, card)`` pair or bare network, a ``HeadNet``, or None (loaded from the model folders once).
    ``patch_frames`` defaults to the model card's (187 for musicnn). ``track_key`` (e.g. the library's
    audio fingerprint) names the track in the cache; without it the spectrogram's bytes are hashed.
    ``cache`` defaults to an in-memory LRU shared by all callers; pass ``ExplanationCache(directory=
    default_cache_dir())`` to keep maps on disk too.
    """
    spectrogram = np.asarray(spectrogram, dtype=np.float32)
    if _wants_head(analyzer_or_model, model_name):
        net = head_net(analyzer_or_model, model_name)
        outputs, mel, rate, frames = net.labels, net.mel, net.sample_rate, net.patch_frames
        name, index = resolve_head_output(label, model_name, outputs, vocabulary)
        indices, source, version = (index,), f"head:{net.name}", net.version
        batch_size = max(1, batch_size // len(net.taggers))  # every patch runs through each tagger
    else:
        net, card = _model_and_card(analyzer_or_model, model_name)
        outputs, mel, rate, frames = card.labels, card.mel, card.sample_rate, card.patch_frames
        name, indices = resolve_label(label, model_name, card.labels, vocabulary)
        source, version = model_name, card.version
    n_mels = int(mel["n_mels"])
    if spectrogram.ndim != 2 or spectrogram.shape[1] != n_mels or spectrogram.shape[0] == 0:
        raise ExplainError(f"expected a (frames, {n_mels}) spectrogram, got shape {spectrogram.shape}")
    patch_frames = int(patch_frames or frames)
    frame_seconds = int(mel["hop_length"]) / int(rate)
    explained = tuple(outputs[i] for i in indices)
    cache = cache if cache is not None else MEMORY_CACHE
    track = track_key or spectrogram_fingerprint(spectrogram)
    key = cache_key(track, source, version, "+".join(explained), method, patch_frames)
    values = cache.get(key)
    if values is None:
        values = _normalise(compute_map(net, spectrogram, indices, method, patch_frames, batch_size))
        cache.put(key, values)
    common = dict(
        map=values,
        method=method,
        label=name,
        model=model_name,
        patch_seconds=patch_frames * frame_seconds,
        frame_seconds=frame_seconds,
        tags=explained,
    )
    if not isinstance(net, HeadNet):
        return Explanation(**common)
    output = explained[0].removesuffix(LOWERS)
    return Explanation(
        **common,
        head=net.name,
        models=net.card.inputs,
        direction=("lowers" if explained[0].endswith(LOWERS) else "raises") if net.regression else "",
        approximate=net.approximate,
        value_range=net.card.ranges.get(output),
    )
