"""View ▸ Duplicates: the recordings the library holds in more than one file, the app's ``list --duplicates``.

A window beside the library (not modal: a DJ weeds copies out while looking at them), filled on its own
runner lane from services/similar.py's ``recordings_in_several_files`` (library/recordings.py finds copies
by sound), which hands back plain data. Each recording is a row with its files under it, lossless first,
then the larger, each with its format, size and what its genre and mood fields hold. Double-clicking a file
selects it in the library (or opens it, when the table's filter hides it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musictagger.gui.runner import Runner, TaskContext
from musictagger.gui.settings import AppSettings
from musictagger.library import Library
from musictagger.services.similar import RecordingFile, recordings_in_several_files, similarity_models

DUPLICATES_LANE = "duplicates"
COLUMNS = ("File", "Format", "Size", "Genre", "Mood")
TRACK_ID_ROLE = Qt.ItemDataRole.UserRole


def find_duplicates(ctx: TaskContext, library: Library, models: Sequence[str]) -> list[list[RecordingFile]]:
    """On the lane: every recording held in more than one file, as plain data."""
    ctx.check()
    with library.session() as session:
        return recordings_in_several_files(session, models=models)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"


class DuplicatesDialog(QDialog):
    """The recordings in several files, each with its files; ``track_activated`` on a double-click."""

    track_activated = Signal(int, str)

    def __init__(
        self, library: Library, runner: Runner, models: Sequence[str], parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle("Duplicates: the same recording in several files")
        self.library, self.runner, self.models = library, runner, tuple(models)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.refresh_button = QPushButton("Look again")
        self.refresh_button.clicked.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignRight)
        self.resize(900, 500)

    def refresh(self) -> None:
        self.status.setText("Looking for the same recording in several files…")
        self.refresh_button.setEnabled(False)
        self.runner.submit(
            DUPLICATES_LANE,
            find_duplicates,
            self.library,
            self.models,
            on_done=self._show,
            on_error=self._show_error,
            supersede=True,
        )

    def _show(self, groups: list[list[RecordingFile]]) -> None:
        self.refresh_button.setEnabled(True)
        self.tree.clear()
        for number, files in enumerate(groups, 1):
            heading = f"Recording {number}: {len(files)} files"
            length = _duration(files[0].duration_s)
            recording = QTreeWidgetItem([f"{heading}, {length}" if length else heading])
            for file in files:
                cells = [
                    file.path,
                    file.format_text,
                    f"{file.size / 1e6:.1f} MB",
                    "; ".join(file.genre) or "–",
                    "; ".join(file.mood) or "–",
                ]
                item = QTreeWidgetItem(cells)
                item.setData(0, TRACK_ID_ROLE, file.track_id)
                item.setToolTip(0, file.path)
                item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                recording.addChild(item)
            self.tree.addTopLevelItem(recording)
        self.tree.expandAll()
        for column in range(1, len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        if not groups:
            self.status.setText("No recording is in more than one file.")
            return
        extra = sum(len(files) - 1 for files in groups)
        self.status.setText(
            f"{len(groups)} recording{'s' * (len(groups) > 1)} in more than one file ({extra} "
            f"file{'s' * (extra > 1)} more than one per recording), found by sound: the same audio in "
            "another format or encoding. Double-click a file to select it in the library."
        )

    def _show_error(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.status.setText(f"Could not look for duplicates: {message}")

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        track_id = item.data(0, TRACK_ID_ROLE)
        if track_id is not None:
            self.track_activated.emit(int(track_id), item.text(0))

    def files_shown(self) -> list[list[str]]:
        """Each recording's file names as shown, for tests and the screenshot's reader."""
        return [
            [os.path.basename(group.child(i).text(0)) for i in range(group.childCount())]
            for group in (self.tree.topLevelItem(k) for k in range(self.tree.topLevelItemCount()))
        ]


class DuplicatesLauncher:
    """View ▸ Duplicates…: opens (or raises) the window, which looks again each time; disabled without a
    library. ``dialog`` is the window once opened."""

    def __init__(
        self,
        menu: QMenu,
        library: Library | None,
        runner: Runner,
        select_or_open: Callable[[int, str], None],
        parent: QWidget,
    ):
        self.library, self.runner, self.select_or_open, self.parent = library, runner, select_or_open, parent
        self.dialog: DuplicatesDialog | None = None
        self.action: QAction = menu.addAction("&Duplicates (same recording in several files)…")
        self.action.setEnabled(library is not None)
        self.action.triggered.connect(self.show)

    def show(self) -> None:
        if self.library is None:
            return
        if self.dialog is None:
            models = similarity_models(AppSettings().current)
            self.dialog = DuplicatesDialog(self.library, self.runner, models, self.parent)
            self.dialog.track_activated.connect(self.select_or_open)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.refresh()
