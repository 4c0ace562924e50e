"""The track table's model: every indexed track, fetched a page at a time as the view scrolls.

A reset (new filter, new sort, new scan) runs one query for the ordered ids of every matching track and
reads the first page; rows are then loaded ``PAGE_SIZE`` at a time by ``fetchMore`` (a fixed handful of
queries per page), so ``data()`` only ever reads memory. Every query runs on the runner (gui/runner.py):
the ids on the ``table-reload`` lane (the newest filter wins), pages and re-read rows on the ``table``
lane; results that belong to an older reset are dropped (``_generation``). The old rows stay on screen
until the new ones arrive. ``loading()`` says whether anything is on its way.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor

from musictagger.gui import theme
from musictagger.gui.library_rows import STATE_ERROR, STATE_PENDING, TrackRow, load_rows
from musictagger.gui.runner import Runner
from musictagger.gui.track_view import format_time
from musictagger.keys import KeyNotation, try_parse_key
from musictagger.library.db import Library
from musictagger.library.track_filter import INDEXED_SORTS, SortKey, TrackFilter, filtered_ids

PAGE_SIZE = 500
#: Rows whose track changed (an analysis landed, a review was stored) are re-read together, at most this
#: often, in one query on the runner's ``table`` lane: a 1,000-track "accept all" is one query, not 1,000.
REFRESH_MS = 100

# (header, sort column of track_filter.filtered_ids). What a DJ sorts a crate by comes first: BPM and key
# (harmonic mixing), energy, then genre and mood.
COLUMNS = (
    ("Title", "title"),
    ("Artist", "artist"),
    ("Time", "duration"),
    ("BPM", "bpm"),
    ("Key", "key"),  # sorted round the Camelot wheel, shown in Settings' key notation
    ("Energy", "energy"),
    ("Genres", "confidence"),  # the best genre is what a DJ sorts "how sure" by
    ("Moods", "path"),
    ("Confidence", "confidence"),
    ("Valence", "valence"),
    ("Album", "album"),
    ("State", "state"),
)
(
    COL_TITLE,
    COL_ARTIST,
    COL_TIME,
    COL_BPM,
    COL_KEY,
    COL_ENERGY,
    COL_GENRES,
    COL_MOODS,
    COL_CONFIDENCE,
    COL_VALENCE,
    COL_ALBUM,
    COL_STATE,
) = range(len(COLUMNS))

TRACK_ID_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2


DISPLAY = Qt.ItemDataRole.DisplayRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
ALIGNMENT = Qt.ItemDataRole.TextAlignmentRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
NUMBER_COLUMNS = frozenset((COL_TIME, COL_CONFIDENCE, COL_ENERGY, COL_VALENCE, COL_BPM))
DIM_COLUMNS = frozenset((COL_CONFIDENCE, COL_STATE, COL_TIME))
ERROR_COLUMNS = frozenset((COL_GENRES, COL_STATE))  # the cells an unreadable track's error is shown in
RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
# Made once: a repaint asks for a colour per visible cell.
ERROR_COLOR = QColor(theme.ERROR)
DIM_COLOR = QColor(theme.TEXT_DIM)

Index = QModelIndex | QPersistentModelIndex
#: What "all shown tracks" actions say in the moment after a reset when the ids are still being read.
STILL_READING = "The table is still reading its tracks: try again in a moment."

NO_PARENT = QModelIndex()  # the table's root: rows have no children


class LibraryModel(QAbstractTableModel):
    counts_changed = Signal(int, int)  # rows loaded, rows matching (-1 while the matching ids are read)

    def __init__(
        self,
        library: Library | None,
        parent=None,
        *,
        runner: Runner | None = None,
        style_families: Mapping[str, str] | None = None,
    ):
        super().__init__(parent)
        self.library = library
        # Style -> family, from the vocabulary (a plain dict the row loads may read on the runner's lanes).
        self.style_families = dict(style_families or {})
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
        self._generation = 0  # bumped by every reset: results of an older one are dropped
        self._fetching = False
        # Every matching id, in order, once read: a reset shows its first page first (one LIMIT query), then
        # reads the ids of every match (0.6 s for a million), unless the first page held them all.
        self._ids_complete = True
        # (track id, callback, otherwise, matches): call callback(row) once its page is loaded, otherwise()
        # if the track does not match; ``matches`` is looked up once, when the ids are there (not per page).
        self._wanted: tuple[int, object, object, bool | None] | None = None
        self.key_notation: KeyNotation = "camelot"  # Settings' [display] key_notation; the window sets it

    # -- what is shown ------------------------------------------------------------------------------

    def set_key_notation(self, notation: KeyNotation) -> None:
        """Show keys as "8A", "1m", "Am" or "A minor" (the rows keep the canonical name)."""
        if notation != self.key_notation:
            self.key_notation = notation
            if self._rows:
                self.dataChanged.emit(self.index(0, COL_KEY), self.index(len(self._rows) - 1, COL_KEY))

    def set_library(self, library: Library | None) -> None:
        self.library = library
        self.reload()

    def set_filter(self, track_filter: TrackFilter) -> None:
        if track_filter != self.track_filter:
            self.track_filter = track_filter
            self.reload()

    def reload(self) -> None:
        """Show the first page of the matching tracks again, then read every matching id (in the
        background: both on the reload lane, so a newer reset supersedes them)."""
        self._generation += 1
        self._fetching = False
        if self.library is None:
            self._apply_reload(self._generation, ([], [], True))
            return
        generation = self._generation
        self.runner.submit(
            RELOAD_LANE,
            _first_page,
            self.library,
            self.track_filter,
            self.sort_key,
            self.style_families,
            on_done=lambda result: self._apply_reload(generation, result),
            supersede=True,
        )

    def loading(self) -> bool:
        """A reset, a page or re-read rows are on their way."""
        return (
            self.runner.busy(RELOAD_LANE)
            or self.runner.busy(TABLE_LANE)
            or self._fetching
            or bool(self._stale)
            or self._refresh_timer.isActive()
        )

    def _apply_reload(self, generation: int, result: tuple[list[int], list[TrackRow], bool]) -> None:
        """The first page goes in with the reset, so the view never sees an empty table to fill; with
        ``complete`` false, ``ids`` are only the page's (one more when more tracks match), and every
        matching id is read next."""
        if generation != self._generation:
            return
        ids, rows, complete = result
        more = not complete and len(ids) > PAGE_SIZE
        page_ids = [row.id for row in rows]  # a track deleted meanwhile is left out
        self.beginResetModel()
        self._ids = page_ids + ids[PAGE_SIZE:] if complete else page_ids
        self._rows = list(rows)
        self._row_of = {row.id: index for index, row in enumerate(rows)}
        self._ids_complete = not more
        self.pages_loaded = 1 if rows else 0
        self.endResetModel()
        if not more:
            self._ids_read()
            return
        self.counts_changed.emit(len(self._rows), -1)  # more than these: how many, once the ids are read
        self.runner.submit(
            RELOAD_LANE,
            _all_ids,
            self.library,
            self.track_filter,
            self.sort_key,
            on_done=lambda all_ids: self._apply_ids(generation, all_ids),
            supersede=True,
        )

    def _apply_ids(self, generation: int, ids: list[int]) -> None:
        if generation != self._generation:
            return
        loaded = self._ids
        same = 0  # the loaded rows that are still where the ids put them (the index may have changed)
        while same < len(loaded) and same < len(ids) and loaded[same] == ids[same]:
            same += 1
        if same < len(self._rows):
            self.beginRemoveRows(QModelIndex(), same, len(self._rows) - 1)
            for row in self._rows[same:]:
                del self._row_of[row.id]
            del self._rows[same:]
            self.endRemoveRows()
        self._ids = ids
        self._ids_complete = True
        self._ids_read()

    def _ids_read(self) -> None:
        self.counts_changed.emit(len(self._rows), len(self._ids))
        if self._wanted is not None:
            self._wanted = (*self._wanted[:3], None)  # new ids: whether it matches is asked of them
            self._fetch_towards_wanted()

    def matching_count(self) -> int | None:
        """How many tracks match; None while their ids are being read."""
        return len(self._ids) if self._ids_complete else None

    def track_ids(self) -> list[int] | None:
        """Every matching track's id, in the table's order; None while they are being read (under a
        second after a reset of a million-track table; at once when the first page holds them all)."""
        return list(self._ids) if self._ids_complete else None

    def row_data(self, row: int) -> TrackRow:
        return self._rows[row]

    def row_for(self, track_id: int) -> TrackRow | None:
        """The loaded row of ``track_id``; None when its page is not loaded or the filter hides it."""
        row = self._row_of.get(track_id)
        return self._rows[row] if row is not None and row < len(self._rows) else None

    def when_loaded(self, track_id: int, callback, otherwise=None) -> None:
        """Call ``callback(row)`` once ``track_id``'s row is loaded (pages are fetched up to it in the
        background), or ``otherwise()`` when the track does not match the filter; either may come at once
        or later (the matching ids may still be being read)."""
        if track_id in self._row_of:
            callback(self._row_of[track_id])
            return
        self._wanted = (track_id, callback, otherwise, None)
        if self._ids_complete:
            self._fetch_towards_wanted()

    def _fetch_towards_wanted(self) -> None:
        track_id, callback, otherwise, matches = self._wanted
        if matches is None:
            matches = track_id in self._ids
            self._wanted = (track_id, callback, otherwise, matches)
        if track_id in self._row_of:
            self._wanted = None
            callback(self._row_of[track_id])
        elif matches and self.canFetchMore():
            self.fetchMore()
        else:
            self._wanted = None
            if otherwise is not None:
                otherwise()

    def refresh_tracks(self, track_ids) -> None:
        """Re-read the loaded rows of ``track_ids`` in the background, in one query with any others due."""
        loaded = [track_id for track_id in track_ids if track_id in self._row_of]
        if not loaded or self.library is None:
            return
        self._stale.update(loaded)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh_stale(self) -> None:
        ids, self._stale = sorted(self._stale), set()
        self.runner.submit(
            TABLE_LANE, _load_rows, self.library, ids, self.style_families, on_done=self._apply_fresh
        )

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
        """Ask for the next page; it is inserted when it arrives (asking again meanwhile does nothing)."""
        if parent.isValid() or self.library is None or self._fetching or not self.canFetchMore():
            return
        start = len(self._rows)
        page_ids = self._ids[start : start + PAGE_SIZE]
        generation = self._generation
        self._fetching = True
        self.runner.submit(
            TABLE_LANE,
            _load_rows,
            self.library,
            page_ids,
            self.style_families,
            on_done=lambda rows: self._apply_page(generation, start, page_ids, rows),
            on_error=lambda _message: self._page_failed(generation),
        )

    def _page_failed(self, generation: int) -> None:
        if generation == self._generation:
            self._fetching = False  # the next scroll asks again

    def _apply_page(self, generation: int, start: int, page_ids: list[int], rows: list[TrackRow]) -> None:
        if generation != self._generation:
            return
        self._fetching = False
        if start != len(self._rows):
            return
        self._insert_page(start, page_ids, rows)
        self.counts_changed.emit(len(self._rows), len(self._ids))
        if self._wanted is not None:
            self._fetch_towards_wanted()

    def _insert_page(self, start: int, page_ids: list[int], rows: list[TrackRow]) -> None:
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
        return self._value(self._rows[index.row()], index.column(), role)

    def multiData(self, index: Index, role_data_span) -> None:
        """Every role a cell is painted with, in one call. Qt 6's item delegate asks for a cell's roles
        together (display, alignment, colours, font, ...); answering through data() took about six calls
        from C++ into Python per cell, and each one has to win the GIL back from any worker running
        Python at that moment: with a review or a plan being computed in the background, a table repaint
        went from 12 to 39-61 ms; with one call per cell, 25-31 ms."""
        if not index.isValid():
            return
        row = self._rows[index.row()]
        column = index.column()
        for role_data in role_data_span:
            # Every role is set, None included: the delegate may reuse the span's values from cell to cell.
            role_data.setData(self._value(row, column, role_data.role()))

    def _value(self, row: TrackRow, column: int, role: int):
        if role == DISPLAY:
            if column == COL_KEY:
                return key_text(row.key, self.key_notation)
            return _display(row, column)
        if role == FOREGROUND:
            if row.state == STATE_ERROR and column in ERROR_COLUMNS:
                return ERROR_COLOR
            if column in DIM_COLUMNS or row.state == STATE_PENDING:
                return DIM_COLOR
            return None
        if role == ALIGNMENT:
            return RIGHT_ALIGNED if column in NUMBER_COLUMNS else None
        if role == TOOLTIP:
            return f"{row.path}\n{row.error}" if row.error else row.path
        if role == TRACK_ID_ROLE:
            return row.id
        if role == PATH_ROLE:
            return row.path
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting re-queries with ORDER BY: the view never sorts rows it has not loaded. Column -1 is Qt's
        "no sort column" (the view's start, with no indicator): the library's order, by path (as an index
        would, -1 picked the last column, State, and every start sorted the whole library by it)."""
        if column < 0:
            self.sort_key = SortKey()
        else:
            self.sort_key = SortKey(COLUMNS[column][1], order == Qt.SortOrder.DescendingOrder)
        self.reload()


TABLE_LANE = "table"
RELOAD_LANE = "table-reload"


def _first_page(
    _ctx, library: Library, track_filter: TrackFilter, sort_key: SortKey, style_families: Mapping[str, str]
) -> tuple[list[int], list[TrackRow], bool]:
    """The first page's rows, with every matching id (complete) or, on the whole library, only the page's
    and one more (not complete; ``_all_ids`` next). The whole library's first page, in an order an index
    serves, is a read of that index that stops after it (ms), where its ids are a million (0.6 s); a
    filter's first page, or one in another order, costs the whole query (every match found and sorted
    before the first row), so that is read once."""
    page_first = track_filter == TrackFilter() and sort_key.column in INDEXED_SORTS
    with library.session() as session:
        ids = filtered_ids(session, track_filter, sort_key, limit=PAGE_SIZE + 1 if page_first else None)
        return ids, load_rows(session, ids[:PAGE_SIZE], style_families), not page_first


def _all_ids(_ctx, library: Library, track_filter: TrackFilter, sort_key: SortKey) -> list[int]:
    with library.session() as session:
        return filtered_ids(session, track_filter, sort_key)


def _load_rows(
    _ctx, library: Library, track_ids: list[int], style_families: Mapping[str, str]
) -> list[TrackRow]:
    with library.session() as session:
        return load_rows(session, track_ids, style_families)


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
        # Where the genres would be, why there are none: the State column is off-screen in a narrow
        # window, and a row titled "corrupt" with nothing beside it reads as a track not yet analysed.
        return f"⚠ {row.error}" if row.error else ", ".join(row.genres)
    if column == COL_MOODS:
        return ", ".join(row.moods)
    if column == COL_CONFIDENCE:
        return f"{row.confidence:.0%}" if row.confidence is not None else ""
    if column == COL_ENERGY:
        return f"{row.energy:.1f}" if row.energy is not None else ""
    if column == COL_VALENCE:
        return f"{row.valence:+.2f}" if row.valence is not None else ""
    if column == COL_BPM:
        return f"{row.bpm:.1f}" if row.bpm is not None else ""
    return row.state


@lru_cache(maxsize=256)
def key_text(name: str | None, notation: KeyNotation) -> str:
    """A stored key in the notation shown ("A minor" -> "8A"); a name the parser does not know as is."""
    key = try_parse_key(name)
    return key.render(notation) if key is not None else (name or "")
