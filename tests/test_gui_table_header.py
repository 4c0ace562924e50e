"""The library table's header (gui/table_header.py): painted like Qt's own, without visiting every row."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from musictagger.gui import theme
from musictagger.gui.table_header import RowTableHeader

NO_PARENT = QModelIndex()


class CountingModel(QAbstractTableModel):
    """Rows of text; counts Qt's calls into it (how many rows a paint visits)."""

    def __init__(self, rows: int):
        super().__init__()
        self.rows = rows
        self.calls = 0

    def rowCount(self, parent=NO_PARENT):
        self.calls += 1
        return 0 if parent.isValid() else self.rows

    def columnCount(self, parent=NO_PARENT):
        return 0 if parent.isValid() else 4

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return f"{index.row()}" if role == Qt.ItemDataRole.DisplayRole else None

    def flags(self, index):
        self.calls += 1
        return super().flags(index)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        horizontal = orientation == Qt.Orientation.Horizontal
        return f"Column {section}" if role == Qt.ItemDataRole.DisplayRole and horizontal else None


def make_table(qtbot, header: QHeaderView | None, rows: int) -> tuple[QTableView, CountingModel]:
    table = QTableView()
    qtbot.addWidget(table)
    if header is not None:
        table.setHorizontalHeader(header)
    model = CountingModel(rows)
    table.setModel(model)
    table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setHighlightSections(False)
    table.setSortingEnabled(True)
    table.horizontalHeader().setSortIndicator(2, Qt.SortOrder.DescendingOrder)
    table.resize(520, 300)
    table.show()
    qtbot.waitExposed(table)
    return table, model


def test_the_header_looks_like_qts_own(qtbot, qapp):
    # The app's theme, its sort indicator and section positions: pixel for pixel what QHeaderView paints.
    theme.apply_dark_theme(qapp)
    try:
        images = []
        for header in (None, RowTableHeader()):
            table, _model = make_table(qtbot, header, rows=20)
            images.append(table.horizontalHeader().grab().toImage())
        assert images[0].size() == images[1].size()
        assert images[0] == images[1]
    finally:
        qapp.setStyleSheet("")


def test_painting_the_header_after_select_all_visits_no_row(qtbot):
    # Qt's header asks the selection model whether each painted section's column is selected, which asks
    # the model for the flags of every row: thousands of Python calls per repaint on a large selection.
    own, own_model = make_table(qtbot, None, rows=3000)
    ours, our_model = make_table(qtbot, RowTableHeader(), rows=3000)
    for table, model in ((own, own_model), (ours, our_model)):
        table.selectAll()
        qtbot.wait(20)  # the selection's own repaint
        model.calls = 0
        table.horizontalHeader().viewport().repaint()
    assert own_model.calls >= 3000  # the cost this header avoids is real
    assert our_model.calls < 10
