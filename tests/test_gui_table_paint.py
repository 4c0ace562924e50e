"""The library table paints each cell from one call into the model (LibraryModel.multiData), and looks
exactly as it did when Qt asked data() once per role."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from datetime import datetime

import pytest
from helpers import synthetic_track, wait_for_table
from PySide6.QtCore import QAbstractTableModel

from musictagger.gui.library_model import LibraryModel
from musictagger.gui.library_view import LibraryView
from musictagger.library import open_library


class DataOnlyModel(LibraryModel):
    """Qt's own multiData: it asks data() for each role in turn (how the table painted before)."""

    multiData = QAbstractTableModel.multiData


class CountingModel(LibraryModel):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data_calls = 0

    def data(self, index, role=0):
        self.data_calls += 1
        return super().data(index, role)


@pytest.fixture
def library(tmp_path):
    now = datetime.now()
    with open_library(tmp_path / "library.sqlite") as library:
        with library.session() as session:
            for n in range(60):
                columns = {"title": f"Track {n} é", "artist": "DJ", "duration_s": 100.0 + n}
                if n % 3 == 0:
                    columns.update(bpm=120.0 + n, key="A minor", energy=n % 10 + 0.5)
                    columns["valence"] = 0.1 * (n % 5) - 0.2
                if n % 11 == 5:
                    columns["error"] = "truncated or corrupt: the file ends before any audio"
                session.add(synthetic_track(n, now, **columns))
            session.commit()
        yield library


def _view(qtbot, model: LibraryModel) -> LibraryView:
    view = LibraryView(model)
    qtbot.addWidget(view)
    view.resize(1600, 700)  # every column fits: no horizontal scroll bar
    view.show()
    qtbot.waitExposed(view)
    model.reload()
    wait_for_table(qtbot, model)
    view.table.selectRow(3)  # selected rows paint differently
    return view


def test_the_table_looks_the_same_painted_from_one_call_per_cell(qtbot, library):
    ours = _view(qtbot, CountingModel(library))
    reference = _view(qtbot, DataOnlyModel(library))
    assert ours.model.rowCount() == reference.model.rowCount() == 54  # the 6 missing files are hidden
    ours.model.data_calls = 0
    image = ours.table.viewport().grab().toImage()
    assert ours.model.data_calls == 0  # every cell answered by multiData
    # Pixel for pixel (alignment, colours, text): a role left unset once kept the previous cell's value.
    assert image == reference.table.viewport().grab().toImage()
    # What else asks data() (tooltips, the window's own reads) gets the same answers.
    for role in range(0, 16):
        for column in range(ours.model.columnCount()):
            assert ours.model.index(5, column).data(role) == reference.model.index(5, column).data(role)
