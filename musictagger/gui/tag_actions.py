"""Review and write in the main window: the review dock, and the Tags menu (write, undo, settings).

Kept apart from ``main_window.py`` so the window stays about browsing and listening; this module only
connects the window's selection to the review panel and the dialogs to the window's library.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu, QStatusBar, QWidget

from musictagger.gui.head_dialog import HeadDialog
from musictagger.gui.library_model import STILL_READING, LibraryModel
from musictagger.gui.library_view import LibraryView
from musictagger.gui.review_panel import ReviewPanel
from musictagger.gui.runner import Runner
from musictagger.gui.settings import AppSettings
from musictagger.gui.settings_dialog import SettingsDialog, apply_theme
from musictagger.gui.track_view import TrackView
from musictagger.gui.worker import AnalysisWorker
from musictagger.gui.write_dialog import WriteDialog, undo_last_batch
from musictagger.library.db import Library


class TagActionsHost(Protocol):
    """What the Tags menu needs of its window (MainWindow is one); named here so that this module never
    imports main_window.py, which imports this one."""

    library: Library | None
    library_model: LibraryModel
    library_view: LibraryView
    runner: Runner
    settings: QSettings
    tags_menu: QMenu
    track_view: TrackView
    worker: AnalysisWorker

    def add_side_panel(self, widget: QWidget, title: str) -> QDockWidget: ...
    def apply_display_settings(self) -> None: ...
    def refresh_library(self) -> None: ...
    def refresh_mood_map(self) -> None: ...
    def show_error(self, text: str) -> None: ...
    def statusBar(self) -> QStatusBar: ...


class TagActions:
    """Owns the review panel and the Tags menu's actions of one main window."""

    def __init__(self, window: TagActionsHost):
        self.window = window
        self.app_settings = AppSettings()
        self.review_panel: ReviewPanel | None = None
        self.head_dialog: HeadDialog | None = None
        menu = window.tags_menu

        self.write_selection_action = QAction("&Write tags of selected tracks…", window)
        self.write_selection_action.setShortcut(QKeySequence("Ctrl+W"))
        self.write_selection_action.triggered.connect(lambda: self.open_write_dialog(selected_only=True))
        self.write_shown_action = QAction("Write tags of all &shown tracks…", window)
        self.write_shown_action.triggered.connect(lambda: self.open_write_dialog(selected_only=False))
        self.undo_action = QAction("&Undo last write batch…", window)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self.undo_action.triggered.connect(self.undo_last)
        self.learn_action = QAction("&Learn my genres / moods…", window)
        self.learn_action.setToolTip("train a head on the genres or moods in your tags and reviews")
        self.learn_action.triggered.connect(self.open_head_dialog)
        self.settings_action = QAction("Se&ttings…", window)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.settings_action.triggered.connect(self.open_settings)
        for action in (self.write_selection_action, self.write_shown_action, self.undo_action):
            action.setEnabled(window.library is not None)
            menu.addAction(action)
        menu.addSeparator()
        self.learn_action.setEnabled(window.library is not None)
        menu.addAction(self.learn_action)
        menu.addSeparator()
        menu.addAction(self.settings_action)

        if window.library is not None:
            self.review_panel = ReviewPanel(
                window.library,
                window.track_view.vocabulary,
                self.app_settings.selection_policy(),
                self.app_settings.write_policy(),
                runner=window.runner,
            )
            # Narrow is fine (values wrap, lists scroll); a wide minimum would force the window wider.
            self.review_panel.setMinimumWidth(160)
            window.add_side_panel(self.review_panel, "Review")
            window.library_view.track_selected.connect(lambda *_: self.show_selection())
            self.review_panel.review_changed.connect(lambda ids: self._refresh_rows(ids))

    def open_head_dialog(self) -> HeadDialog:
        dialog = HeadDialog(self.window.library, self.window, runner=self.window.runner)
        dialog.head_saved.connect(self._head_saved)
        self.head_dialog = dialog  # kept: its cross-validation may still be running when it is closed
        dialog.open()
        return dialog

    def _head_saved(self, name: str) -> None:
        self.window.worker.reload_heads()
        self.window.refresh_mood_map()
        self.window.statusBar().showMessage(f"Head '{name}' saved: it now runs on every track you open", 8000)

    def show_selection(self) -> None:
        if self.review_panel is not None:
            self.review_panel.show_tracks(self.window.library_view.selected_track_ids())

    def refresh_review(self, track_id: int) -> None:
        if self.review_panel is not None:
            self.review_panel.refresh(track_id)

    def open_write_dialog(self, *, selected_only: bool) -> WriteDialog | None:
        """The dry-run diff of the selected (or all shown) tracks first; writing only on request."""
        window = self.window
        if window.library is None:
            return None
        if selected_only:
            track_ids = window.library_view.selected_track_ids()
        else:
            track_ids = window.library_model.track_ids()
            if track_ids is None:
                window.statusBar().showMessage(STILL_READING, 5000)
                return None
        if not track_ids:
            window.show_error("Select the tracks to write first")
            return None
        dialog = WriteDialog(
            window.library,
            window.track_view.vocabulary,
            track_ids,
            self.app_settings.write_policy(),
            parent=window,
            runner=window.runner,
        )
        dialog.finished_writing.connect(lambda _report: window.refresh_library())
        dialog.open()
        return dialog

    def undo_last(self, *, ask: bool = True) -> None:
        if self.window.library is None:
            return
        window = self.window

        def undone(report) -> None:
            window.statusBar().showMessage(f"Undo: {report.written} files restored", 8000)
            window.refresh_library()

        undo_last_batch(window.runner, window.library, window, ask=ask, on_done=undone)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(parent=self.window)
        dialog.settings_saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def _settings_saved(self) -> None:
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, self.app_settings.theme)
        self.window.apply_display_settings()
        if self.review_panel is not None:  # what it shows and what it says a write does
            prefs = self.app_settings
            self.review_panel.set_policies(prefs.selection_policy(), prefs.write_policy())
        self.window.statusBar().showMessage(
            "Settings saved. Write policies apply now; device and model changes from the next start.", 8000
        )
        if self.review_panel is not None:
            self.review_panel.selection = self.app_settings.selection_policy()
            self.show_selection()

    def _refresh_rows(self, track_ids: list[int]) -> None:
        self.window.library_model.refresh_tracks(track_ids)
