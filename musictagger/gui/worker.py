"""Runs ``Analyzer.analyse_file`` off the GUI thread for the track view (through ``gui/runner.py``).

One analysis at a time: opening a new track supersedes the running one (cancelled through the
``on_chunk`` return value, the only cancel point the core offers). The Analyzer is built lazily on the
lane's thread, so loading weights never blocks the window, and is kept for every later track. The task
gets plain data only (a path and a ``LazyModels``); its chunks and result come back as runner events.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from PySide6.QtCore import QObject, Signal

from musictagger.analysis import AnalysisCancelled, Analyzer
from musictagger.gui.runner import Runner, Task, TaskCancelled, TaskContext
from musictagger.services.analysis import Models
from musictagger.settings import Settings

# Patches per inference batch. The core defaults to 64 (3 minutes of audio): a chunk that large would
# leave the view empty for a whole track. 8 patches (24 s) draws a 4-minute track in ten steps.
GUI_BATCH_PATCHES = 8
LANE = "track-analysis"


class LazyModels:
    """The models a settings' [analysis] table asks for (services.analysis.Models), built on first use on
    whichever lane asks first, then kept. Plain Python: the track view and the library analysis each
    hold one (their batch sizes differ)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._models: Models | None = None
        self._lock = threading.Lock()

    def get(self, ctx: TaskContext | None = None) -> Models:
        with self._lock:
            if self._models is None:
                self._models = Models.load(self.settings)
                if ctx is not None:
                    ctx.report("device_ready", self._models.analyzer.device_name)
            return self._models

    def reload_heads(self) -> None:
        with self._lock:
            if self._models is not None:
                self._models.analyzer.load_heads()


def analyse_for_display(ctx: TaskContext, models: LazyModels, path: str):
    """The lane's side: decode, announce the frame grid, then analyse chunk by chunk (events), result."""
    ctx.check()
    analyzer = models.get(ctx).analyzer
    audio = analyzer.decode(path)
    frame_seconds, expected_frames = _frame_grid(analyzer, audio)
    ctx.report("started", path, expected_frames, frame_seconds)
    next_frame = 0

    def on_chunk(start_frame: int, mel: np.ndarray) -> bool:
        nonlocal next_frame
        # Several front ends would replay frames from 0; only the first (displayed) one is sent.
        if start_frame == next_frame:
            next_frame = start_frame + len(mel)
            ctx.report("chunk", start_frame, mel)
        return ctx.cancelled()

    try:
        return analyzer.analyse_decoded(path, audio, keep_spectrogram=True, on_chunk=on_chunk)
    except AnalysisCancelled:
        raise TaskCancelled from None


def warm_up(ctx: TaskContext, models: LazyModels) -> None:
    models.get(ctx)


def _frame_grid(analyzer: Analyzer, audio: dict[int, np.ndarray]) -> tuple[float, int]:
    """Frame length and expected frame count of the displayed spectrogram, for the progress bar."""
    card = next(iter(analyzer.cards.values()))
    rate = int(card.sample_rate)
    hop = int(card.mel["hop_length"])
    return hop / rate, 1 + len(audio[rate]) // hop


class AnalysisWorker(QObject):
    """Analyses one track at a time in the background; lives in (and signals to) the GUI thread."""

    started = Signal(str, int, float)  # path, expected frames, frame seconds
    chunk = Signal(int, object)  # start frame, mel chunk (frames × mels) as it is computed
    progress = Signal(str, float)  # path, fraction done 0..1
    finished = Signal(str, object)  # path, TrackAnalysis
    failed = Signal(str, str)  # path, message a user can read
    cancelled = Signal(str)
    device_ready = Signal(str)  # "CPU (2 threads)", "NVIDIA H100 …"

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        device: str | None = None,
        model_names=None,
        settings: Settings | None = None,
        runner: Runner | None = None,
    ):
        """``settings`` (default: the defaults) with ``device`` and ``model_names`` overriding them."""
        super().__init__(parent)
        self.runner = runner if runner is not None else Runner(self)
        settings = settings or Settings()
        analysis = {"batch_size": GUI_BATCH_PATCHES}
        if device is not None:
            analysis["device"] = device
        if model_names is not None:
            analysis["models"] = tuple(model_names)
        self.models = LazyModels(settings.replace(analysis=analysis))
        self._current: Task | None = None
        self._current_path = ""
        self._expected_frames = 0
        self.device_name = ""

    def analyse(self, path: str | os.PathLike) -> None:
        """Start analysing ``path``, cancelling whatever was running."""
        path = os.fspath(path)
        self.cancel()  # the lane runs one task at a time: the new one starts when the old one stops
        self._current_path = path
        task: Task | None = None

        def finished(analysis) -> None:
            if self._current is task:
                self._current = None
                self.finished.emit(path, analysis)

        def failed(message: str) -> None:
            if self._current is task:
                self._current = None
                self.failed.emit(path, message)

        task = self.runner.submit(
            LANE,
            analyse_for_display,
            self.models,
            path,
            on_event={
                "device_ready": self._on_device_ready,
                "started": self._on_started,
                "chunk": self._on_chunk,
            },
            on_done=finished,
            on_error=failed,
            on_cancelled=lambda: self._on_cancelled(task, path),
        )
        self._current = task

    def cancel(self) -> None:
        if self._current is not None:
            self._retire_current()

    def _retire_current(self) -> None:
        task, self._current = self._current, None
        task.cancel()

    def is_busy(self) -> bool:
        return self._current is not None

    def warm_up(self) -> None:
        """Build the Analyzer in the background now: the device shows, and the first track starts at once."""
        self.runner.submit(LANE, warm_up, self.models, on_event={"device_ready": self._on_device_ready})

    def reload_heads(self) -> None:
        """Pick up heads saved since the analyzer was loaded (e.g. one the user just trained)."""
        self.models.reload_heads()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel and wait for the lane, so the app never exits under a running torch call."""
        self.cancel()
        self.runner.wait(LANE, timeout_ms / 1000)

    # -- runner events (GUI thread) --------------------------------------------------------------------

    def _on_started(self, path: str, expected_frames: int, frame_seconds: float) -> None:
        self._expected_frames = max(1, expected_frames)
        self.started.emit(path, expected_frames, frame_seconds)
        self.progress.emit(path, 0.0)

    def _on_chunk(self, start_frame: int, mel: np.ndarray) -> None:
        self.chunk.emit(start_frame, mel)
        # A chunk arrives before the models run on it, so only the frames before it count as done.
        self.progress.emit(self._current_path, min(1.0, start_frame / self._expected_frames))

    def _on_cancelled(self, task: Task | None, path: str) -> None:
        if self._current is task:
            self._current = None
        self.cancelled.emit(path)

    def _on_device_ready(self, name: str) -> None:
        self.device_name = name
        self.device_ready.emit(name)
