"""The facet column: genres and moods with how many tracks carry each (checked labels combine, AND), "no
confident genre / mood" (the tracks to tag by hand), an energy range, a BPM range, and "harmonic: keys
compatible with the selected track's"."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musictagger.keys import KeyNotation, compatible_keys, try_parse_key
from musictagger.taxonomy import families_first

ENERGY_MIN, ENERGY_MAX = 1, 10
BPM_ANY, BPM_MAX = 0, 300  # a BPM box at 0 reads "any": no bound on that side

LABEL_ROLE = Qt.ItemDataRole.UserRole + 1


class FacetList(QListWidget):
    """One category's labels as checkable rows, "Rock  128"; check state survives a recount."""

    def __init__(
        self, category: str, parent: QWidget | None = None, style_families: Mapping[str, str] | None = None
    ):
        super().__init__(parent)
        self.category = category
        # Style -> family: a genre list shows each style under the family it refines ("  › Metal").
        self.style_families = dict(style_families or {})
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
        for label, count, is_style in families_first(counts, self.style_families):
            item = QListWidgetItem(f"{'    › ' if is_style else ''}{label}  ·  {count}")
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

    def __init__(self, parent: QWidget | None = None, style_families: Mapping[str, str] | None = None):
        super().__init__(parent)
        self.setObjectName("facetPanel")
        self.genres = FacetList("genre", style_families=style_families)
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
        # BPM as DJs narrow a set ("124 to 128"): whole numbers, inclusive, either side open.
        self.bpm_low = QSpinBox()
        self.bpm_high = QSpinBox()
        for box, name in ((self.bpm_low, "bpmLow"), (self.bpm_high, "bpmHigh")):
            box.setObjectName(name)
            box.setRange(BPM_ANY, BPM_MAX)
            box.setSpecialValueText("any")
            box.setValue(BPM_ANY)
            box.valueChanged.connect(self._emit)
        # Harmonic mixing: the keys that mix with the track selected when the box is ticked (Camelot: the
        # same key, one step round the wheel, the relative major / minor). Ticking takes that track's key
        # as the reference, so browsing the filtered list does not move it.
        self.harmonic = QCheckBox("Compatible with the selected key")
        self.harmonic.setObjectName("harmonicFilter")
        self.harmonic.setEnabled(False)
        self.harmonic.toggled.connect(self._on_harmonic)
        self._selected_key: str | None = None
        self._reference_key: str | None = None
        self._notation: KeyNotation = "camelot"
        # The analysed tracks where nothing passes its threshold: a write leaves their field as it is, so
        # these are the ones a DJ tags by hand (library/track_filter.py, ``without``).
        self.without_boxes: dict[str, QCheckBox] = {}
        for category, plural in (("genre", "genres"), ("mood", "moods")):
            box = QCheckBox(f"No confident {category}")
            box.setObjectName(f"no_{category}_filter")
            box.setToolTip(
                f"Analysed tracks with no {category} confident enough to write: a write leaves their "
                f"{plural} as they are. Tag these by hand."
            )
            box.toggled.connect(self._emit)
            self.without_boxes[category] = box
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
            layout.addWidget(self.without_boxes[facet.category])
            facet.itemChanged.connect(self._emit)
        title = QLabel("Energy")
        title.setObjectName("panelHeading")
        layout.addWidget(title)
        energy_row = QHBoxLayout()
        energy_row.addWidget(self.energy_low)
        energy_row.addWidget(QLabel("to"))
        energy_row.addWidget(self.energy_high)
        layout.addLayout(energy_row)
        title = QLabel("BPM")
        title.setObjectName("panelHeading")
        layout.addWidget(title)
        bpm_row = QHBoxLayout()
        bpm_row.addWidget(self.bpm_low)
        bpm_row.addWidget(QLabel("to"))
        bpm_row.addWidget(self.bpm_high)
        layout.addLayout(bpm_row)
        layout.addWidget(self.harmonic)
        layout.addWidget(self.clear_button)

    def set_checked(self, category: str, label: str, checked: bool = True) -> None:
        facet = self.genres if category == "genre" else self.moods
        item = facet.item_for(label)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def without(self) -> tuple[str, ...]:
        """The categories ticked "no confident …"."""
        return tuple(category for category, box in self.without_boxes.items() if box.isChecked())

    def energy_range(self) -> tuple[float, float] | None:
        """The energy range asked for, inclusive; None when it is the whole scale (no filter)."""
        low, high = sorted((self.energy_low.value(), self.energy_high.value()))
        return None if (low, high) == (ENERGY_MIN, ENERGY_MAX) else (float(low), float(high))

    def bpm_range(self) -> tuple[float, float] | None:
        """The BPM range asked for, inclusive; None when both sides say "any"."""
        low, high = self.bpm_low.value(), self.bpm_high.value()
        if low == BPM_ANY and high == BPM_ANY:
            return None
        low, high = float(low), float(high) if high != BPM_ANY else float("inf")
        return (min(low, high), max(low, high))

    def set_selected_key(self, key_name: str | None) -> None:
        """The selected track's key (canonical name, or None): what ticking "compatible" would take."""
        self._selected_key = key_name if try_parse_key(key_name) is not None else None
        self._update_harmonic_text()

    def set_key_notation(self, notation: KeyNotation) -> None:
        self._notation = notation
        self._update_harmonic_text()

    def harmonic_keys(self) -> tuple[str, ...] | None:
        """Canonical names of the keys compatible with the reference; None when the filter is off."""
        key = try_parse_key(self._reference_key) if self.harmonic.isChecked() else None
        if key is None:
            return None
        return tuple(compatible.musical for compatible in compatible_keys(key))

    def _on_harmonic(self, checked: bool) -> None:
        self._reference_key = self._selected_key if checked else None
        self._update_harmonic_text()
        self._emit()

    def _update_harmonic_text(self) -> None:
        shown = self._reference_key if self.harmonic.isChecked() else self._selected_key
        key = try_parse_key(shown)
        if key is None:
            self.harmonic.setText("Compatible with the selected key")
            self.harmonic.setToolTip("Select a track whose key is known")
        else:
            keys = ", ".join(k.render(self._notation) for k in compatible_keys(key))
            self.harmonic.setText(f"Compatible with {key.render(self._notation)}")
            self.harmonic.setToolTip(f"Keys that mix with {key.render(self._notation)}: {keys}")
        self.harmonic.setEnabled(key is not None or self.harmonic.isChecked())

    def clear(self) -> None:
        for facet in (self.genres, self.moods):
            facet.blockSignals(True)
            facet.uncheck_all()
            facet.blockSignals(False)
        for box, value in (
            (self.energy_low, ENERGY_MIN),
            (self.energy_high, ENERGY_MAX),
            (self.bpm_low, BPM_ANY),
            (self.bpm_high, BPM_ANY),
        ):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        for box in (self.harmonic, *self.without_boxes.values()):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)
        self._reference_key = None
        self._update_harmonic_text()
        self._emit()

    def _emit(self, *_args) -> None:
        genres, moods = tuple(self.genres.checked()), tuple(self.moods.checked())
        narrowed = (
            self.energy_range() or self.bpm_range() or self.harmonic_keys() is not None or self.without()
        )
        self.clear_button.setEnabled(bool(genres or moods or narrowed))
        self.changed.emit(genres, moods)
