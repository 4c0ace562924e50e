"""Computes label explanations (``musictagger.explain``) off the GUI thread; reports by queued signals.

One explanation at a time, in its own single-thread pool, so a slow map (~10 s for a 4-minute track on a
laptop CPU) never delays the analysis of the next track, which runs in ``AnalysisWorker``'s pool. A new
request (another label, another track) cancels the running one: a forward pre-hook on the worker's own
copy of the network raises between batches of patches, the only cancel point ``explain`` leaves; results
that still arrive for an older request are dropped. The networks are loaded lazily in the pool thread
and belong to it alone (the hook could not be put on a network the analysis thread shares), and maps are
cached per (track, model, label, method) in memory and on disk.
"""

from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, Qt, Signal, Slot

from musictagger.analysis import TrackAnalysis
from musictagger.catalog import load_model
from musictagger.device import resolve_device
from musictagger.errors import MusictaggerError
from musictagger.explain import DEFAULT_METHOD, ExplanationCache, default_cache_dir, describe, explain
from musictagger.gui.latest_job import LatestJob, LatestJobRunner
from musictagger.taxonomy import Vocabulary

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


class _JobSignals(QObject):
    finished = Signal(int, object, str)  # job id, Explanation, sentence from describe()
    failed = Signal(int, str)  # job id, message a user can read
    cancelled = Signal(int)


class _ExplainJob(LatestJob):
    def __init__(self, job_id: int, owner: ExplainWorker, spectrogram, target: ExplainTarget, track_key):
        super().__init__(job_id)
        self.owner = owner
        self.spectrogram = spectrogram
        self.target = target
        self.track_key = track_key
        self.signals = _JobSignals()

    def run(self) -> None:
        signals = self.signals
        try:
            if self.cancel_event.is_set():
                raise ExplainCancelled
            net_and_card = self.owner.model_for_pool_thread(self.target.model)
            self.owner.running_cancel_event = self.cancel_event
            try:
                explanation = explain(
                    net_and_card,
                    self.spectrogram,
                    self.target.model,
                    self.target.label,
                    method=self.owner.method,
                    track_key=self.track_key,
                    cache=self.owner.cache,
                    vocabulary=self.owner.vocabulary,
                )
            finally:
                self.owner.running_cancel_event = None
            sentence = describe(explanation, self.spectrogram, mel=net_and_card[1].mel)
        except ExplainCancelled:
            signals.cancelled.emit(self.job_id)
        except MusictaggerError as exc:
            signals.failed.emit(self.job_id, str(exc))
        except Exception as exc:  # a bug must reach the caption, not kill the pool thread
            traceback.print_exc()
            signals.failed.emit(self.job_id, f"{type(exc).__name__}: {exc}")
        else:
            signals.finished.emit(self.job_id, explanation, sentence)


class ExplainWorker(LatestJobRunner):
    """Explains one (track, label) at a time in a pool thread; lives in and signals to the GUI thread."""

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
    ):
        super().__init__(parent)
        self.device = device
        self.method = method
        self.cache = cache if cache is not None else ExplanationCache(directory=default_cache_dir())
        self.vocabulary = vocabulary
        self.running_cancel_event: threading.Event | None = None  # set by the pool thread only
        self._models: dict[str, tuple[torch.nn.Module, object]] = {}

    # -- GUI thread API ---------------------------------------------------------------------------

    def request(self, spectrogram: np.ndarray, target: ExplainTarget, track_key: str) -> None:
        """Explain ``target`` over ``spectrogram``, cancelling whatever was asked before."""
        self.cancel()
        job = _ExplainJob(self._new_job_id(), self, spectrogram, target, track_key)
        queued = Qt.ConnectionType.QueuedConnection
        job.signals.finished.connect(self._on_finished, queued)
        job.signals.failed.connect(self._on_failed, queued)
        job.signals.cancelled.connect(self._on_cancelled, queued)
        self._start(job)

    # -- pool thread ------------------------------------------------------------------------------

    def model_for_pool_thread(self, name: str):
        if name not in self._models:
            net, card = load_model(name, device=str(resolve_device(self.device)))
            net.register_forward_pre_hook(self._check_cancelled)
            self._models[name] = (net, card)
        return self._models[name]

    def _check_cancelled(self, _module, _inputs) -> None:
        event = self.running_cancel_event
        if event is not None and event.is_set():
            raise ExplainCancelled

    # -- forwarding (GUI thread) --------------------------------------------------------------------

    @Slot(int, object, str)
    def _on_finished(self, job_id: int, explanation, sentence: str) -> None:
        if self._retire(job_id):
            self.finished.emit(explanation, sentence)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        if self._retire(job_id):
            self.failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._retire(job_id)


def track_key(path: str) -> str:
    """The cache's name for a track: its path, size and modification time (an edited file is re-explained)."""
    try:
        stat = os.stat(path)
    except OSError:
        return path
    return f"{path}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}"
