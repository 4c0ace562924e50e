"""Entry point of the desktop app: ``python -m musictagger.gui [TRACK]``."""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from musictagger.gui.main_window import MainWindow
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
    window.show()
    tracks = [arg for arg in argv[1:] if not arg.startswith("-")]
    if tracks:
        window.open_track(tracks[0])
    return app.exec()
