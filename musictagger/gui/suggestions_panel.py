"""Side panel: the genres and moods the track would be tagged with, each with a confidence bar."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from musictagger.taxonomy import ScoredLabel


class _ScoredList(QWidget):
    """A heading, then one "name [bar]" row per label."""

    def __init__(self, heading: str, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel(heading)
        title.setObjectName("panelHeading")
        layout.addWidget(title)
        self._grid = QGridLayout()
        self._grid.setColumnStretch(1, 1)
        self._grid.setColumnMinimumWidth(2, 34)
        layout.addLayout(self._grid)
        self._labels: list[str] = []
        self.set_labels([])

    def set_labels(self, labels: list[ScoredLabel]) -> None:
        while self._grid.count():
            self._grid.takeAt(0).widget().deleteLater()
        self._labels = [s.label for s in labels]
        if not labels:
            self._grid.addWidget(QLabel("—"), 0, 0)
            return
        for row, scored in enumerate(labels):
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(round(scored.score * 100))
            bar.setTextVisible(False)  # the number sits beside the bar: text on the bar is unreadable
            bar.setToolTip(f"{scored.label}: {scored.score:.3f}")
            percent = QLabel(f"{scored.score:.0%}")
            percent.setObjectName("score")
            self._grid.addWidget(QLabel(scored.label), row, 0)
            self._grid.addWidget(bar, row, 1)
            self._grid.addWidget(percent, row, 2)

    def labels(self) -> list[str]:
        return list(self._labels)


class SuggestionsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        self.genres = _ScoredList("Genre")
        self.moods = _ScoredList("Mood")
        layout.addWidget(self.genres)
        layout.addWidget(self.moods)
        layout.addStretch(1)
        self.setMinimumWidth(200)

    def set_suggestions(self, genres: list[ScoredLabel], moods: list[ScoredLabel]) -> None:
        self.genres.set_labels(genres)
        self.moods.set_labels(moods)

    def clear(self) -> None:
        self.set_suggestions([], [])
