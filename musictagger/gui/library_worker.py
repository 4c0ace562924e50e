"""Scans folders and analyses what is new, on one background lane (``gui/runner.py``).

One run at a time: each run scans its folders, then analyses every pending track, through
``services.analysis`` as the CLI's ``scan`` does. Runs asked for while one is going queue behind it on
the same lane. The models are built lazily on that lane (from the settings) and kept for every later
run. Pause holds the run between two tracks (the core's only stop points); cancel ends it there, keeping
everything saved so far. The task gets plain data only (the ``Library``, folder paths, a ``RunControl``
of threading events) and reports plain data back (counts, ids, reports) as runner events.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal

from musictagger.gui.runner import Runner, Task, TaskContext
from musictagger.gui.worker import LazyModels
from musictagger.library.db import Library
from musictagger.services.analysis import pending_analyses, scan_and_analyse
from musictagger.settings import Settings

LANE = "library"


class RunControl:
    """Pause and cancel shared by every queued run. Plain Python: safe on any thread."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.resume = threading.Event()
        self.resume.set()
        self.holding = threading.Event()  # set while a paused run is actually waiting between tracks

    def should_stop(self) -> bool:
        # Polled between files and tracks: pausing waits here, without holding any transaction open.
        while not self.resume.wait(0.2):
            self.holding.set()
            if self.cancel.is_set():
                break
        self.holding.clear()
        return self.cancel.is_set()


def scan_and_analyse_run(
    ctx: TaskContext, library: Library, models: LazyModels, folders, control: RunControl
):
    """The lane's side of one run: scan ``folders`` (none: skip), then analyse what is pending, through
    the same service the CLI's ``scan`` uses (services.analysis.scan_and_analyse)."""
    scan_report = analyse_report = None
    if folders and not control.should_stop():
        scan_report, _ = scan_and_analyse(
            library,
            folders,
            None,
            on_scan_progress=lambda report, path: ctx.report("scan_progress", _seen(report), path),
            should_stop=control.should_stop,
        )
        ctx.report("scan_finished", scan_report)
    if not control.should_stop():
        loaded = models.get(ctx)
        ctx.report("analysis_started", pending_analyses(library, loaded))
        _, analyse_report = scan_and_analyse(
            library,
            [],
            loaded,
            on_track=lambda track_id, _analysis, error: ctx.report("track_analysed", track_id, error or ""),
            should_stop=control.should_stop,
        )
    return scan_report, analyse_report


def _seen(report) -> int:
    return report.added + report.updated + report.unchanged + report.moved + len(report.errors)


class LibraryWorker(QObject):
    """Lives in the GUI thread; its runs execute on the runner's library lane and report through these."""

    scan_progress = Signal(int, str)
    scan_finished = Signal(object)
    analysis_started = Signal(int)
    track_analysed = Signal(int, str)
    finished = Signal(object, object)
    failed = Signal(str)
    device_ready = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self,
        library: Library,
        parent: QObject | None = None,
        *,
        settings: Settings | None = None,
        runner: Runner | None = None,
    ):
        super().__init__(parent)
        self.library = library
        self.runner = runner if runner is not None else Runner(self)
        self.models = LazyModels(settings or Settings())
        self.control = RunControl()
        self._runs: list[Task] = []

    # -- GUI thread API ----------------------------------------------------------------------------------

    def start(self, folders: list[str]) -> None:
        """Scan ``folders`` (none: only analyse what is pending), then analyse; queued behind any run."""
        self.control.cancel.clear()
        task: Task | None = None
        task = self.runner.submit(
            LANE,
            scan_and_analyse_run,
            self.library,
            self.models,
            list(folders),
            self.control,
            on_event={
                "scan_progress": self.scan_progress.emit,
                "scan_finished": self.scan_finished.emit,
                "analysis_started": self.analysis_started.emit,
                "track_analysed": self.track_analysed.emit,
                "device_ready": self.device_ready.emit,
            },
            on_done=lambda reports: self._on_finished(task, *reports),
            on_error=lambda message: self._on_failed(task, message),
            on_cancelled=lambda: self._on_finished(task, None, None),
        )
        self._runs.append(task)
        if len(self._runs) == 1:
            self.busy_changed.emit(True)

    def is_busy(self) -> bool:
        return bool(self._runs)

    def is_paused(self) -> bool:
        return not self.control.resume.is_set()

    def is_holding(self) -> bool:
        """Paused *and* the track that was running when Pause came has landed: nothing runs now."""
        return self.control.holding.is_set()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.control.resume.clear()
        else:
            self.control.resume.set()

    def cancel(self) -> None:
        self.control.cancel.set()
        self.control.resume.set()  # a paused run must wake up to see the cancel

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        self.cancel()
        self.runner.wait(LANE, timeout_ms / 1000)

    # -- GUI thread ----------------------------------------------------------------------------------------

    def _on_failed(self, run: Task | None, message: str) -> None:
        self.failed.emit(message)
        self._on_finished(run, None, None)

    def _on_finished(self, run: Task | None, scan_report, analyse_report) -> None:
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
