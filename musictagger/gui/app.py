"""Entry point of the desktop app: ``python -m musictagger.gui [--add-folder DIR] [TRACK]``."""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from musictagger.gui.main_window import MainWindow
from musictagger.gui.settings import AppSettings
from musictagger.gui.settings_dialog import apply_theme
from musictagger.gui.theme import apply_dark_theme


def create_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    app.setOrganizationName("musictagger")
    app.setApplicationName("musictagger")
    apply_dark_theme(app)
    pg.setConfigOptions(imageAxisOrder="col-major", antialias=True)
    return app


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    app = create_application(argv)
    window = MainWindow()
    apply_theme(app, AppSettings(window.settings).theme)
    window.show()
    args = argv[1:]
    folders = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--add-folder"]
    tracks = [arg for arg in args if not arg.startswith("-") and arg not in folders]
    if folders:  # the same path as File ▸ Add music folder (scripted first runs, screenshots)
        window.add_folders(folders)
    if tracks:
        window.open_track(tracks[0])
    return app.exec()
