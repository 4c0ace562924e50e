"""Computes label explanations (``musictagger.explain``) off the GUI thread, through ``gui/runner.py``.

One explanation at a time, on its own lane, so a slow map (~10 s for a 4-minute track on a
laptop CPU) never delays the analysis of the next track, which runs on ``AnalysisWorker``'s lane. A new
request (another label, another track) cancels the running one: a forward pre-hook on the worker's own
copy of the network raises between batches of patches, the only cancel point ``explain`` leaves; results
that still arrive for an older request are dropped. The networks are loaded lazily on the lane
and belong to it alone (the hook could not be put on a network the analysis thread shares), and maps are
cached per (track, model, label, method) in memory and on disk.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from musictagger.analysis import TrackAnalysis
from musictagger.catalog import load_model
from musictagger.device import resolve_device
from musictagger.explain import DEFAULT_METHOD, ExplanationCache, default_cache_dir, describe, explain
from musictagger.gui.runner import Runner, Task, TaskCancelled, TaskContext
from musictagger.taxonomy import Vocabulary

LANE = "explain"

# The model a canonical label is explained with when none of its source tags has a score to compare.
DEFAULT_EXPLAIN_MODEL = "MSD_musicnn"


@dataclass(frozen=True)
class ExplainTarget:
    model: str  # the network to explain
    label: str  # a raw tag of ``model`` or a canonical label name (``explain`` resolves both)


def explain_target(key: str, analysis: TrackAnalysis, vocabulary: Vocabulary) -> ExplainTarget | None:
    """What a selector entry (``LabelRow.key``) is explained with.

    ``raw:<model>:<tag>`` is that tag of that model. ``canonical:<name>`` is the canonical label on the model
    whose source tag scored highest in this track (the synonym that carries the label's score), or on
    ``DEFAULT_EXPLAIN_MODEL`` when no source tag was scored.
    """
    kind, _, rest = key.partition(":")
    if kind == "raw":
        model, _, tag = rest.partition(":")
        return ExplainTarget(model, tag) if model in analysis.models else None
    if kind != "canonical":
        return None
    entry = next((item for item in vocabulary.labels if item.name == rest), None)
    if entry is None:
        return None
    best: tuple[float, str] | None = None
    for model, tags in entry.sources.items():
        scores = analysis.models.get(model)
        if scores is None:
            continue
        for tag in tags:
            if tag in scores.labels:
                score = float(scores.scores[scores.labels.index(tag)])
                if best is None or score > best[0]:
                    best = (score, model)
    if best is not None:
        return ExplainTarget(best[1], rest)
    if DEFAULT_EXPLAIN_MODEL in analysis.models:
        return ExplainTarget(DEFAULT_EXPLAIN_MODEL, rest)
    return None


class ExplainCancelled(Exception):
    """Raised inside the network's forward when the request it serves is no longer wanted."""


class ExplainModels:
    """The lane's own copies of the networks, each with a cancel hook. Plain Python, used on the lane only."""

    def __init__(self, device: str):
        self.device = device
        self.running_cancel_event: threading.Event | None = None  # the request being computed now
        self._models: dict[str, tuple[torch.nn.Module, object]] = {}

    def get(self, name: str):
        if name not in self._models:
            net, card = load_model(name, device=str(resolve_device(self.device)))
            net.register_forward_pre_hook(self._check_cancelled)
            self._models[name] = (net, card)
        return self._models[name]

    def _check_cancelled(self, _module, _inputs) -> None:
        event = self.running_cancel_event
        if event is not None and event.is_set():
            raise ExplainCancelled


@dataclass(frozen=True)
class ExplainRequest:
    spectrogram: np.ndarray
    target: ExplainTarget
    track_key: str
    method: str
    cache: ExplanationCache
    vocabulary: Vocabulary | None


def explain_for_display(ctx: TaskContext, models: ExplainModels, request: ExplainRequest):
    """The lane's side: the map (cached) and its sentence."""
    ctx.check()
    net_and_card = models.get(request.target.model)
    models.running_cancel_event = ctx.cancel_event
    try:
        explanation = explain(
            net_and_card,
            request.spectrogram,
            request.target.model,
            request.target.label,
            method=request.method,
            track_key=request.track_key,
            cache=request.cache,
            vocabulary=request.vocabulary,
        )
    except ExplainCancelled:
        raise TaskCancelled from None
    finally:
        models.running_cancel_event = None
    return explanation, describe(explanation, request.spectrogram, mel=net_and_card[1].mel)


class ExplainWorker(QObject):
    """Explains one (track, label) at a time on its own lane; lives in and signals to the GUI thread."""

    finished = Signal(object, str)  # Explanation, describe() sentence: only for the current request
    failed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        device: str = "auto",
        method: str = DEFAULT_METHOD,
        cache: ExplanationCache | None = None,
        vocabulary: Vocabulary | None = None,
        runner: Runner | None = None,
    ):
        super().__init__(parent)
        self.runner = runner if runner is not None else Runner(self)
        self.method = method
        self.cache = cache if cache is not None else ExplanationCache(directory=default_cache_dir())
        self.vocabulary = vocabulary
        self.models = ExplainModels(device)
        self._current: Task | None = None

    @property
    def device(self) -> str:
        return self.models.device

    @device.setter
    def device(self, value: str) -> None:
        self.models.device = value

    def request(self, spectrogram: np.ndarray, target: ExplainTarget, track_key: str) -> None:
        """Explain ``target`` over ``spectrogram``, cancelling whatever was asked before."""
        self.cancel()
        request = ExplainRequest(spectrogram, target, track_key, self.method, self.cache, self.vocabulary)
        task: Task | None = None

        def finished(result) -> None:
            if self._current is task:
                self._current = None
                self.finished.emit(*result)

        def failed(message: str) -> None:
            if self._current is task:
                self._current = None
                self.failed.emit(message)

        task = self.runner.submit(
            LANE, explain_for_display, self.models, request, on_done=finished, on_error=failed
        )
        self._current = task

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self._current = None

    def is_busy(self) -> bool:
        return self._current is not None

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        self.cancel()
        self.runner.wait(LANE, timeout_ms / 1000)


def track_key(path: str) -> str:
    """The cache's name for a track: its path, size and modification time (an edited file is re-explained)."""
    try:
        stat = os.stat(path)
    except OSError:
        return path
    return f"{path}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}"
