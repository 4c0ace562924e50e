"""The track table's model: every indexed track, fetched a page at a time as the view scrolls.

A reset (new filter, new sort, new scan) runs one query for the ordered ids of every matching track;
rows are then loaded ``PAGE_SIZE`` at a time by ``fetchMore`` (a fixed handful of queries per page), so
``data()`` only ever reads memory. A finished analysis refreshes its one row through ``refresh_track``.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor

from musictagger.gui import theme
from musictagger.gui.library_rows import (
    STATE_ERROR,
    STATE_PENDING,
    SortKey,
    TrackFilter,
    TrackRow,
    filtered_ids,
    load_rows,
)
from musictagger.gui.runner import Runner
from musictagger.gui.track_view import format_time
from musictagger.library.db import Library

PAGE_SIZE = 500
#: Rows whose track changed (an analysis landed, a review was stored) are re-read together, at most this
#: often, in one query on the runner's ``table`` lane: a 1,000-track "accept all" is one query, not 1,000.
REFRESH_MS = 100

# (header, sort column of library_rows.filtered_ids)
COLUMNS = (
    ("Title", "title"),
    ("Artist", "artist"),
    ("Album", "album"),
    ("Time", "duration"),
    ("Genres", "confidence"),  # the best genre is what a DJ sorts "how sure" by
    ("Moods", "path"),
    ("Confidence", "confidence"),
    ("State", "state"),
)
COL_TITLE, COL_ARTIST, COL_ALBUM, COL_TIME, COL_GENRES, COL_MOODS, COL_CONFIDENCE, COL_STATE = range(8)

TRACK_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2


Index = QModelIndex | QPersistentModelIndex
NO_PARENT = QModelIndex()  # the table's root: rows have no children


class LibraryModel(QAbstractTableModel):
    counts_changed = Signal(int, int)  # rows loaded, rows matching

    def __init__(self, library: Library | None, parent=None, *, runner: Runner | None = None):
        super().__init__(parent)
        self.library = library
        self.runner = runner if runner is not None else Runner(self)
        self._stale: set[int] = set()
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh_stale)
        self.track_filter = TrackFilter()
        self.sort_key = SortKey()
        self._ids: list[int] = []
        self._rows: list[TrackRow] = []
        self._row_of: dict[int, int] = {}
        self.pages_loaded = 0  # for tests and the status line: how much was actually read

    # -- what is shown ------------------------------------------------------------------------------

    def set_library(self, library: Library | None) -> None:
        self.library = library
        self.reload()

    def set_filter(self, track_filter: TrackFilter) -> None:
        if track_filter != self.track_filter:
            self.track_filter = track_filter
            self.reload()

    def reload(self) -> None:
        """Query the matching ids again and show the first page."""
        self.beginResetModel()
        self._ids, self._rows, self._row_of = [], [], {}
        self.pages_loaded = 0
        if self.library is not None:
            with self.library.session() as session:
                self._ids = filtered_ids(session, self.track_filter, self.sort_key)
        self.endResetModel()
        if self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())
        else:
            self.counts_changed.emit(0, 0)

    def matching_count(self) -> int:
        return len(self._ids)

    def track_ids(self) -> list[int]:
        return list(self._ids)

    def row_data(self, row: int) -> TrackRow:
        return self._rows[row]

    def row_of_track(self, track_id: int, *, fetch: bool = False) -> int | None:
        """The row showing ``track_id``; with ``fetch``, pages are loaded until it is (if it matches)."""
        if fetch and track_id not in self._row_of and track_id in set(self._ids):
            while track_id not in self._row_of and self.canFetchMore(QModelIndex()):
                self.fetchMore(QModelIndex())
        return self._row_of.get(track_id)

    def refresh_track(self, track_id: int) -> None:
        """Re-read one loaded row (an analysis just landed for it), batched with the others."""
        self.refresh_tracks([track_id])

    def refresh_tracks(self, track_ids) -> None:
        """Re-read the loaded rows of ``track_ids`` in the background, in one query with any others due."""
        loaded = [track_id for track_id in track_ids if track_id in self._row_of]
        if not loaded or self.library is None:
            return
        self._stale.update(loaded)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def refreshing(self) -> bool:
        """Rows are waiting to be re-read or being re-read."""
        return bool(self._stale) or self._refresh_timer.isActive() or self.runner.busy(TABLE_LANE)

    def _refresh_stale(self) -> None:
        ids, self._stale = sorted(self._stale), set()
        self.runner.submit(TABLE_LANE, _load_rows, self.library, ids, on_done=self._apply_fresh)

    def _apply_fresh(self, rows: list[TrackRow]) -> None:
        changed = []
        for fresh in rows:
            row = self._row_of.get(fresh.id)
            if row is not None:
                self._rows[row] = fresh
                changed.append(row)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))

    # -- lazy fetching --------------------------------------------------------------------------------

    def canFetchMore(self, parent: Index = NO_PARENT) -> bool:
        return not parent.isValid() and len(self._rows) < len(self._ids)

    def fetchMore(self, parent: Index = NO_PARENT) -> None:
        if parent.isValid() or self.library is None:
            return
        start = len(self._rows)
        page_ids = self._ids[start : start + PAGE_SIZE]
        with self.library.session() as session:
            rows = load_rows(session, page_ids)
        if len(rows) < len(page_ids):  # deleted meanwhile: keep ids and rows aligned
            after = start + len(page_ids)
            self._ids = self._ids[:start] + [row.id for row in rows] + self._ids[after:]
        if not rows:
            return
        self.beginInsertRows(QModelIndex(), start, start + len(rows) - 1)
        for offset, row in enumerate(rows):
            self._row_of[row.id] = start + offset
        self._rows.extend(rows)
        self.pages_loaded += 1
        self.endInsertRows()
        self.counts_changed.emit(len(self._rows), len(self._ids))

    # -- QAbstractTableModel --------------------------------------------------------------------------

    def rowCount(self, parent: Index = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = NO_PARENT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.error if column == COL_STATE and row.error else row.path
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.state == STATE_ERROR and column == COL_STATE:
                return QColor(theme.ERROR)
            if column in (COL_CONFIDENCE, COL_STATE, COL_TIME) or row.state == STATE_PENDING:
                return QColor(theme.TEXT_DIM)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (COL_TIME, COL_CONFIDENCE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == TRACK_ID_ROLE:
            return row.id
        if role == PATH_ROLE:
            return row.path
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting re-queries with ORDER BY: the view never sorts rows it has not loaded."""
        self.sort_key = SortKey(COLUMNS[column][1], order == Qt.SortOrder.DescendingOrder)
        self.reload()


TABLE_LANE = "table"


def _load_rows(_ctx, library: Library, track_ids: list[int]) -> list[TrackRow]:
    with library.session() as session:
        return load_rows(session, track_ids)


def _display(row: TrackRow, column: int) -> str:
    if column == COL_TITLE:
        return row.title
    if column == COL_ARTIST:
        return row.artist
    if column == COL_ALBUM:
        return row.album
    if column == COL_TIME:
        return format_time(row.duration_s) if row.duration_s else ""
    if column == COL_GENRES:
        return ", ".join(row.genres)
    if column == COL_MOODS:
        return ", ".join(row.moods)
    if column == COL_CONFIDENCE:
        return f"{row.confidence:.0%}" if row.confidence is not None else ""
    return row.state
