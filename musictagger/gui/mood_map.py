"""Browse by mood: every analysed track as a point, negative → positive valence across, energy 1-10 up."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from musictagger.gui import theme
from musictagger.gui.library_rows import MoodPoints

# One colour per DJ mood (readable on the dark plot); a track with no confident mood is grey.
MOOD_COLOURS = {
    "Happy": "#ffd43b",
    "Euphoric": "#ff922b",
    "Party": "#f783ac",
    "Romantic": "#e64980",
    "Aggressive": "#ff6b6b",
    "Dark": "#be4bdb",
    "Melancholic": "#4dabf7",
    "Chill": "#38d9a9",
}
OTHER_COLOUR = "#868e96"
AXES = (
    "negative  ←  valence  →  positive",
    "calm  ←  energy (1–10)  →  energetic",
)
POINT_SIZE = 8


class MoodMap(QWidget):
    track_clicked = Signal(int)  # track id
    track_hovered = Signal(str)  # the track's name, "" when the pointer leaves every point

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.points = MoodPoints()
        self.plot = pg.PlotWidget(background=theme.PLOT_BACKGROUND)
        self.plot.setObjectName("moodMapPlot")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", AXES[0])
        item.setLabel("left", AXES[1])
        item.showGrid(x=True, y=True, alpha=0.15)
        for axis in ("bottom", "left"):  # "(x0.001)" on a score difference reads as a unit; plain numbers
            item.getAxis(axis).enableAutoSIPrefix(False)
        item.setMenuEnabled(False)
        item.addLine(x=0, pen=pg.mkPen("#3a3e45"))
        item.addLine(y=5.5, pen=pg.mkPen("#3a3e45"))
        self.legend = item.addLegend(
            offset=(-10, 10), labelTextColor=theme.TEXT, brush=pg.mkBrush("#1b1d21cc")
        )
        self.scatter = pg.ScatterPlotItem(size=POINT_SIZE, pen=None, hoverable=True, hoverSize=POINT_SIZE + 5)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.scatter.sigHovered.connect(self._on_hovered)
        item.addItem(self.scatter)
        self._legend_items: list[pg.ScatterPlotItem] = []
        self.hover_label = QLabel(" ")
        self.hover_label.setObjectName("moodMapHover")
        self.hover_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover_label)

    def set_points(self, points: MoodPoints) -> None:
        self.points = points
        brushes = [pg.mkBrush(MOOD_COLOURS.get(mood, OTHER_COLOUR)) for mood in points.top_mood]
        self.scatter.setData(
            x=np.asarray(points.x, dtype=float),
            y=np.asarray(points.y, dtype=float),
            brush=brushes,
            data=np.asarray(points.ids, dtype=np.int64),
        )
        # The whole plane stays in view, so a crate's spread reads the same from one filter to the next.
        self.plot.getPlotItem().setXRange(-1.05, 1.05, padding=0)
        self.plot.getPlotItem().setYRange(0.7, 10.3, padding=0)
        self._update_legend(points)
        self.hover_label.setText(f"{len(points.ids)} analysed tracks · click a point to play it")

    def _update_legend(self, points: MoodPoints) -> None:
        self.legend.clear()
        present = sorted(set(points.top_mood), key=lambda mood: -points.top_mood.count(mood))
        for mood in present[:10]:
            colour = QColor(MOOD_COLOURS.get(mood, OTHER_COLOUR))
            sample = pg.ScatterPlotItem(size=POINT_SIZE, pen=None, brush=pg.mkBrush(colour))
            self.legend.addItem(sample, mood or "no confident mood")

    def _on_clicked(self, _item, spots, _event) -> None:
        if len(spots):
            self.track_clicked.emit(int(spots[0].data()))

    def _on_hovered(self, _item, spots, _event) -> None:
        if len(spots):
            index = spots[0].index()
            name = self.points.names[index]
            mood = self.points.top_mood[index] or "no confident mood"
            where = f"energy {self.points.y[index]:.1f} · valence {self.points.x[index]:+.2f}"
            self.hover_label.setText(f"{name}  ·  {mood}  ·  {where}")
            self.plot.setToolTip(f"{name}\n{mood}\n{where}")
            self.track_hovered.emit(name)
        else:
            self.plot.setToolTip("")
