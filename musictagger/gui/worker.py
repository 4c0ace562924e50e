"""Runs ``Analyzer.analyse_file`` off the GUI thread and reports back by queued signals.

One analysis at a time: opening a new track cancels the running one (through the ``on_chunk`` return
value, the only cancel point the core offers) and starts the new one as soon as the pool thread is free.
The Analyzer is built lazily in the pool thread, so loading weights never blocks the window, and is kept
for every later track.
"""

from __future__ import annotations

import os
import threading
import traceback

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, Signal, Slot

from musictagger.analysis import AnalysisCancelled, Analyzer
from musictagger.errors import MusictaggerError
from musictagger.gui.latest_job import LatestJob, LatestJobRunner

# Patches per inference batch. The core defaults to 64 (3 minutes of audio): a chunk that large would
# leave the view empty for a whole track. 8 patches (24 s) draws a 4-minute track in ten steps.
GUI_BATCH_PATCHES = 8


class _JobSignals(QObject):
    """Signals of one job, emitted from the pool thread; the worker forwards them if the job is current."""

    started = Signal(int, str, int, float)  # job id, path, expected frames, frame seconds
    chunk = Signal(int, int, object)  # job id, start frame, mel chunk (frames × mels)
    finished = Signal(int, str, object)  # job id, path, TrackAnalysis
    failed = Signal(int, str, str)  # job id, path, message
    cancelled = Signal(int, str)  # job id, path
    device_ready = Signal(str)


class _AnalysisJob(LatestJob):
    def __init__(self, job_id: int, path: str, owner: AnalysisWorker):
        super().__init__(job_id)
        self.path = path
        self.owner = owner
        self.signals = _JobSignals()

    def run(self) -> None:
        signals = self.signals
        try:
            if self.cancel_event.is_set():
                raise AnalysisCancelled("analysis cancelled")
            analyzer = self.owner.analyzer_for_pool_thread(signals)
            audio = analyzer.decode(self.path)
            frame_seconds, expected_frames = _frame_grid(analyzer, audio)
            signals.started.emit(self.job_id, self.path, expected_frames, frame_seconds)
            next_frame = 0

            def on_chunk(start_frame: int, mel: np.ndarray) -> bool:
                nonlocal next_frame
                # Several front ends would replay frames from 0; only the first (displayed) one is sent.
                if start_frame == next_frame:
                    next_frame = start_frame + len(mel)
                    signals.chunk.emit(self.job_id, start_frame, mel)
                return self.cancel_event.is_set()

            analysis = analyzer.analyse_decoded(self.path, audio, keep_spectrogram=True, on_chunk=on_chunk)
        except AnalysisCancelled:
            signals.cancelled.emit(self.job_id, self.path)
        except MusictaggerError as exc:
            signals.failed.emit(self.job_id, self.path, str(exc))
        except Exception as exc:  # a decoder bug must reach the status bar, not kill the pool thread
            traceback.print_exc()
            signals.failed.emit(self.job_id, self.path, f"{type(exc).__name__}: {exc}")
        else:
            signals.finished.emit(self.job_id, self.path, analysis)


class _WarmUpJob(QRunnable):
    """Builds the Analyzer before the first track, so the device shows at start-up and opening is instant."""

    def __init__(self, owner: AnalysisWorker):
        super().__init__()
        self.owner = owner
        self.signals = _JobSignals()

    def run(self) -> None:
        try:
            self.owner.analyzer_for_pool_thread(self.signals)
        except Exception:  # the first analysis hits the same error and reports it for its file
            traceback.print_exc()


def _frame_grid(analyzer: Analyzer, audio: dict[int, np.ndarray]) -> tuple[float, int]:
    """Frame length and expected frame count of the displayed spectrogram, for the progress bar."""
    card = next(iter(analyzer.cards.values()))
    rate = int(card.sample_rate)
    hop = int(card.mel["hop_length"])
    return hop / rate, 1 + len(audio[rate]) // hop


class AnalysisWorker(LatestJobRunner):
    """Analyses one track at a time in a background thread; lives in (and signals to) the GUI thread."""

    started = Signal(str, int, float)  # path, expected frames, frame seconds
    chunk = Signal(int, object)  # start frame, mel chunk (frames × mels) as it is computed
    progress = Signal(str, float)  # path, fraction done 0..1
    finished = Signal(str, object)  # path, TrackAnalysis
    failed = Signal(str, str)  # path, message a user can read
    cancelled = Signal(str)
    device_ready = Signal(str)  # "CPU (2 threads)", "NVIDIA H100 …"

    def __init__(self, parent: QObject | None = None, *, device: str = "auto", model_names=None):
        super().__init__(parent)
        self._device = device
        self._model_names = model_names
        self._analyzer: Analyzer | None = None
        self._analyzer_lock = threading.Lock()
        self._expected_frames = 0
        self.device_name = ""

    # -- GUI thread API ---------------------------------------------------------------------------

    def analyse(self, path: str | os.PathLike) -> None:
        """Start analysing ``path``, cancelling whatever was running."""
        self.cancel()
        job = _AnalysisJob(self._new_job_id(), os.fspath(path), self)
        queued = Qt.ConnectionType.QueuedConnection
        job.signals.started.connect(self._on_started, queued)
        job.signals.chunk.connect(self._on_chunk, queued)
        job.signals.finished.connect(self._on_finished, queued)
        job.signals.failed.connect(self._on_failed, queued)
        job.signals.cancelled.connect(self._on_cancelled, queued)
        job.signals.device_ready.connect(self._on_device_ready, queued)
        self._start(job)

    def warm_up(self) -> None:
        job = _WarmUpJob(self)
        job.signals.device_ready.connect(self._on_device_ready, Qt.ConnectionType.QueuedConnection)
        job.setAutoDelete(False)
        self._warm_up_job = job  # kept: its signal object must outlive the queued device_ready
        self._pool.start(job)

    def reload_heads(self) -> None:
        """Pick up heads saved since the analyzer was loaded (e.g. one the user just trained)."""
        with self._analyzer_lock:
            if self._analyzer is not None:
                self._analyzer.load_heads()

    # -- pool thread ------------------------------------------------------------------------------

    def analyzer_for_pool_thread(self, signals: _JobSignals) -> Analyzer:
        with self._analyzer_lock:
            if self._analyzer is None:
                self._analyzer = Analyzer(
                    self._model_names, device=self._device, batch_size=GUI_BATCH_PATCHES
                )
                signals.device_ready.emit(self._analyzer.device_name)
            return self._analyzer

    # -- forwarding (GUI thread): results of a job that is no longer current are dropped ---------------

    @Slot(int, str, int, float)
    def _on_started(self, job_id: int, path: str, expected_frames: int, frame_seconds: float) -> None:
        if self._is_current(job_id):
            self._expected_frames = max(1, expected_frames)
            self.started.emit(path, expected_frames, frame_seconds)
            self.progress.emit(path, 0.0)

    @Slot(int, int, object)
    def _on_chunk(self, job_id: int, start_frame: int, mel: np.ndarray) -> None:
        if self._is_current(job_id):
            self.chunk.emit(start_frame, mel)
            # A chunk arrives before the models run on it, so only the frames before it count as done.
            done = min(1.0, start_frame / self._expected_frames)
            self.progress.emit(self._current.path, done)

    @Slot(int, str, object)
    def _on_finished(self, job_id: int, path: str, analysis) -> None:
        if self._retire(job_id):
            self.finished.emit(path, analysis)

    @Slot(int, str, str)
    def _on_failed(self, job_id: int, path: str, message: str) -> None:
        if self._retire(job_id):
            self.failed.emit(path, message)

    @Slot(int, str)
    def _on_cancelled(self, job_id: int, path: str) -> None:
        self._retire(job_id)
        self.cancelled.emit(path)

    @Slot(str)
    def _on_device_ready(self, name: str) -> None:
        self.device_name = name
        self.device_ready.emit(name)
