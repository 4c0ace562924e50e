"""Side panel: the genres and moods the track would be tagged with, each with a confidence bar."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from musictagger.heads.model import HeadScores
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
        # One list per head (the shipped GTZAN genres and mood quadrants, and the user's own).
        self._heads_layout = QVBoxLayout()
        self._heads_layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._heads_layout)
        self.heads: dict[str, _ScoredList] = {}
        layout.addStretch(1)
        self.setMinimumWidth(200)

    def set_suggestions(self, genres: list[ScoredLabel], moods: list[ScoredLabel]) -> None:
        self.genres.set_labels(genres)
        self.moods.set_labels(moods)

    def set_heads(self, heads: Mapping[str, HeadScores], top: int = 3) -> None:
        """The top ``top`` labels of each head, under the head's name."""
        for name in [n for n in self.heads if n not in heads]:
            self.heads.pop(name).deleteLater()
        for name, scores in heads.items():
            if name not in self.heads:
                self.heads[name] = _ScoredList(name.replace("_", " "))
                self.heads[name].setToolTip(f"head '{name}': a classifier on the models' embeddings")
                self._heads_layout.addWidget(self.heads[name])
            ranked = sorted(scores.as_dict().items(), key=lambda item: -item[1])[:top]
            self.heads[name].set_labels([ScoredLabel(label, score) for label, score in ranked])

    def clear(self) -> None:
        self.set_suggestions([], [])
        self.set_heads({})
