"""File ▸ Export: the selected tracks (or, with one or none selected, every track the filter shows) as a
Rekordbox XML or Traktor NML collection, Serato crates or an M3U8 playlist, through the same services as
``export`` on the command line.

The file is chosen on the GUI thread; the export runs on the runner's ``export`` lane with plain data (the
library, the settings, the ids) and reports back in the status bar.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Protocol

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QStatusBar, QWidget

from musictagger.gui.library_model import STILL_READING, LibraryModel
from musictagger.gui.library_view import LibraryView
from musictagger.gui.runner import Runner
from musictagger.gui.settings import AppSettings
from musictagger.library.db import Library
from musictagger.services.export import CollectionExport, export_collection_tracks, export_playlist_tracks
from musictagger.taxonomy import load_vocabulary

LANE = "export"
log = logging.getLogger("musictagger.gui.export")
FILE_TYPES = {
    "rekordbox": (".xml", "Rekordbox XML (*.xml)"),
    "traktor": (".nml", "Traktor NML (*.nml)"),
    "m3u8": (".m3u8", "M3U8 playlist (*.m3u8)"),
}


class ExportHost(Protocol):
    """What the export actions need of their window (MainWindow is one)."""

    library: Library | None
    library_model: LibraryModel
    library_view: LibraryView
    runner: Runner

    def show_error(self, text: str) -> None: ...
    def statusBar(self) -> QStatusBar: ...


class ExportActions:
    """The Export submenu of one window."""

    def __init__(self, window: ExportHost, menu: QMenu, parent: QWidget):
        self.window = window
        self.menu = menu
        self.rekordbox_action = QAction("Rekordbox &XML…", parent)
        self.rekordbox_action.setToolTip(
            "The selected tracks (or all shown) with genre, mood block, BPM and key, and playlists per "
            "genre and mood: Rekordbox, Lexicon and other DJ software import it"
        )
        self.rekordbox_action.triggered.connect(lambda: self.export("rekordbox"))
        self.traktor_action = QAction("&Traktor NML…", parent)
        self.traktor_action.setToolTip(
            "The same collection and playlists for Traktor (right-click Playlists ▸ Import Playlist)"
        )
        self.traktor_action.triggered.connect(lambda: self.export("traktor"))
        self.serato_action = QAction("&Serato crates…", parent)
        self.serato_action.setToolTip(
            "The same playlists as crates in a _Serato_ folder (~/Music/_Serato_, or a USB drive's): Serato "
            "shows them at its next start and reads the tags from the files"
        )
        self.serato_action.triggered.connect(lambda: self.export("serato"))
        self.m3u8_action = QAction("&M3U8 playlist…", parent)
        self.m3u8_action.triggered.connect(lambda: self.export("m3u8"))
        for action in (self.rekordbox_action, self.traktor_action, self.serato_action, self.m3u8_action):
            action.setEnabled(window.library is not None)
            menu.addAction(action)

    def scope(self) -> tuple[list[int], str]:
        """The ids to export and what they are, in words: several selected rows, else the filtered view."""
        selected = self.window.library_view.selected_track_ids()
        if len(selected) > 1:
            return selected, f"{len(selected)} selected tracks"
        shown = self.window.library_model.track_ids()
        if shown is None:  # the table is still reading its ids: nothing yet, said so
            return [], STILL_READING
        return shown, f"{len(shown)} tracks shown"

    def export(self, kind: str, path: str | None = None) -> bool:
        """Ask where (unless ``path`` is given), then export in the background; False if nothing to do."""
        library = self.window.library
        ids, what = self.scope()
        if library is None or not ids:
            nothing = STILL_READING if what == STILL_READING else "Nothing to export: the view is empty."
            self.window.statusBar().showMessage(nothing, 5000)
            return False
        if path is None and kind == "serato":
            path = QFileDialog.getExistingDirectory(
                self.window if isinstance(self.window, QWidget) else None,
                f"Export {what} as crates into which _Serato_ folder?",
                os.path.expanduser("~/Music/_Serato_"),
            )
            if not path:
                return False
        if path is None:
            suffix, pattern = FILE_TYPES[kind]
            path, _ = QFileDialog.getSaveFileName(
                self.window if isinstance(self.window, QWidget) else None,
                f"Export {what}",
                os.path.expanduser(f"~/musictagger{suffix}"),
                pattern,
            )
            if not path:
                return False
        task = _export_m3u8 if kind == "m3u8" else partial(_export_collection, software=kind)
        self.window.statusBar().showMessage(f"Exporting {what}…")
        self.window.runner.submit(
            LANE,
            task,
            library,
            path,
            ids,
            on_done=lambda message: self.window.statusBar().showMessage(message, 10000),
            on_error=lambda message: self.window.show_error(f"Export failed: {message}"),
        )
        return True


def _export_collection(_ctx, library: Library, path: str, ids: list[int], software: str) -> str:
    """Runs on the export lane: the collection for ``software`` ("rekordbox", "traktor", "serato"), and
    the status bar's line."""
    result = export_collection_tracks(
        library, load_vocabulary(), AppSettings().current, path, ids, software=software
    )
    return _said(result, software.capitalize())


def _said(result: CollectionExport, software: str) -> str:
    """The status bar's line for a collection export; each track left out goes to the log."""
    for note in result.notes:
        log.warning("%s export: %s", software, note)
    left_out = f"; {len(result.notes)} left out (see the log)" if result.notes else ""
    lists = "crates" if software == "Serato" else "playlists"
    return f"Exported {result.tracks} tracks and {result.playlists} {lists} to {result.path}{left_out}"


def _export_m3u8(_ctx, library: Library, path: str, ids: list[int]) -> str:
    written, count, notes = export_playlist_tracks(library, path, ids)
    for note in notes:
        log.warning("M3U8 export: %s", note)
    left_out = f"; {len(notes)} left out (see the log)" if notes else ""
    return f"Exported {count} tracks to {written}{left_out}"
