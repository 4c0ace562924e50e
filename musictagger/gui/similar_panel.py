""" "More like this": the tracks that sound nearest to the selected one, with their tempo and key.

A dock beside the track view (tabbed with the review panel: one click away), following the library
table's selection. The query runs on the runner's ``similar`` lane (services/similar.py; the newest
selection wins) and only while the panel is shown; the answer comes back as plain data. Double-clicking
a neighbour selects it in the library (or opens it, when the table's filter hides it), so a DJ can walk
from track to track.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from musictagger.gui.runner import Runner, TaskContext
from musictagger.gui.settings import AppSettings
from musictagger.keys import KeyNotation, try_parse_key
from musictagger.library import Library
from musictagger.services.similar import (
    DEFAULT_BPM_TOLERANCE,
    SimilarityError,
    SimilarTrack,
    copies_of_track,
    more_like,
    similarity_models,
)

SIMILAR_LANE = "similar"
LIMIT = 25
# (shown, key rule for services.similar)
KEY_CHOICES = (("Any key", None), ("Compatible key", "compatible"), ("Same key", "same"))
COL_MATCH, COL_TRACK, COL_BPM, COL_KEY = range(4)
TRACK_ID_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class SimilarAnswer:
    """What the lane hands back: the neighbours of ``track_id``, or why there are none."""

    track_id: int
    tracks: list[SimilarTrack]
    note: str | None = None
    not_analysed: bool = False  # the track itself has no current analysis yet
    copies: tuple[str, ...] = ()  # the paths of the track's copies (the same recording in other files)


def find_similar(
    ctx: TaskContext,
    library: Library,
    track_id: int,
    key_rule: str | None,
    bpm_tolerance: float | None,
    models: Sequence[str] | None,
) -> SimilarAnswer:
    """On the lane: the neighbours, or a note a user can act on (not analysed, no key, no BPM)."""
    ctx.check()
    options = {} if models is None else {"models": tuple(models)}
    with library.session() as session:
        try:
            copies = copies_of_track(session, track_id, **options)
            found = more_like(
                session,
                track_id,
                limit=LIMIT,
                key_rule=key_rule,
                bpm_tolerance=bpm_tolerance,
                own_copies=[copy_id for copy_id, _ in copies],
                **options,
            )
        except SimilarityError as exc:
            if "no current analysis" in str(exc):
                note = "Not analysed yet: similar tracks appear once the library analysis reaches it."
                return SimilarAnswer(track_id, [], note, not_analysed=True)
            return SimilarAnswer(track_id, [], f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    paths = tuple(path for _, path in copies)
    return SimilarAnswer(track_id, found, None if found else "No track matches.", copies=paths)


def key_text(key: str | None, notation: KeyNotation = "camelot") -> str:
    """A stored key in the notation the user picked ([display] key_notation), "–" when unknown."""
    parsed = try_parse_key(key)
    return parsed.render(notation) if parsed is not None else "–"


class SimilarPanel(QWidget):
    """The nearest tracks to one track: match (cosine as a percentage), title — artist, BPM, key (in the
    user's notation)."""

    track_activated = Signal(int, str)  # a neighbour double-clicked: its track id and path

    def __init__(
        self,
        library: Library,
        runner: Runner,
        *,
        models: Sequence[str] | None = None,
        key_notation: KeyNotation = "camelot",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("similarPanel")
        self.library = library
        self.runner = runner
        self.models = tuple(models) if models else None
        self.key_notation = key_notation
        self.track_id: int | None = None
        self._stale = False  # a track was chosen while hidden: ask when shown
        self._paths: dict[int, str] = {}
        self._waiting_for_analysis = False  # the shown track had no current analysis

        heading = QLabel("More like this")
        heading.setObjectName("panelHeading")
        self.key_choice = QComboBox()
        for text, _rule in KEY_CHOICES:
            self.key_choice.addItem(text)
        self.key_choice.setToolTip("Compatible: the same key, one step round the Camelot wheel, or relative")
        self.tempo_choice = QCheckBox(f"BPM ±{DEFAULT_BPM_TOLERANCE:.0%}")
        self.tempo_choice.setToolTip("Within the tempo a pitch fader reaches; half and double tempo count")
        self.key_choice.currentIndexChanged.connect(lambda *_: self.refresh())
        self.tempo_choice.toggled.connect(lambda *_: self.refresh())
        self.status = QLabel("Select a track in the library.")
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Match", "Track", "BPM", "Key"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_TRACK, QHeaderView.ResizeMode.Stretch)
        for column in (COL_MATCH, COL_BPM, COL_KEY):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellDoubleClicked.connect(self._on_double_click)

        options = QHBoxLayout()
        options.addWidget(self.key_choice)
        options.addWidget(self.tempo_choice)
        options.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(heading)
        layout.addLayout(options)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

    # -- what to show ----------------------------------------------------------------------------------

    def show_track(self, track_id: int) -> None:
        """Follow the selection: the neighbours of ``track_id`` (asked now if shown, else when shown)."""
        self.track_id = track_id
        self.refresh()

    def track_analysed(self, track_id: int) -> None:
        """The library analysis stored ``track_id``: if it is the track shown and it had no neighbours
        for want of an analysis, ask again (other tracks' analyses show at the next selection)."""
        if track_id == self.track_id and self._waiting_for_analysis:
            self.refresh()

    def key_rule(self) -> str | None:
        return KEY_CHOICES[self.key_choice.currentIndex()][1]

    def bpm_tolerance(self) -> float | None:
        return DEFAULT_BPM_TOLERANCE if self.tempo_choice.isChecked() else None

    def refresh(self) -> None:
        if self.track_id is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self.status.setText("Finding similar tracks…")
        self.runner.submit(
            SIMILAR_LANE,
            find_similar,
            self.library,
            self.track_id,
            self.key_rule(),
            self.bpm_tolerance(),
            self.models,
            on_done=self._show_answer,
            on_error=self._show_error,
            supersede=True,
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _show_answer(self, answer: SimilarAnswer) -> None:
        if answer.track_id != self.track_id:
            return  # an older selection's answer
        self.table.setRowCount(0)
        self.table.setRowCount(len(answer.tracks))
        for row, track in enumerate(answer.tracks):
            name = track.title or os.path.basename(track.path)
            if track.artist:
                name = f"{name} — {track.artist}"
            if track.copies:  # the same recording in more files: listed once, here
                name += f"  (+{track.copies} cop{'ies' if track.copies > 1 else 'y'})"
            cells = {
                COL_MATCH: f"{track.similarity:.0%}",
                COL_TRACK: name,
                COL_BPM: "–" if track.bpm is None else f"{track.bpm:.1f}",
                COL_KEY: key_text(track.key, self.key_notation),
            }
            for column, text in cells.items():
                item = QTableWidgetItem(text)
                item.setData(TRACK_ID_ROLE, track.track_id)
                item.setToolTip((track.key or "no key") if column == COL_KEY else track.path)
                if column in (COL_MATCH, COL_BPM):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self._paths = {track.track_id: track.path for track in answer.tracks}
        self._waiting_for_analysis = answer.not_analysed
        status = answer.note or f"{len(answer.tracks)} nearest by sound, best first."
        if answer.copies:
            # Left out of the list (they sound exactly alike): said, so a DJ knows the library holds them.
            names = ", ".join(os.path.basename(path) for path in answer.copies[:3])
            more = f" and {len(answer.copies) - 3} more" if len(answer.copies) > 3 else ""
            count = len(answer.copies)
            status += (
                f" The same recording is also in {count} other file{'s' if count > 1 else ''}: {names}{more}."
            )
        self.status.setText(status)
        self.status.setToolTip("\n".join(answer.copies))

    def _show_error(self, message: str) -> None:
        self.table.setRowCount(0)
        self.status.setText(f"Could not find similar tracks: {message}")

    def _on_double_click(self, row: int, _column: int) -> None:
        track_id = self.table.item(row, COL_TRACK).data(TRACK_ID_ROLE)
        self.track_activated.emit(track_id, self._paths[track_id])

    def neighbour_ids(self) -> list[int]:
        return [self.table.item(row, COL_TRACK).data(TRACK_ID_ROLE) for row in range(self.table.rowCount())]


# -- wiring into the main window ---------------------------------------------------------------------------


class _LibraryView(Protocol):
    track_selected: SignalInstance

    def select_track(self, track_id: int) -> bool: ...


class _LibraryWorker(Protocol):
    track_analysed: SignalInstance


class SimilarWindow(Protocol):
    """What the panel needs of the main window (it never imports main_window.py)."""

    library: Library | None
    runner: Runner
    library_view: _LibraryView
    library_worker: _LibraryWorker | None

    def add_side_panel(self, widget: QWidget, title: str) -> QDockWidget: ...

    def open_track(self, path: str) -> None: ...


def add_similar_panel(window: SimilarWindow) -> SimilarPanel | None:
    """The panel as a dock on the right, tabbed behind the docks already there, following the table's
    selection; None without a library."""
    if window.library is None:
        return None
    settings = AppSettings().current
    panel = SimilarPanel(
        window.library,
        window.runner,
        models=similarity_models(settings),
        key_notation=settings.display.key_notation,
    )
    # As narrow as the review panel it is tabbed with: the table scrolls, the window is not forced wider.
    panel.setMinimumWidth(160)
    dock = window.add_side_panel(panel, "More like this")
    if isinstance(window, QMainWindow):
        others = [
            d
            for d in window.findChildren(QDockWidget)
            if d is not dock and window.dockWidgetArea(d) == Qt.DockWidgetArea.RightDockWidgetArea
        ]
        if others:
            window.tabifyDockWidget(others[0], dock)
            others[0].raise_()
    window.library_view.track_selected.connect(lambda track_id, _path: panel.show_track(track_id))

    def activate(track_id: int, path: str) -> None:
        # Hidden by the filter: open it anyway.
        window.library_view.select_track(track_id, otherwise=lambda: window.open_track(path))

    panel.track_activated.connect(activate)
    if window.library_worker is not None:
        window.library_worker.track_analysed.connect(lambda track_id, _error: panel.track_analysed(track_id))
    return panel
