"""Does the app's library table stay responsive on a 1,000,000-track index? Prints the GUI thread's stalls.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui_million.py [--index FILE | --postgresql DIR]

The index is bench_million.py's (fill it first): its SQLite file (default
/tmp/musictagger-million/index.sqlite), or with ``--postgresql DIR`` its PostgreSQL cluster under
``DIR/pg`` (bench_million.py's ``--dir``; started as that bench starts it, shared buffers included).
The app's own table (gui/library_view.LibraryView over
gui/library_model.LibraryModel, queries on the runner's lanes) is shown offscreen and driven as a user
would, one phase after another: open (the first reset), scroll to the end a few pages (fetchMore), sort by
BPM, search a word, filter by genre + mood + BPM, clear the filter. A QTimer every 5 ms stamps each tick
on the GUI thread; a stall is the gap between two ticks beyond the interval. Per phase: how long until
the first page of rows was shown (the model's reset), until the table settled (every matching id read,
nothing left in flight), and the longest stall.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from musictagger.gui.app import create_application  # noqa: E402
from musictagger.gui.library_model import COL_BPM, LibraryModel  # noqa: E402
from musictagger.gui.library_view import LibraryView  # noqa: E402
from musictagger.library.db import open_library  # noqa: E402
from musictagger.library.track_filter import TrackFilter  # noqa: E402

PROBE_MS = 5
LIMIT_MS = 100.0


class Probe:
    def __init__(self):
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer = QTimer()
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, (now - self.last) * 1000 - PROBE_MS)
        self.last = now

    def reset(self) -> None:
        self.last, self.worst = time.perf_counter(), 0.0


def wait_until(app: QApplication, done, timeout_s: float = 600.0) -> float:
    started = time.perf_counter()
    while not done():
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError("the table did not settle")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("/tmp/musictagger-million/index.sqlite"))
    parser.add_argument("--postgresql", type=Path, metavar="DIR", help="bench_million.py's --dir")
    parser.add_argument("--scroll-pages", type=int, default=5)
    args = parser.parse_args()
    if args.postgresql is not None:
        library = _postgresql_index(args.postgresql)
    elif args.index.exists():
        library = open_library(args.index)
    else:
        raise SystemExit(f"{args.index} does not exist: run bench/bench_million.py --backends sqlite first")
    app = create_application([])  # the app's own set-up: its garbage collection and GIL switch interval
    model = LibraryModel(None)
    view = LibraryView(model)
    view.resize(1200, 800)
    view.show()
    probe = Probe()
    rows: list[tuple[str, float, float, int]] = []

    def phase(name: str, action) -> None:
        wait_until(app, lambda: not model.loading())
        probe.reset()
        shown: list[float] = []  # when the first page went in (the reset), before every id was read

        def first_page() -> None:
            if not shown:
                shown.append(time.perf_counter() - started)

        model.modelReset.connect(first_page)
        started = time.perf_counter()
        action()
        seconds = wait_until(app, lambda: not model.loading() and not model.runner.busy())
        model.modelReset.disconnect(first_page)
        for _ in range(20):  # let the view paint what arrived
            app.processEvents()
            time.sleep(PROBE_MS / 1000)
        rows.append((name, seconds, probe.worst, model.matching_count()))
        first = f"{shown[0] * 1000:6.0f} ms" if shown else "     - "
        print(f"{name:28} rows shown {first}  settled {seconds * 1000:8.0f} ms  longest stall "
              f"{probe.worst:6.1f} ms  ({model.matching_count():,} matching, {model.rowCount():,} loaded)",
              flush=True)  # fmt: skip

    def scroll() -> None:
        for _ in range(args.scroll_pages):
            view.table.scrollToBottom()
            wait_until(app, lambda: not model.loading())

    phase("open (first reset)", lambda: model.set_library(library))
    phase(f"scroll {args.scroll_pages} pages", scroll)
    phase("sort by BPM", lambda: view.table.sortByColumn(COL_BPM, Qt.SortOrder.AscendingOrder))
    phase("search 'midnight'", lambda: model.set_filter(TrackFilter(text="midnight")))
    phase(
        "genre+mood+BPM filter",
        lambda: model.set_filter(
            TrackFilter(genres=("Electronic",), moods=("Euphoric",), bpm=(120.0, 130.0))
        ),
    )
    phase("clear the filter", lambda: model.set_filter(TrackFilter()))
    worst = max(stall for _, _, stall, _ in rows)
    print(f"\nlongest GUI-thread stall {worst:.1f} ms (limit {LIMIT_MS:.0f} ms)")
    view.close()
    library.close()
    return 0


def _postgresql_index(folder: Path):
    """bench_million.py's PostgreSQL index under ``folder``, its server started as that bench starts it."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_million

    settings = argparse.Namespace(
        dir=folder, rebuild=False, tracks=1_000_000, pg_shared_buffers=bench_million._quarter_of_memory()
    )
    return bench_million._opened("postgresql", settings).__enter__()


if __name__ == "__main__":
    raise SystemExit(main())
