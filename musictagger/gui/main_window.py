"""The main window: facets left, the library (table / mood map) centre, the track view below, transport on
top, progress and device at the bottom. A right-hand dock area and the Tags menu are left for the review
and write panels (``add_side_panel``, ``tags_menu``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from musictagger.about import about_text
from musictagger.audio import AUDIO_EXTENSIONS
from musictagger.gui import theme
from musictagger.gui.duplicates_dialog import DuplicatesLauncher
from musictagger.gui.export_actions import ExportActions
from musictagger.gui.facets import FacetPanel
from musictagger.gui.library_model import LibraryModel
from musictagger.gui.library_rows import mood_points
from musictagger.gui.library_view import EmptyLibrary, LibraryView
from musictagger.gui.library_worker import LANE as LIBRARY_WORKER_LANE
from musictagger.gui.library_worker import EtaClock, LibraryWorker
from musictagger.gui.mood_map import MoodMap
from musictagger.gui.player import Player
from musictagger.gui.runner import Runner, Task
from musictagger.gui.settings import AppSettings
from musictagger.gui.similar_panel import add_similar_panel
from musictagger.gui.tag_actions import TagActions
from musictagger.gui.track_view import TrackView, format_time
from musictagger.gui.worker import AnalysisWorker, LazyModels
from musictagger.library.db import Library, LibraryError, default_url, open_library
from musictagger.library.queries import facet_counts
from musictagger.library.schema import Track
from musictagger.library.store import keep_viewed_analysis
from musictagger.library.track_filter import TrackFilter
from musictagger.logs import configure_logging
from musictagger.services.folders import (
    add_folders,
    is_empty,
    library_folders,
    normalise_folder,
    remove_folder,
)

LIVE_REFRESH_MS = 1500  # facets and mood map follow the analysis at most this often
FACETS_WIDTH = 220  # px: genre names and counts stay legible
# Runner lanes of the window's own queries (gui/runner.py); the library lane is the scans' own, so
# folder changes run in order with them.
LIBRARY_LANE = LIBRARY_WORKER_LANE
VIEW_LANE = "library-summary"
TRACK_LOOKUP_LANE = "track-lookup"
MOOD_MAP_LANE = "mood-map"
KEEP_ANALYSIS_LANE = "keep-analysis"


@dataclass(frozen=True)
class LibrarySummary:
    """What the window shows about the whole library: read on a worker, shown on the GUI thread."""

    empty: bool  # no track indexed
    folders: tuple[str, ...]
    genre_counts: list[tuple[str, int]]
    mood_counts: list[tuple[str, int]]


def _library_summary(_ctx, library: Library) -> LibrarySummary:
    with library.session() as session:
        # What a DJ can trust: genres and moods at their calibrated thresholds, styles as strong hints;
        # counts the database keeps as labels change (a millisecond on a million tracks).
        genres = facet_counts(session, "genre")
        moods = facet_counts(session, "mood")
    return LibrarySummary(is_empty(library), tuple(library_folders(library)), genres, moods)


def _keep_viewed(_ctx, library: Library, path: str, analysis, models: LazyModels) -> int | None:
    loaded = models.get()  # loaded already: they made ``analysis``
    return keep_viewed_analysis(library, path, analysis, loaded.analyzer.cards, loaded.vocabulary)


def _mood_points(_ctx, library: Library, track_filter: TrackFilter):
    with library.session() as session:
        return mood_points(session, track_filter)


def _add_folders(_ctx, library: Library, folders: list[str]) -> list[str]:
    return add_folders(library, folders)


def _remove_folder(_ctx, library: Library, folder: str) -> int:
    return remove_folder(library, folder)


def default_settings() -> QSettings:
    return QSettings("musictagger", "musictagger")


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: QSettings | None = None,
        *,
        device: str | None = None,
        playback: bool = True,
        library: Library | str | os.PathLike | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("MainWindow")  # restoreState needs stable object names
        self.setWindowTitle("musictagger")
        self.setAcceptDrops(True)
        self.settings = settings or default_settings()
        self.current_path: str | None = None
        self._folders: list[str] = []
        self._folders_unknown = True  # until the first summary has read them from the index

        self.library = self._open_library(library)
        # settings.toml (as the CLI reads it); self.settings (QSettings) keeps only the layout. A device
        # forced by the caller (tests, scripts) wins over the file. A change in the Settings dialog
        # applies from the next start (the models are loaded once).
        user_settings = AppSettings().current
        if device is not None:
            user_settings = user_settings.replace(analysis={"device": device})
        device = user_settings.analysis.device
        # Every background job of the window (and of its dialogs) goes through this one runner.
        self.runner = Runner(self)
        self.track_view = TrackView()
        self.track_view.explainer.device = device
        self.worker = AnalysisWorker(self, settings=user_settings, runner=self.runner)
        self.player = Player(self, enabled=playback)
        self.library_worker = (
            LibraryWorker(self.library, self, settings=user_settings, runner=self.runner)
            if self.library
            else None
        )
        self._build_library_layout()

        self._build_actions()
        self._build_status_bar()
        self._connect()
        self._connect_library()
        self.tag_actions = TagActions(
            self
        )  # review dock + Tags menu; before restoreState, which places docks
        self.similar_panel = add_similar_panel(self)  # "More like this", tabbed with the review dock
        self.apply_display_settings()
        self.refresh_library()
        self.resize(1280, 760)
        self.restore_window_state()
        self.worker.warm_up()  # load the models now, in the background, so the first track starts at once

    # -- construction -----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.open_action = QAction("&Open track…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_action.triggered.connect(self.choose_track)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.add_folder_action = QAction("&Add music folder…", self)
        self.add_folder_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.add_folder_action.triggered.connect(self.choose_folder)
        self.rescan_action = QAction("&Rescan library", self)
        self.rescan_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.rescan_action.triggered.connect(self.rescan)
        self.remove_folder_menu = QMenu("Re&move folder from library", self)
        self.remove_folder_menu.aboutToShow.connect(self._fill_remove_folder_menu)
        for action in (self.add_folder_action, self.rescan_action):
            action.setEnabled(self.library is not None)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        file_menu.addAction(self.add_folder_action)
        file_menu.addAction(self.rescan_action)
        file_menu.addMenu(self.remove_folder_menu)
        file_menu.addSeparator()
        self.export_actions = ExportActions(self, file_menu.addMenu("&Export selected or shown tracks"), self)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        self.search_action = QAction("Search library", self)
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self._focus_search)
        self.addAction(self.search_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.facets_dock.toggleViewAction())
        view_menu.addAction(self.search_action)
        view_menu.addSeparator()
        self.duplicates = DuplicatesLauncher(view_menu, self.library, self.runner, self._select_or_open, self)
        # -- plug-in point: review / settings / write dialogs add their actions to this menu --------------
        self.tags_menu = self.menuBar().addMenu("&Tags")
        help_menu = self.menuBar().addMenu("&Help")
        self.open_log_action = help_menu.addAction("Open &log folder")
        self.open_log_action.setToolTip("the app's log files, to attach to a bug report")
        self.open_log_action.triggered.connect(self.open_log_folder)
        help_menu.addSeparator()
        self.about_action = help_menu.addAction("&About musictagger")
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)

        self.play_action = QAction("▶ Play", self)
        self.play_action.setShortcut(Qt.Key.Key_Space)
        # Space works wherever focus is in the window, as in every DJ app.
        self.play_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.play_action.triggered.connect(self.player.toggle)
        if self.player.available:
            self.play_action.setToolTip("Play / pause (Space)")
        else:
            self.play_action.setEnabled(False)
            self.play_action.setToolTip(self.player.unavailable_reason)
        self.addAction(self.play_action)

        toolbar = QToolBar("Transport")
        toolbar.setObjectName("transportToolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.add_folder_action)
        toolbar.addSeparator()
        toolbar.addAction(self.play_action)
        self.time_label = QLabel("0:00 / 0:00")
        toolbar.addWidget(self.time_label)
        self.addToolBar(toolbar)
        self.play_button = toolbar.widgetForAction(self.play_action)

    def _build_status_bar(self) -> None:
        # Persistent labels rather than showMessage(): a message must stay until the next state change.
        self.status_label = QLabel("Ready")
        self.device_label = QLabel("Device: loading models…")
        self.device_label.setObjectName("statusDevice")
        self.library_label = QLabel("")
        self.library_label.setObjectName("statusLibrary")
        self.pause_action = QAction("Pause", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setToolTip("Pause the library analysis after the current track")
        self.pause_action.toggled.connect(self._on_pause_toggled)
        self.cancel_action = QAction("Cancel", self)
        self.cancel_action.setToolTip("Stop the library analysis; what is done stays done")
        self.cancel_action.triggered.connect(self.cancel_library_work)
        self.pause_button = QToolButton()
        self.pause_button.setDefaultAction(self.pause_action)
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(self.cancel_action)
        self._set_library_busy(False)
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addPermanentWidget(self.library_label)
        self.statusBar().addPermanentWidget(self.pause_button)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.statusBar().addPermanentWidget(self.device_label)

    def _connect(self) -> None:
        self.worker.started.connect(self._on_analysis_started)
        self.worker.chunk.connect(self.track_view.add_chunk)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_analysis_finished)
        self.worker.failed.connect(self._on_analysis_failed)
        self.worker.device_ready.connect(self._on_device_ready)
        self.track_view.seek_requested.connect(self.player.seek)
        self.player.position_changed.connect(self._on_position)
        self.player.playing_changed.connect(
            lambda playing: self.play_action.setText("❚❚ Pause" if playing else "▶ Play")
        )
        self.player.error.connect(lambda message: self.show_error(f"Playback: {message}"))

    # -- help -----------------------------------------------------------------------------------------

    def open_log_folder(self) -> bool:
        folder = configure_logging(console=False)  # makes sure the folder exists; keeps the handlers
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def show_about(self) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About musictagger", about_text(), parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        return box

    # -- opening tracks -----------------------------------------------------------------------------

    def choose_track(self) -> None:
        start = str(self.settings.value("last_directory", os.path.expanduser("~")))
        patterns = " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(
            self, "Open track", start, f"Audio files ({patterns});;All files (*)"
        )
        if path:
            self.settings.setValue("last_directory", os.path.dirname(path))
            self.open_track(path)

    def open_track(self, path: str | os.PathLike) -> None:
        path = os.fspath(path)
        self.current_path = path
        self.track_view.show()
        self.set_status(f"Analysing {os.path.basename(path)}…")
        self.player.set_source(path)
        self.worker.analyse(path)

    def _select_or_open(self, track_id: int, path: str) -> None:
        """Select a track in the library table; open it when the table's filter hides it."""
        self.library_view.select_track(track_id, otherwise=lambda: self.open_track(path))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        folders = [path for path in paths if os.path.isdir(path)]
        files = [path for path in paths if not os.path.isdir(path)]
        if folders and self.library is not None:
            event.acceptProposedAction()
            self.add_folders(folders)
        elif files:
            event.acceptProposedAction()
            self.open_track(files[0])

    # -- analysis results -----------------------------------------------------------------------------

    def _on_analysis_started(self, path: str, expected_frames: int, frame_seconds: float) -> None:
        self.track_view.begin(path, expected_frames, frame_seconds)
        self._duration_s = expected_frames * frame_seconds
        self._update_time_label(0.0)

    def _on_progress(self, path: str, fraction: float) -> None:
        self.set_status(f"Analysing {os.path.basename(path)}… {fraction:.0%}".replace("%", " %"))

    def _on_analysis_finished(self, path: str, analysis) -> None:
        self.track_view.show_analysis(analysis)
        self._duration_s = analysis.duration_s
        self._update_time_label(self.player.position_seconds())
        # What a write would take (as the table's columns), not every suggestion shown.
        genres = ", ".join(self.track_view.suggestions.genres.confident_labels()) or "no confident genre"
        moods = ", ".join(self.track_view.suggestions.moods.confident_labels()) or "no confident mood"
        self.set_status(f"{os.path.basename(path)}: {genres} · {moods}")
        if self.library is not None:
            # The track view's full analysis replaces library mode's in the index: the review panel and a
            # write then go by the scores shown here.
            self.runner.submit(
                KEEP_ANALYSIS_LANE,
                _keep_viewed,
                self.library,
                path,
                analysis,
                self.worker.models,
                on_done=self._on_viewed_analysis_kept,
            )

    def _on_viewed_analysis_kept(self, track_id: int | None) -> None:
        if track_id is None:
            return
        self.library_model.refresh_tracks([track_id])
        self.tag_actions.refresh_review(track_id)
        self._refresh_summaries()

    def _on_analysis_failed(self, path: str, message: str) -> None:
        self.track_view.clear(f"Could not analyse {os.path.basename(path)}")
        self.player.set_source(None)
        self.current_path = None
        self.show_error(f"Could not analyse {os.path.basename(path)}: {message}")

    def _on_device_ready(self, name: str) -> None:
        self.device_label.setText(f"Device: {name}")

    # -- status ---------------------------------------------------------------------------------------

    def set_status(self, text: str) -> None:
        self.status_label.setStyleSheet("")
        self.status_label.setText(text)
        self.status_label.setToolTip(text)

    def show_error(self, text: str) -> None:
        self.status_label.setStyleSheet(f"color: {theme.ERROR};")
        self.status_label.setText(text)
        self.status_label.setToolTip(text)

    def status_text(self) -> str:
        return self.status_label.text()

    # -- playback ---------------------------------------------------------------------------------------

    _duration_s = 0.0

    def _on_position(self, seconds: float) -> None:
        self.track_view.set_playhead(seconds)
        self._update_time_label(seconds)

    def _update_time_label(self, seconds: float) -> None:
        self.time_label.setText(f"{format_time(seconds)} / {format_time(self._duration_s)}")

    # -- window state -----------------------------------------------------------------------------------

    def restore_window_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def save_window_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_window_state()
        self.player.stop()
        self.worker.shutdown()
        if self.library_worker is not None:
            self.library_worker.shutdown()
        self.runner.shutdown()  # a write or undo in flight finishes its file first
        super().closeEvent(event)

    # -- the library: layout ------------------------------------------------------------------------------

    def _open_library(self, library: Library | str | os.PathLike | None) -> Library | None:
        if isinstance(library, Library):
            return library
        try:
            return open_library(library or default_url())
        except LibraryError as exc:
            # The window still opens single tracks; the status bar says why the library is off.
            self._library_error = str(exc)
            return None

    _library_error = ""

    def _build_library_layout(self) -> None:
        self.library_model = LibraryModel(
            self.library, self, runner=self.runner, style_families=self.track_view.vocabulary.style_families
        )
        self.library_view = LibraryView(self.library_model)
        self.mood_map = MoodMap()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("libraryTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.library_view, "Tracks")
        self.tabs.addTab(self.mood_map, "Mood map")
        self.empty_state = EmptyLibrary()
        self.library_stack = QStackedWidget()
        self.library_stack.addWidget(self.empty_state)
        self.library_stack.addWidget(self.tabs)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("librarySplitter")
        self.splitter.addWidget(self.library_stack)
        self.splitter.addWidget(self.track_view)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([480, 340])  # the taggram's label column needs ~300 px to stay legible
        self.setCentralWidget(self.splitter)

        self.facets = FacetPanel(style_families=self.track_view.vocabulary.style_families)
        self.facets_dock = QDockWidget("Browse", self)
        self.facets_dock.setObjectName("facetsDock")
        self.facets_dock.setWidget(self.facets)
        self.facets_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.facets_dock)
        # Until the first summary arrives (in the background) the window looks as for an empty library.
        self.facets_dock.hide()

        # Facet counts and the mood map follow a running analysis, throttled.
        self._live_refresh = QTimer(self)
        self._live_refresh.setSingleShot(True)
        self._live_refresh.setInterval(LIVE_REFRESH_MS)
        self._live_refresh.timeout.connect(self._refresh_summaries)
        self._mood_map_stale = True

    def apply_display_settings(self) -> None:
        """What settings.toml's [display] says about showing things, applied now (also after the dialog)."""
        notation = AppSettings().current.display.key_notation
        self.library_model.set_key_notation(notation)
        self.facets.set_key_notation(notation)

    def add_side_panel(self, widget: QWidget, title: str) -> QDockWidget:
        """Plug-in point for the review panel (and others): a dock on the right, listed in View."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{widget.objectName() or title}Dock")
        # In a scroll area: a panel whose content grows (a selection's suggestions) scrolls instead of
        # asking the window for room, which re-laid out the docks and the track view's plots on every
        # selection (tens of ms of GUI-thread work).
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _connect_library(self) -> None:
        self.empty_state.add_folder_requested.connect(self.choose_folder)
        self.facets.changed.connect(lambda *_: self._apply_filter())
        self.library_view.search_changed.connect(lambda *_: self._apply_filter())
        self.library_view.track_selected.connect(self._on_track_selected)
        self.mood_map.track_clicked.connect(self.play_track)
        self.tabs.currentChanged.connect(lambda *_: self._refresh_mood_map_if_shown())
        worker = self.library_worker
        if worker is None:
            return
        worker.scan_progress.connect(self._on_scan_progress)
        worker.scan_finished.connect(lambda _report: self.refresh_library())
        worker.analysis_started.connect(self._on_library_analysis_started)
        worker.track_analysed.connect(self._on_track_analysed)
        worker.finished.connect(self._on_library_finished)
        worker.failed.connect(lambda message: self.show_error(f"Library: {message}"))
        worker.device_ready.connect(self._on_device_ready)
        worker.busy_changed.connect(self._set_library_busy)

    # -- the library: folders --------------------------------------------------------------------------
    # The folder list lives in the index (services/folders.py). The window keeps a copy, read once in
    # the background at start and updated by its own changes; every change to the index runs on the
    # runner's library lane, in order with the scans.

    def folders(self) -> list[str]:
        return list(self._folders)

    def choose_folder(self) -> None:
        start = str(self.settings.value("last_directory", os.path.expanduser("~")))
        folder = QFileDialog.getExistingDirectory(self, "Add music folder", start)
        if folder:
            self.settings.setValue("last_directory", folder)
            self.add_folders([folder])

    def add_folders(self, folders: list[str | os.PathLike]) -> None:
        """Remember the folders, then scan and analyse them in the background (the menu, drops, CLI)."""
        if self.library is None or self.library_worker is None:
            self.show_error(f"The library is not available: {self._library_error}")
            return
        added = [normalise_folder(folder) for folder in folders]
        self._folders += [folder for folder in added if folder not in self._folders]
        self.runner.submit(LIBRARY_LANE, _add_folders, self.library, added)
        self.library_stack.setCurrentWidget(self.tabs)
        self._show_facets(True)
        self.track_view.show()
        self.set_library_status(f"Scanning {', '.join(os.path.basename(f) or f for f in added)}…")
        self.library_worker.start(added)

    def rescan(self) -> None:
        if self.library_worker is not None:
            self.set_library_status("Scanning the library…")
            self.library_worker.start(self.folders())

    def remove_folder(self, folder: str) -> Task | None:
        """Forget ``folder``'s tracks in the index, in the background (the files stay untouched)."""
        if self.library is None:
            return None
        if self.library_worker is not None and self.library_worker.is_busy():
            self.show_error("Wait for the scan to finish (or cancel it) before removing a folder")
            return None
        path = normalise_folder(folder)
        self._folders = [known for known in self._folders if known != path]

        def removed(count: int) -> None:
            self.refresh_library()
            self.set_status(f"Removed {count} tracks of {folder} from the library (files untouched)")

        return self.runner.submit(
            LIBRARY_LANE,
            _remove_folder,
            self.library,
            path,
            on_done=removed,
            on_error=lambda message: self.show_error(f"Could not remove {folder}: {message}"),
        )

    def _fill_remove_folder_menu(self) -> None:
        self.remove_folder_menu.clear()
        folders = self.folders()
        if not folders:
            self.remove_folder_menu.addAction("No folders").setEnabled(False)
        for folder in folders:
            action = self.remove_folder_menu.addAction(folder)
            action.triggered.connect(lambda _checked=False, f=folder: self.remove_folder(f))

    # -- the library: what is shown ------------------------------------------------------------------------

    def refresh_library(self) -> None:
        """Re-read the table, facets and mood map from the index (after a scan, a removal, at start)."""
        self.library_model.reload()
        self._refresh_summaries()

    def _show_summary(self, summary: LibrarySummary) -> None:
        if self._folders_unknown:  # the first summary brings the folder list stored in the index
            added_meanwhile = [folder for folder in self._folders if folder not in summary.folders]
            self._folders, self._folders_unknown = [*summary.folders, *added_meanwhile], False
        empty = summary.empty and not self._folders
        self.library_stack.setCurrentWidget(self.empty_state if empty else self.tabs)
        # First run: the add-folder action alone, in the middle of the window; the rest comes with music.
        self._show_facets(not empty)
        self.track_view.setVisible(not empty or self.current_path is not None)
        self.facets.genres.set_counts(summary.genre_counts)
        self.facets.moods.set_counts(summary.mood_counts)

    def _show_facets(self, shown: bool) -> None:
        if shown and not self.facets_dock.isVisible():
            self.facets_dock.show()
            self.resizeDocks([self.facets_dock], [FACETS_WIDTH], Qt.Orientation.Horizontal)
        elif not shown:
            self.facets_dock.hide()

    def current_filter(self) -> TrackFilter:
        return TrackFilter(
            genres=tuple(self.facets.genres.checked()),
            moods=tuple(self.facets.moods.checked()),
            without=self.facets.without(),
            text=self.library_view.search.text(),
            energy=self.facets.energy_range(),
            bpm=self.facets.bpm_range(),
            keys=self.facets.harmonic_keys(),
        )

    def _apply_filter(self) -> None:
        self.library_model.set_filter(self.current_filter())
        self._mood_map_stale = True
        self._refresh_mood_map_if_shown()

    def _refresh_summaries(self) -> None:
        """Facet counts and whether the library is empty, read in the background (the newest wins)."""
        if self.library is not None:
            self.runner.submit(
                VIEW_LANE, _library_summary, self.library, on_done=self._show_summary, supersede=True
            )
        else:
            self._show_summary(LibrarySummary(True, (), [], []))
        self._mood_map_stale = True
        self._refresh_mood_map_if_shown()

    def refresh_mood_map(self) -> None:
        """Redraw the mood map now if it is shown, else when it is next shown (e.g. a new mood head)."""
        self._mood_map_stale = True
        self._refresh_mood_map_if_shown()

    def _refresh_mood_map_if_shown(self) -> None:
        # The map reads every analysed track: only when someone is looking, and in the background.
        if self._mood_map_stale and self.library is not None and self.tabs.currentWidget() is self.mood_map:
            self._mood_map_stale = False
            self.runner.submit(
                MOOD_MAP_LANE,
                _mood_points,
                self.library,
                self.current_filter(),
                on_done=self.mood_map.set_points,
                supersede=True,
            )

    def _focus_search(self) -> None:
        self.tabs.setCurrentWidget(self.library_view)
        self.library_view.search.setFocus()
        self.library_view.search.selectAll()

    def _on_track_selected(self, track_id: int, path: str) -> None:
        row = self.library_model.row_for(track_id)
        self.facets.set_selected_key(row.key if row is not None else None)
        if path != self.current_path:
            self.open_track(path)

    def play_track(self, track_id: int) -> None:
        """The mood map's click: select the track's row (when the filter shows it), open it and play."""
        self.library_view.select_track(track_id, otherwise=lambda: self._open_hidden_and_play(track_id))
        self._play_opened()

    def _open_hidden_and_play(self, track_id: int) -> None:
        if self.library is not None:  # hidden by the filter: its path comes from the index, off this thread
            self.runner.submit(
                TRACK_LOOKUP_LANE,
                _track_path,
                self.library,
                track_id,
                on_done=self._open_and_play,
                supersede=True,
            )

    def _open_and_play(self, path: str | None) -> None:
        if path is not None:
            self.open_track(path)
            self._play_opened()

    def _play_opened(self) -> None:
        if self.player.available and not self.player.is_playing():
            self.player.toggle()

    # -- the library: background work ------------------------------------------------------------------------

    _analysis_total = 0
    _analysis_done = 0

    def set_library_status(self, text: str) -> None:
        # While paused every status says so, also one set by a run started in the paused state.
        paused = self.library_worker is not None and self.library_worker.is_paused()
        self.library_label.setText(f"{text} · paused" if paused and not text.endswith("paused") else text)

    def _on_scan_progress(self, seen: int, path: str) -> None:
        self.set_library_status(f"Scanning · {seen} files · {os.path.basename(path)}")

    def _on_library_analysis_started(self, pending: int) -> None:
        self._analysis_total, self._analysis_done = pending, 0
        self._eta = EtaClock()
        self.set_library_status(f"Analysing 0/{pending}" if pending else "")

    def _on_track_analysed(self, track_id: int, error: str) -> None:
        self._analysis_done += 1
        self.library_model.refresh_tracks([track_id])  # batched with the others due
        left = self._eta.left(self._analysis_done, self._analysis_total)
        text = f"Analysing {self._analysis_done}/{self._analysis_total}"
        if self.library_worker.is_paused():
            text += " · paused"
        elif left:
            text += f" · {left}"
        self.set_library_status(text)
        if not self._live_refresh.isActive():
            self._live_refresh.start()

    def _on_library_finished(self, scan_report, analyse_report) -> None:
        self._live_refresh.stop()
        self.refresh_library() if scan_report is None else self._refresh_summaries()
        parts = []
        if analyse_report is not None:
            parts.append(f"{analyse_report.analysed} analysed")
            if analyse_report.errors:
                parts.append(f"{len(analyse_report.errors)} could not be read")
            if analyse_report.stopped:
                parts.append("stopped")
        elif scan_report is not None and scan_report.stopped:
            parts.append("scan stopped")
        self.set_library_status("Library: " + ", ".join(parts) if parts else "")

    def _set_library_busy(self, busy: bool) -> None:
        self.pause_button.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.rescan_action.setEnabled(not busy and self.library is not None)
        if not busy:
            self.pause_action.setChecked(False)

    def _on_pause_toggled(self, paused: bool) -> None:
        if self.library_worker is not None:
            self.library_worker.set_paused(paused)
            self.pause_action.setText("Resume" if paused else "Pause")
            self.set_library_status(self.library_label.text().split(" · paused")[0])

    def cancel_library_work(self) -> None:
        if self.library_worker is not None:
            self.library_worker.cancel()
            self.set_library_status("Stopping after the current track…")


def _track_path(_ctx, library: Library, track_id: int) -> str | None:
    with library.session() as session:
        track = session.get(Track, track_id)
        return track.path if track is not None else None
