"""Scans folders and analyses what is new, on one background thread, reporting by queued signals.

One run at a time: each run scans its folders (``scanner.scan``), then analyses every pending track
(``store.analyse_pending``). Runs asked for while one is going are queued in the same pool thread. The
Analyzer is built lazily on that thread and kept for every later run. Pause blocks the run between two
tracks (the core's only stop points); cancel ends it there, keeping everything saved so far.
"""

from __future__ import annotations

import threading
import time
import traceback

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from musictagger.analysis import Analyzer
from musictagger.library.db import Library
from musictagger.library.scanner import scan
from musictagger.library.store import analyse_pending, analyses_needed
from musictagger.taxonomy import Vocabulary, load_vocabulary


class _RunSignals(QObject):
    scan_progress = Signal(int, str)  # files seen, current path
    scan_finished = Signal(object)  # ScanReport
    analysis_started = Signal(int)  # tracks pending
    track_analysed = Signal(int, str)  # track id, error ("" when it worked)
    finished = Signal(object, object)  # ScanReport | None, AnalyseReport | None
    failed = Signal(str)
    device_ready = Signal(str)


class _Run(QRunnable):
    def __init__(self, owner: LibraryWorker, folders: list[str]):
        super().__init__()
        self.owner = owner
        self.folders = folders
        self.signals = _RunSignals()

    def run(self) -> None:
        owner, signals = self.owner, self.signals
        scan_report = analyse_report = None
        try:
            if self.folders and not owner.should_stop():
                scan_report = scan(
                    owner.library,
                    self.folders,
                    on_progress=lambda report, path: signals.scan_progress.emit(_seen(report), path),
                    should_stop=owner.should_stop,
                )
                signals.scan_finished.emit(scan_report)
            if not owner.should_stop():
                analyzer, vocabulary = owner.models_for_pool_thread(signals)
                versions = {name: card.version for name, card in analyzer.cards.items()}
                with owner.library.session() as session:
                    pending = len(analyses_needed(session, analyzer.model_names, versions))
                signals.analysis_started.emit(pending)
                analyse_report = analyse_pending(
                    owner.library,
                    analyzer,
                    vocabulary,
                    on_result=lambda track_id, _analysis, error: signals.track_analysed.emit(
                        track_id, error or ""
                    ),
                    should_stop=owner.should_stop,
                    decode_workers=1,  # the GUI keeps a core; decoding is far quicker than inference
                )
        except Exception as exc:  # reaches the status bar rather than killing the pool thread
            traceback.print_exc()
            signals.failed.emit(f"{type(exc).__name__}: {exc}")
        signals.finished.emit(scan_report, analyse_report)


def _seen(report) -> int:
    return report.added + report.updated + report.unchanged + report.moved + len(report.errors)


class LibraryWorker(QObject):
    """Lives in the GUI thread; its runs execute on one pool thread and report through these signals."""

    scan_progress = Signal(int, str)
    scan_finished = Signal(object)
    analysis_started = Signal(int)
    track_analysed = Signal(int, str)
    finished = Signal(object, object)
    failed = Signal(str)
    device_ready = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self, library: Library, parent: QObject | None = None, *, device: str = "auto", model_names=None
    ):
        super().__init__(parent)
        self.library = library
        self._device = device
        self._model_names = model_names
        self._analyzer: Analyzer | None = None
        self._vocabulary: Vocabulary | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._cancel = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._holding = threading.Event()  # set while a paused run is actually waiting between tracks
        self._runs: list[_Run] = []  # kept until their last signal: queued events need the objects

    # -- GUI thread API ----------------------------------------------------------------------------------

    def start(self, folders: list[str]) -> None:
        """Scan ``folders`` (none: only analyse what is pending), then analyse; queued behind any run."""
        self._cancel.clear()
        run = _Run(self, list(folders))
        queued = Qt.ConnectionType.QueuedConnection
        for name in ("scan_progress", "scan_finished", "analysis_started", "track_analysed", "failed"):
            getattr(run.signals, name).connect(getattr(self, name).emit, queued)
        run.signals.device_ready.connect(self._on_device_ready, queued)
        run.signals.finished.connect(lambda s, a, r=run: self._on_finished(r, s, a), queued)
        run.setAutoDelete(False)
        self._runs.append(run)
        if len(self._runs) == 1:
            self.busy_changed.emit(True)
        self._pool.start(run)

    def is_busy(self) -> bool:
        return bool(self._runs)

    def is_paused(self) -> bool:
        return not self._resume.is_set()

    def is_holding(self) -> bool:
        """Paused *and* the track that was running when Pause came has landed: nothing runs now."""
        return self._holding.is_set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._resume.clear()
        else:
            self._resume.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._resume.set()  # a paused run must wake up to see the cancel

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        self.cancel()
        self._pool.waitForDone(timeout_ms)

    # -- pool thread ---------------------------------------------------------------------------------------

    def should_stop(self) -> bool:
        # Polled between files and tracks: pausing waits here, without holding any transaction open.
        while not self._resume.wait(0.2):
            self._holding.set()
            if self._cancel.is_set():
                break
        self._holding.clear()
        return self._cancel.is_set()

    def models_for_pool_thread(self, signals: _RunSignals) -> tuple[Analyzer, Vocabulary]:
        if self._analyzer is None:
            self._analyzer = Analyzer(self._model_names, device=self._device)
            self._vocabulary = load_vocabulary()
            signals.device_ready.emit(self._analyzer.device_name)
        return self._analyzer, self._vocabulary

    # -- GUI thread ----------------------------------------------------------------------------------------

    @Slot(str)
    def _on_device_ready(self, name: str) -> None:
        self.device_ready.emit(name)

    def _on_finished(self, run: _Run, scan_report, analyse_report) -> None:
        if run in self._runs:
            self._runs.remove(run)
        self.finished.emit(scan_report, analyse_report)
        if not self._runs:
            self.busy_changed.emit(False)


class EtaClock:
    """Time left from the pace so far ("3 min left"), once a few tracks give a pace worth quoting."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def restart(self) -> None:
        self.started = time.monotonic()

    def left(self, done: int, total: int) -> str:
        if done < 1 or total <= done:
            return ""
        seconds = (time.monotonic() - self.started) / done * (total - done)
        if seconds < 60:
            return f"{max(1, round(seconds))} s left"
        if seconds < 3600:
            return f"{round(seconds / 60)} min left"
        return f"{seconds / 3600:.1f} h left"
