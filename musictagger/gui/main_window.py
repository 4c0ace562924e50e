"""The main window: the track view in the middle, transport on top, progress and device at the bottom."""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QToolBar, QWidget

from musictagger.audio import AUDIO_EXTENSIONS
from musictagger.gui import theme
from musictagger.gui.player import Player
from musictagger.gui.track_view import TrackView, format_time
from musictagger.gui.worker import AnalysisWorker


def default_settings() -> QSettings:
    return QSettings("musictagger", "musictagger")


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: QSettings | None = None,
        *,
        device: str = "auto",
        playback: bool = True,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("MainWindow")  # restoreState needs stable object names
        self.setWindowTitle("musictagger")
        self.setAcceptDrops(True)
        self.settings = settings or default_settings()
        self.current_path: str | None = None

        self.track_view = TrackView()
        self.setCentralWidget(self.track_view)
        self.worker = AnalysisWorker(self, device=device)
        self.player = Player(self, enabled=playback)

        self._build_actions()
        self._build_status_bar()
        self._connect()
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
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

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
        self.statusBar().addWidget(self.status_label, 1)
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
        self.set_status(f"Analysing {os.path.basename(path)}…")
        self.player.set_source(path)
        self.worker.analyse(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
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
        genres = ", ".join(self.track_view.suggestions.genres.labels()) or "no genre"
        moods = ", ".join(self.track_view.suggestions.moods.labels()) or "no mood"
        self.set_status(f"{os.path.basename(path)}: {genres} · {moods}")

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
        super().closeEvent(event)
