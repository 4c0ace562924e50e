"""The track table with its search box, and the first-run screen shown while the library is empty."""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from musictagger.gui import theme
from musictagger.gui.library_model import (
    COL_ALBUM,
    COL_ARTIST,
    COL_BPM,
    COL_CONFIDENCE,
    COL_ENERGY,
    COL_GENRES,
    COL_KEY,
    COL_MOODS,
    COL_STATE,
    COL_TIME,
    COL_TITLE,
    COL_VALENCE,
    PATH_ROLE,
    TRACK_ID_ROLE,
    LibraryModel,
)
from musictagger.gui.table_header import RowTableHeader

SEARCH_DEBOUNCE_MS = 250  # typing "deep house" queries once, not ten times
ROW_HEIGHT = 22  # dense, like every DJ library

COLUMN_WIDTHS = {
    COL_TITLE: 240,
    COL_ARTIST: 160,
    COL_ALBUM: 160,
    COL_TIME: 56,
    COL_BPM: 58,
    COL_KEY: 52,
    COL_GENRES: 200,
    COL_MOODS: 170,
    COL_CONFIDENCE: 80,
    COL_ENERGY: 60,
    COL_VALENCE: 64,
    COL_STATE: 90,
}


class LibraryView(QWidget):
    track_selected = Signal(int, str)  # track id, path
    search_changed = Signal(str)  # after the debounce

    def __init__(self, model: LibraryModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.search = QLineEdit()
        self.search.setObjectName("librarySearch")
        self.search.setPlaceholderText("Search title, artist, album, path…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.search.textChanged.connect(self._debounce.start)
        self.count_label = QLabel("")
        self.count_label.setObjectName("libraryCount")

        self.table = QTableView()
        self.table.setObjectName("libraryTable")
        self.table.setHorizontalHeader(RowTableHeader(self.table))
        self.table.setModel(model)
        # A new filter or sort starts at the top (the rows arrive with the reset, in the background).
        model.modelReset.connect(self.table.scrollToTop)
        # No sort indicator before enabling sorting: enabling sorts by it, and the index order is by path.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        vertical = self.table.verticalHeader()
        vertical.setVisible(False)
        # Fixed row heights: the view never measures 100,000 rows.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        for column, width in COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        model.counts_changed.connect(self._on_counts)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def select_track(self, track_id: int, otherwise=None) -> None:
        """Select and show the row of ``track_id`` once its page is loaded (pages up to it are fetched in
        the background); ``otherwise()`` instead if the filter hides it (at once, or once the table knows)."""

        def select(row: int) -> None:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)

        self.model.when_loaded(track_id, select, otherwise)

    def selected_track_ids(self) -> list[int]:
        # From the selection's ranges and the model's rows: selectedRows() makes a QModelIndex wrapper per
        # row and data() a virtual call per row, 30+ ms for 1,000 rows; the ranges take under a millisecond.
        selection = self.table.selectionModel().selection()
        rows = sorted({row for part in selection for row in range(part.top(), part.bottom() + 1)})
        return [self.model.row_data(row).id for row in rows]

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        # The first range's first row, not selected.indexes(): that makes a QModelIndex per selected cell
        # (rows x columns), 25 ms for 300 rows on select-all.
        if selected.isEmpty():
            return
        index = self.model.index(selected.first().top(), 0)
        self.track_selected.emit(index.data(TRACK_ID_ROLE), index.data(PATH_ROLE))

    def _on_counts(self, loaded: int, matching: int) -> None:
        # matching < 0: the first page is shown, the other matches are still being counted.
        self.count_label.setText(f"{matching:,} tracks" if matching >= 0 else f"{loaded:,}+ tracks")


class EmptyLibrary(QWidget):
    """First run: nothing indexed yet, so the window says exactly one thing to do."""

    add_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("emptyLibrary")
        title = QLabel("Your library is empty")
        title.setObjectName("emptyTitle")
        # Short explicit lines, not word wrap: a wrapped label under a centring layout gets a wrong height.
        hint = QLabel(
            "Add the folder where your music lives.\n"
            "musictagger listens to every track in the background;\n"
            "genres and moods appear in the table as they are found.\n"
            "Your files are not changed until you review and write tags."
        )
        hint.setObjectName("placeholder")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton("Add your music folder…")
        self.button.setObjectName("addFolderButton")
        self.button.setDefault(True)
        self.button.clicked.connect(self.add_folder_requested)
        drop = QLabel("or drop a folder anywhere on this window")
        drop.setObjectName("placeholder")
        # Local style: this screen is the only place with type this large.
        self.setStyleSheet(
            "QLabel#emptyTitle { font-size: 20pt; font-weight: bold; }"
            f"QPushButton#addFolderButton {{ font-size: 15pt; font-weight: bold; padding: 14px 36px;"
            f" background: {theme.ACCENT}; color: #0b0c0e; border: none; border-radius: 6px; }}"
            "QPushButton#addFolderButton:hover { background: #5cc4ee; }"
        )
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for widget in (title, hint, self.button, drop):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
            layout.addSpacing(10)
        layout.addStretch(3)
