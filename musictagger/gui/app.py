"""Entry point of the desktop app: ``python -m musictagger.gui [--add-folder DIR] [TRACK]``."""

from __future__ import annotations

import gc
import sys

import pyqtgraph as pg
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtWidgets import QApplication

from musictagger.gui.main_window import MainWindow
from musictagger.gui.settings import AppSettings
from musictagger.gui.settings_dialog import apply_theme
from musictagger.gui.theme import apply_dark_theme

#: Seconds between the GUI thread's garbage-collection checks (each collects only the generations due).
GC_INTERVAL_S = 0.5
#: The GIL's switch interval in the app's process (Python's default: 5 ms). A thread that wants the GIL
#: while another runs Python waits this long before it may ask for it back. The GUI thread gives the GIL
#: up in most Qt calls (PySide releases it around them), so a repaint that makes a few dozen calls while a
#: worker thread runs Python (a review load, pyqtgraph's Python paint code vs a decoder loop) paid up to
#: 5 ms per call: 50-100 ms stalls made of waiting. 1 ms cut the longest stall during a 1,000-track
#: analysis from 41 to 22-26 ms (bench/bench_gui_stalls.py). Workers should lose little (their heavy work
#: is in torch and decoders, which release the GIL); not measured separately.
GIL_SWITCH_INTERVAL_S = 0.001


_collector: GarbageCollector | None = None


def collect_garbage_on_gui_thread() -> GarbageCollector:
    """Make Python's cyclic garbage collector run on the GUI thread only (idempotent).

    Automatic collection runs on whichever thread happens to allocate past the threshold. If that is a
    worker thread and the garbage holds a PySide6 wrapper (a dropped window's menu in a reference cycle),
    the wrapper is deallocated there, and Shiboken's deletion of the Qt object off the GUI thread can
    deadlock against the GUI thread (the GIL on one side, a Qt mutex on the other): the hang issue 11
    describes. So automatic collection is switched off and pyqtgraph's ``GarbageCollector`` collects on a
    GUI-thread timer instead, generation by generation as Python would. Everything alive at start-up is
    frozen out of the collector's view (``gc.freeze``), so a full collection only walks objects made
    since and stays short. Reference counting still frees acyclic objects at once, on any thread; the
    runner's rule (workers never hold Qt objects, gui/runner.py) covers that path.
    """
    global _collector
    if _collector is None:
        gc.collect()
        gc.freeze()
        _collector = GarbageCollector(interval=GC_INTERVAL_S)  # calls gc.disable()
    return _collector


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    collect_garbage_on_gui_thread()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app.setOrganizationName("musictagger")
    app.setApplicationName("musictagger")
    apply_dark_theme(app)
    pg.setConfigOptions(imageAxisOrder="col-major", antialias=True)
    return app


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    app = create_application(argv)
    window = MainWindow()
    apply_theme(app, AppSettings().theme)
    window.show()
    args = argv[1:]
    folders = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--add-folder"]
    tracks = [arg for arg in args if not arg.startswith("-") and arg not in folders]
    if folders:  # the same path as File ▸ Add music folder (scripted first runs, screenshots)
        window.add_folders(folders)
    if tracks:
        window.open_track(tracks[0])
    return app.exec()
