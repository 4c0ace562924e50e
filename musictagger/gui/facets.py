"""The facet column: genres and moods with how many tracks carry each (checked labels combine, AND), and
an energy range."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

ENERGY_MIN, ENERGY_MAX = 1, 10

LABEL_ROLE = Qt.ItemDataRole.UserRole + 1


class FacetList(QListWidget):
    """One category's labels as checkable rows, "Rock  128"; check state survives a recount."""

    def __init__(self, category: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.category = category
        self.setObjectName(f"facet_{category}")
        self.setUniformItemSizes(True)
        # A click anywhere on the row toggles it: facets are clicked fast, not aimed at a checkbox.
        self.itemClicked.connect(self.toggle)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Return toggles the current row (Space belongs to play / pause, window-wide).
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem() is not None:
            self.toggle(self.currentItem())
        else:
            super().keyPressEvent(event)

    def set_counts(self, counts: list[tuple[str, int]]) -> None:
        checked = set(self.checked())
        self.blockSignals(True)
        self.clear()
        for label, count in counts:
            item = QListWidgetItem(f"{label}  ·  {count}")
            item.setData(LABEL_ROLE, label)
            # Not user-checkable: the click handler toggles, so the whole row is the target.
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setCheckState(Qt.CheckState.Checked if label in checked else Qt.CheckState.Unchecked)
            self.addItem(item)
        self.blockSignals(False)

    def labels(self) -> list[str]:
        return [self.item(i).data(LABEL_ROLE) for i in range(self.count())]

    def checked(self) -> list[str]:
        return [
            self.item(i).data(LABEL_ROLE)
            for i in range(self.count())
            if self.item(i).checkState() == Qt.CheckState.Checked
        ]

    def item_for(self, label: str) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.item(i).data(LABEL_ROLE) == label:
                return self.item(i)
        return None

    def uncheck_all(self) -> None:
        for i in range(self.count()):
            self.item(i).setCheckState(Qt.CheckState.Unchecked)

    def toggle(self, item: QListWidgetItem) -> None:
        checked = item.checkState() == Qt.CheckState.Checked
        item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)


class FacetPanel(QWidget):
    changed = Signal(tuple, tuple)  # checked genres, checked moods

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("facetPanel")
        self.genres = FacetList("genre")
        self.moods = FacetList("mood")
        # Energy as DJs set a crate's range ("6 to 8 for the peak"): whole numbers, inclusive.
        self.energy_low = QSpinBox()
        self.energy_high = QSpinBox()
        for box, value, name in (
            (self.energy_low, ENERGY_MIN, "energyLow"),
            (self.energy_high, ENERGY_MAX, "energyHigh"),
        ):
            box.setObjectName(name)
            box.setRange(ENERGY_MIN, ENERGY_MAX)
            box.setValue(value)
            box.valueChanged.connect(self._emit)
        self.clear_button = QPushButton("Clear filters")
        self.clear_button.setEnabled(False)
        self.clear_button.clicked.connect(self.clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        for heading, facet in (("Genres", self.genres), ("Moods", self.moods)):
            title = QLabel(heading)
            title.setObjectName("panelHeading")
            layout.addWidget(title)
            layout.addWidget(facet, 1)
            facet.itemChanged.connect(self._emit)
        title = QLabel("Energy")
        title.setObjectName("panelHeading")
        layout.addWidget(title)
        energy_row = QHBoxLayout()
        energy_row.addWidget(self.energy_low)
        energy_row.addWidget(QLabel("to"))
        energy_row.addWidget(self.energy_high)
        layout.addLayout(energy_row)
        layout.addWidget(self.clear_button)

    def set_checked(self, category: str, label: str, checked: bool = True) -> None:
        facet = self.genres if category == "genre" else self.moods
        item = facet.item_for(label)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def energy_range(self) -> tuple[float, float] | None:
        """The energy range asked for, inclusive; None when it is the whole scale (no filter)."""
        low, high = sorted((self.energy_low.value(), self.energy_high.value()))
        return None if (low, high) == (ENERGY_MIN, ENERGY_MAX) else (float(low), float(high))

    def clear(self) -> None:
        for facet in (self.genres, self.moods):
            facet.blockSignals(True)
            facet.uncheck_all()
            facet.blockSignals(False)
        for box, value in ((self.energy_low, ENERGY_MIN), (self.energy_high, ENERGY_MAX)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        self._emit()

    def _emit(self, *_args) -> None:
        genres, moods = tuple(self.genres.checked()), tuple(self.moods.checked())
        self.clear_button.setEnabled(bool(genres or moods or self.energy_range()))
        self.changed.emit(genres, moods)
