"""Does the GUI thread stay responsive while the app works on a 1,000-track library? Prints a table.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_stalls.py [--tracks 1000] [--probe-ms 5]

The real main window (offscreen, CPU) on a fresh library of N copies of the shipped test recordings
(tests/data/formats: every container), driven as a user would, one phase after another:

- **analysis**: File ▸ Add music folder: the scan and the analysis of every track in the background;
- **select all**: scroll to the end of the table (its pages load) and select every row: the review panel
  loads the selection;
- **review**: "Accept all suggestions" in the review panel;
- **write**: Tags ▸ Write tags of selected tracks: the dry run, then Write;
- **undo**: Tags ▸ Undo last write batch.

An event-loop probe (a QTimer every ``--probe-ms``) stamps each tick; a stall is a gap between two
ticks beyond the timer's own interval. Per phase: ticks, the longest stall, the 99th percentile, and how
many stalls passed 50 ms; "events ms" is the longest single pass of the event loop (the app's own
GUI-thread work) and "resume ms" the longest wait to run again after a 1 ms sleep (the GIL or a CPU held
elsewhere). A watchdog thread names what the GUI thread was running during each stall over
the limit (the innermost frames of the project's code), so a regression says where it is.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SOURCES = ROOT / "tests" / "data" / "formats"
LIMIT_MS = 50.0


class Probe:
    """Stamps every tick of a fast GUI-thread timer; a watchdog thread samples the GUI thread's stack
    whenever the last tick is older than the limit."""

    def __init__(self, interval_ms: int, native_stacks: bool = False):
        self.interval_ms = interval_ms
        # With py-spy, each stall also gets the GUI thread's native stack (Qt's C++ frames): a stall inside
        # app.processEvents() has no Python frame that says what Qt was doing.
        self.py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.native_stacks = native_stacks and Path(self.py_spy).is_file()
        self.native_dumps: list[str] = []
        self.ticks: list[float] = []
        self.culprits: Counter[str] = Counter()
        self.workers: Counter[str] = Counter()  # where the other threads stood during those stalls
        self._clock = QElapsedTimer()
        self._clock.start()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._gui_thread = threading.get_ident()
        self._last = time.perf_counter()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="stall-watchdog", daemon=True)

    def start(self) -> None:
        self._timer.start()
        self._watchdog.start()

    def stop(self) -> None:
        self._timer.stop()
        self._stop.set()

    def mark(self) -> int:
        return len(self.ticks)

    def _tick(self) -> None:
        now = time.perf_counter()
        self._last = now
        self.ticks.append(now)

    def _watch(self) -> None:
        sampled_for = 0.0
        while not self._stop.wait(0.01):
            last = self._last
            if (time.perf_counter() - last) * 1000 > LIMIT_MS and sampled_for != last:
                sampled_for = last
                frames = sys._current_frames()
                frame = frames.get(self._gui_thread)
                if frame is not None:
                    self.culprits[_where(frame)] += 1
                # This thread runs only once it has the GIL: a worker that held it through a long C call
                # has just let go, and still stands right after that call. Name every worker's place.
                names = {t.ident: t.name for t in threading.enumerate()}
                for ident, other in frames.items():
                    if ident not in (self._gui_thread, threading.get_ident()):
                        self.workers[f"{names.get(ident, ident)}: {_where(other)}"] += 1
                if self.native_stacks:
                    self.native_dumps.append(self._native_stack())

    def _native_stack(self) -> str:
        dump = subprocess.run(
            [self.py_spy, "dump", "--native", "--pid", str(os.getpid())],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        # Keep the GUI (main) thread's block only.
        blocks = dump.split("\nThread ")
        main = next((b for b in blocks if "MainThread" in b.split("\n", 1)[0]), dump)
        return "\n".join(main.splitlines()[:40])

    def stalls_ms(self, start: int, end: int) -> np.ndarray:
        ticks = np.asarray(self.ticks[start:end])
        if len(ticks) < 2:
            return np.zeros(0)
        return np.maximum(np.diff(ticks) * 1000 - self.interval_ms, 0.0)


class SlowCallbacks(logging.Handler):
    """Collects the runner's "slow GUI callback" warnings: which callback held the GUI thread, how long."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("slow GUI callback"):
            self.records.append(record.getMessage().removeprefix("slow GUI callback "))


def _where(frame) -> str:
    stack = traceback.extract_stack(frame)
    ours = [f for f in stack if "musictagger" in f.filename and "bench" not in f.filename]
    chosen = ours[-2:] if ours else stack[-2:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(chosen))


class LoopSplit:
    """Splits the GUI thread's time in the waiting loop in two: inside ``processEvents`` (the app's own
    GUI-thread work: callbacks, painting) and getting the thread running again after a 1 ms sleep (waiting
    for the GIL or for a CPU). A stall made of the second kind is not the GUI code's doing."""

    def __init__(self):
        self.events_ms: list[float] = []
        self.resume_ms: list[float] = []

    def mark(self) -> tuple[int, int]:
        return len(self.events_ms), len(self.resume_ms)

    def longest(self, mark: tuple[int, int]) -> tuple[float, float]:
        events, resume = self.events_ms[mark[0] :], self.resume_ms[mark[1] :]
        return max(events, default=0.0), max(resume, default=0.0)


LOOP = LoopSplit()


class TimedApplication(QApplication):
    """``--slow-events``: times every event Qt delivers on the GUI thread and keeps the outermost ones over
    the limit (receiver class, object name, event type), which names C++ work no Python profile sees."""

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        self.slow: Counter[str] = Counter()
        self._depth = 0

    def notify(self, receiver, event) -> bool:
        self._depth += 1
        started = time.perf_counter()
        try:
            return super().notify(receiver, event)
        finally:
            self._depth -= 1
            took_ms = (time.perf_counter() - started) * 1000
            if took_ms > (LIMIT_MS / 2 if self._depth == 0 else LIMIT_MS / 10):
                name = receiver.objectName() if hasattr(receiver, "objectName") else ""
                kind = type(receiver).__name__ + (f"#{name}" if name else "")
                parent = receiver.parent() if hasattr(receiver, "parent") else None
                for _ in range(2):  # which widget a viewport or an unnamed container belongs to
                    if parent is None:
                        break
                    named = f"#{parent.objectName()}" if parent.objectName() else ""
                    kind += f" in {type(parent).__name__}{named}"
                    parent = parent.parent()
                self.slow[f"{'  ' * self._depth}{kind} {event.type().name}: {took_ms:.0f} ms"] += 1


def wait_until(app: QApplication, condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish in {timeout_s:.0f} s")
        started = time.perf_counter()
        app.processEvents()
        slept = time.perf_counter()
        time.sleep(0.001)
        LOOP.events_ms.append((slept - started) * 1000)
        LOOP.resume_ms.append(max((time.perf_counter() - slept) * 1000 - 1.0, 0.0))


def make_library(folder: Path, tracks: int) -> None:
    sources = sorted(p for p in SOURCES.iterdir() if p.suffix != ".md")
    for index in range(tracks):
        source = sources[index % len(sources)]
        shutil.copyfile(source, folder / f"{index:05d} {source.stem}{source.suffix}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--probe-ms", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per phase at most")
    parser.add_argument(
        "--native-stacks",
        action="store_true",
        help="dump the GUI thread's native stack (py-spy) during each stall over the limit",
    )
    parser.add_argument(
        "--slow-events",
        action="store_true",
        help="time every event Qt delivers on the GUI thread; list those over half the limit",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the GUI thread (cProfile) in every phase after the analysis; print the top functions",
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="musictagger-stalls-"))
    for name, sub in (("DATA", "data"), ("CONFIG", "config"), ("CACHE", "cache"), ("LOG", "log")):
        os.environ[f"MUSICTAGGER_{name}_DIR"] = str(home / sub)
    os.environ["MUSICTAGGER_DB"] = str(home / "library.sqlite")
    music = home / "music"
    music.mkdir()
    make_library(music, args.tracks)

    from musictagger.gui.app import create_application
    from musictagger.gui.main_window import MainWindow

    if args.slow_events:
        TimedApplication([])
    app = create_application([])
    settings = QSettings(str(home / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, device="cpu", playback=False)
    window.show()
    wait_until(app, lambda: window.worker.device_name, 300, "loading the models")
    probe = Probe(args.probe_ms, native_stacks=args.native_stacks)
    slow_callbacks = SlowCallbacks()
    logging.getLogger("musictagger.gui.runner").addHandler(slow_callbacks)
    profiler = cProfile.Profile() if args.profile else None
    probe.start()
    phases: list[tuple[str, int, int, float, tuple[float, float]]] = []

    def phase(name: str, start_action, done, timeout_s: float = args.timeout) -> None:
        first = probe.mark()
        loop_mark = LOOP.mark()
        started = time.perf_counter()
        start_action()
        wait_until(app, done, timeout_s, name)
        for _ in range(20):  # let the results land and the last refreshes run
            app.processEvents()
            time.sleep(0.005)
        phases.append((name, first, probe.mark(), time.perf_counter() - started, LOOP.longest(loop_mark)))
        print(f"  {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    worker = window.library_worker
    phase("analysis", lambda: window.add_folders([music]), lambda: not worker.is_busy())
    if profiler is not None:  # only this (the GUI) thread is profiled
        profiler.enable()
    panel = window.tag_actions.review_panel
    review_done: list[bool] = []
    panel.review_changed.connect(lambda _ids: review_done.append(True))

    def select_all() -> None:
        model = window.library_model
        while model.canFetchMore():  # what scrolling to the end does: the table loads a page at a time
            model.fetchMore()
            wait_until(app, lambda: not model.loading(), 60, "a page of the table")
        window.library_view.table.selectAll()

    phase("select all", select_all, lambda: not panel.busy() and len(panel.track_ids) == args.tracks)
    phase("review", panel.accept_all, lambda: bool(review_done) and not panel.busy())
    dialogs = []
    written: list[object] = []

    def open_and_write() -> None:
        dialog = window.tag_actions.open_write_dialog(selected_only=True)
        dialog.finished_writing.connect(written.append)
        dialog.planned.connect(lambda _count: dialog.write())
        dialogs.append(dialog)

    phase("write", open_and_write, lambda: bool(written))
    dialogs[0].close()
    phase("undo", lambda: window.tag_actions.undo_last(ask=False), lambda: not window.runner.busy("write"))
    probe.stop()
    if profiler is not None:
        profiler.disable()
    import gc

    started = time.perf_counter()
    gc.collect()
    full_collection_ms = (time.perf_counter() - started) * 1000

    print(f"GUI thread stalls, {args.tracks} tracks, probe every {args.probe_ms} ms, limit {LIMIT_MS:.0f} ms")
    print(
        f"{'phase':<12} {'seconds':>8} {'ticks':>7} {'max ms':>8} {'p99 ms':>8} {'>50 ms':>7}"
        f" {'events ms':>10} {'resume ms':>10}"
    )
    worst = 0.0
    for name, first, last, seconds, (events_ms, resume_ms) in phases:
        stalls = probe.stalls_ms(first, last)
        longest = float(stalls.max()) if len(stalls) else 0.0
        worst = max(worst, longest)
        p99 = float(np.percentile(stalls, 99)) if len(stalls) else 0.0
        over = int((stalls > LIMIT_MS).sum())
        print(
            f"{name:<12} {seconds:>8.1f} {last - first:>7} {longest:>8.1f} {p99:>8.1f} {over:>7}"
            f" {events_ms:>10.1f} {resume_ms:>10.1f}"
        )
    written_report = written[0] if written else None
    if written_report is not None:
        print(f"written: {written_report.written} files, {len(written_report.failed)} failed")
    print(f"a full garbage collection on the GUI thread now takes {full_collection_ms:.1f} ms")
    if probe.workers:
        print("where the worker threads stood during those stalls (samples):")
        for where, count in probe.workers.most_common(12):
            print(f"  {count:>4}  {where}")
    if probe.culprits:
        print("where the GUI thread was during stalls over the limit (samples):")
        for where, count in probe.culprits.most_common(12):
            print(f"  {count:>4}  {where}")
    if slow_callbacks.records:
        print("slow GUI-thread callbacks of the runner (its log warnings):")
        for where, count in Counter(slow_callbacks.records).most_common(12):
            print(f"  {count:>4}  {where}")
    if args.slow_events:
        print("events over half the limit on the GUI thread (outermost deliveries):")
        for where, count in app.slow.most_common(25):
            print(f"  {count:>4}  {where}")
    if profiler is not None:
        print("GUI thread, every phase after the analysis (cProfile, by own time):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        print("GUI thread, the project's own functions by cumulative time:")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"musictagger/", 30)
    for number, stack in enumerate(probe.native_dumps, 1):
        print(f"--- native stack of the GUI thread, stall sample {number}:\n{stack}")
    window.close()
    shutil.rmtree(home, ignore_errors=True)
    return 0 if worst <= LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
