"""Computes label explanations (``musictagger.explain``) off the GUI thread, through ``gui/runner.py``.

One explanation at a time, on its own lane, so a slow map (~10 s for a 4-minute track on a
laptop CPU) never delays the analysis of the next track, which runs on ``AnalysisWorker``'s lane. A new
request (another label, another track) cancels the running one: a forward pre-hook on the worker's own
copy of the network raises between batches of patches, the only cancel point ``explain`` leaves; results
that still arrive for an older request are dropped. The networks are loaded lazily on the lane
and belong to it alone (the hook could not be put on a network the analysis thread shares), and maps are
cached per (track, model or head, label, method) in memory and on disk.

A label a head scores (a genre family, a DJ mood, energy, valence) is explained through that head
(``explain.head_net.HeadNet``: the head over each patch's features of the lane's own taggers); each head is
loaded once per worker, like the taggers, and again only if its files change.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from musictagger.analysis import TrackAnalysis
from musictagger.catalog import load_model
from musictagger.device import resolve_device
from musictagger.explain import (
    DEFAULT_METHOD,
    LOWERS,
    ExplainError,
    ExplanationCache,
    HeadNet,
    default_cache_dir,
    describe,
    explain,
    resolve,
)
from musictagger.gui.runner import Runner, Task, TaskCancelled, TaskContext
from musictagger.heads.model import load_head
from musictagger.taxonomy import Vocabulary

LANE = "explain"


@dataclass(frozen=True)
class ExplainTarget:
    model: str  # the network to explain: a tagger, or a head when ``head``
    label: str  # a raw tag or canonical label of a tagger, or a head's output / the label it feeds
    head: bool = False
    value: float | None = None  # a regression output's value on the track, named in the sentence


def explain_target(key: str, analysis: TrackAnalysis, vocabulary: Vocabulary) -> ExplainTarget | None:
    """What a selector entry (``LabelRow.key``) is explained with.

    ``raw:<model>:<tag>`` is that tag of that model. ``canonical:<name>`` goes where ``explain.resolve``
    sends it: through the head that scores it (a genre family, a DJ mood), or the tagger whose source tag
    scored highest in this track (a style, a descriptor: the synonym that carries the label's score).
    ``head:<head>:<output>`` is a regression head's output (energy, valence, or ``LOWERS`` appended).
    """
    kind, _, rest = key.partition(":")
    if kind == "raw":
        model, _, tag = rest.partition(":")
        return ExplainTarget(model, tag) if model in analysis.models else None
    if kind == "head":
        head, _, output = rest.partition(":")
        scores = analysis.heads.get(head)
        value_of = output.removesuffix(LOWERS)
        if scores is None or value_of not in scores.labels:
            return None
        return ExplainTarget(head, output, True, float(scores.probs[scores.labels.index(value_of)]))
    if kind != "canonical":
        return None
    try:
        source = resolve(rest, analysis, vocabulary)
    except ExplainError:
        return None
    return ExplainTarget(source.source, source.label, source.head)


class ExplainCancelled(Exception):
    """Raised inside the network's forward when the request it serves is no longer wanted."""


class ExplainModels:
    """The lane's own copies of the networks, each with a cancel hook, and the heads over them (loaded
    once each). Plain Python, used on the lane only."""

    def __init__(self, device: str):
        self.device = device
        self.running_cancel_event: threading.Event | None = None  # the request being computed now
        self._models: dict[str, tuple[torch.nn.Module, object]] = {}
        self._heads: dict[str, HeadNet] = {}
        self._head_stamps: dict[str, tuple] = {}

    def get(self, name: str):
        if name not in self._models:
            net, card = load_model(name, device=str(resolve_device(self.device)))
            net.register_forward_pre_hook(self._check_cancelled)
            self._models[name] = (net, card)
        return self._models[name]

    def head(self, name: str) -> HeadNet:
        """The head over the lane's taggers (their cancel hooks fire inside it); loaded again only when its
        files changed (Tags ▸ Learn my genres / moods saves a head under the same name)."""
        cached = self._heads.get(name)
        if cached is None or _files_stamp(cached.card.folder) != self._head_stamps.get(name):
            head, card = load_head(name)
            self._heads[name] = HeadNet(head, card, {model: self.get(model) for model in card.inputs})
            self._head_stamps[name] = _files_stamp(card.folder)
        return self._heads[name]

    def _check_cancelled(self, _module, _inputs) -> None:
        event = self.running_cancel_event
        if event is not None and event.is_set():
            raise ExplainCancelled


def _files_stamp(folder: Path) -> tuple:
    """What changes when a head is saved again: its files' sizes and modification times."""
    stamp = []
    for file in sorted(folder.iterdir()) if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            info = file.stat()
            stamp.append((file.name, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


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
    target = request.target
    if target.head:
        net = models.head(target.model)
        mel = net.mel
    else:
        net = models.get(target.model)
        mel = net[1].mel
    models.running_cancel_event = ctx.cancel_event
    try:
        explanation = explain(
            net,
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
    return explanation, describe(explanation, request.spectrogram, mel=mel, value=target.value)


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
