"""Browse by mood: every analysed track as a point, sad → happy across, calm → energetic up."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from musictagger.gui import theme
from musictagger.gui.library_rows import MoodPoints

# One colour per mood the models know (tab20-like, readable on the dark plot); others get grey.
MOOD_COLOURS = {
    "Happy": "#ffd43b",
    "Party": "#ff922b",
    "Catchy": "#f783ac",
    "Sexy": "#e64980",
    "Fast": "#ff6b6b",
    "Loud": "#c92a2a",
    "Weird": "#be4bdb",
    "Sad": "#4dabf7",
    "Mellow": "#20c997",
    "Chill": "#38d9a9",
    "Easy Listening": "#94d82d",
    "Beautiful": "#da77f2",
    "Slow": "#748ffc",
    "Soft": "#a5d8ff",
    "Quiet": "#e9ecef",
}
# The quadrants of the mood head (Russell's plane).
MOOD_COLOURS.update(
    {
        "happy/excited": "#ffd43b",
        "angry/tense": "#ff6b6b",
        "sad/depressed": "#4dabf7",
        "calm/relaxed": "#38d9a9",
    }
)
OTHER_COLOUR = "#868e96"
TAG_AXES = (
    "sad  ←  valence (Happy − Sad)  →  happy",
    "calm  ←  energy (Fast + Loud − Slow − Quiet − Soft)  →  energetic",
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
        item.setLabel("bottom", TAG_AXES[0])
        item.setLabel("left", TAG_AXES[1])
        item.showGrid(x=True, y=True, alpha=0.15)
        for axis in ("bottom", "left"):  # "(x0.001)" on a score difference reads as a unit; plain numbers
            item.getAxis(axis).enableAutoSIPrefix(False)
        item.setMenuEnabled(False)
        item.addLine(x=0, pen=pg.mkPen("#3a3e45"))
        item.addLine(y=0, pen=pg.mkPen("#3a3e45"))
        self.legend = item.addLegend(
            offset=(-10, 10), labelTextColor=theme.TEXT, brush=pg.mkBrush("#1b1d21cc")
        )
        self.scatter = pg.ScatterPlotItem(size=POINT_SIZE, pen=None, hoverable=True, hoverSize=POINT_SIZE + 5)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.scatter.sigHovered.connect(self._on_hovered)
        item.addItem(self.scatter)
        self._legend_items: list[pg.ScatterPlotItem] = []
        # With a quadrant head each corner is a mood: named in place, in its colour (a legend box would
        # cover the happy corner, where points sit).
        self.quadrant_captions: list[pg.TextItem] = []
        for x, y, anchor in (
            (1.1, 1.1, (1, 0)),
            (-1.1, 1.1, (0, 0)),
            (-1.1, -1.1, (0, 1)),
            (1.1, -1.1, (1, 1)),
        ):
            caption = pg.TextItem(anchor=anchor)
            caption.setPos(x, y)
            caption.setVisible(False)
            item.addItem(caption)
            self.quadrant_captions.append(caption)

        self.hover_label = QLabel(" ")
        self.hover_label.setObjectName("moodMapHover")
        self.hover_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover_label)

    def set_points(self, points: MoodPoints) -> None:
        self.points = points
        item = self.plot.getPlotItem()
        if points.head:
            item.setLabel("bottom", f"negative  ←  valence (mood head '{points.head}')  →  positive")
            item.setLabel("left", "calm  ←  energy (arousal)  →  energetic")
        else:
            item.setLabel("bottom", TAG_AXES[0])
            item.setLabel("left", TAG_AXES[1])
        corners = points.quadrants if points.head else ()
        for caption, mood in zip(self.quadrant_captions, corners, strict=False):
            caption.setText(mood)
            caption.setColor(MOOD_COLOURS.get(mood, OTHER_COLOUR))
        for i, caption in enumerate(self.quadrant_captions):
            caption.setVisible(i < len(corners))
        self.legend.setVisible(not corners)
        brushes = [pg.mkBrush(MOOD_COLOURS.get(mood, OTHER_COLOUR)) for mood in points.top_mood]
        self.scatter.setData(
            x=np.asarray(points.x, dtype=float),
            y=np.asarray(points.y, dtype=float),
            brush=brushes,
            data=np.asarray(points.ids, dtype=np.int64),
        )
        # Fit the data, not the theoretical [-1, 1]: model mood scores are small, and their spread is
        # what tells tracks apart. The origin (as sad as happy) stays in view.
        if points.head:  # a head's plane has fixed corners: keep them all in view
            self.plot.getPlotItem().setXRange(-1.15, 1.15, padding=0)
            self.plot.getPlotItem().setYRange(-1.15, 1.15, padding=0)
        elif points.ids:
            xs, ys = [*points.x, 0.0], [*points.y, 0.0]
            self.plot.getPlotItem().setXRange(min(xs), max(xs), padding=0.08)
            self.plot.getPlotItem().setYRange(min(ys), max(ys), padding=0.08)
        self._update_legend(points)
        self.hover_label.setText(f"{len(points.ids)} analysed tracks · click a point to play it")

    def _update_legend(self, points: MoodPoints) -> None:
        self.legend.clear()
        present = sorted(set(points.top_mood), key=lambda mood: -points.top_mood.count(mood))
        for mood in present[:10]:
            colour = QColor(MOOD_COLOURS.get(mood, OTHER_COLOUR))
            sample = pg.ScatterPlotItem(size=POINT_SIZE, pen=None, brush=pg.mkBrush(colour))
            self.legend.addItem(sample, mood or "no mood")

    def _on_clicked(self, _item, spots, _event) -> None:
        if len(spots):
            self.track_clicked.emit(int(spots[0].data()))

    def _on_hovered(self, _item, spots, _event) -> None:
        if len(spots):
            index = spots[0].index()
            name = self.points.names[index]
            mood = self.points.top_mood[index] or "no mood"
            self.hover_label.setText(f"{name}  ·  {mood}")
            self.plot.setToolTip(f"{name}\n{mood}")
            self.track_hovered.emit(name)
        else:
            self.plot.setToolTip("")
