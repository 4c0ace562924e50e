"""Side panel: the genres and moods the track would be tagged with, each with a confidence bar."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from musictagger.gui.track_labels import CONFIDENT_MARK
from musictagger.heads.model import HeadScores
from musictagger.taxonomy import ScoredLabel

WRITTEN_TIP = (
    "at its calibrated threshold: confident; a write takes the best of these, up to the field's maximum"
)
BELOW_TIP = "below its calibrated threshold: shown, not written"
STYLE_TIP = (
    "the style the models hear most, under the family it refines; a raw tag's score, not calibrated, so "
    "never written (type it into the Review panel to write it)"
)


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
        self._confident: list[str] = []
        self._rows: list[tuple[QLabel, QProgressBar, QLabel]] = []
        self._none = QLabel("—")
        self._grid.addWidget(self._none, 0, 0)

    def set_labels(self, labels: list[ScoredLabel], confident: Collection[str] = ()) -> None:
        """Probabilities: a bar and a percentage per label; ``confident`` ones (at their calibrated
        threshold: what a write takes) are marked ✓, as in the Overlay menu."""
        self.set_rows([(s.label, s.score, f"{s.score:.0%}") for s in labels], confident)

    def set_rows(self, rows: list[tuple[str, float, str]], confident: Collection[str] = ()) -> None:
        """``(label, bar fill 0..1, text beside the bar)`` per row: a value on its own scale (energy 8.0)
        reads as itself, never as a percentage."""
        self._labels = [label for label, _, _ in rows]
        self._confident = [label for label in self._labels if label in confident]
        # Rows are refilled, not rebuilt: each new widget is polished against the style sheet (milliseconds
        # per track shown).
        while len(self._rows) < len(rows):
            self._rows.append(self._new_row(len(self._rows)))
        for widgets, (label, fill, text) in zip(self._rows, rows, strict=False):
            name, bar, value = widgets
            sure = label in confident
            name.setText(f"{label}  {CONFIDENT_MARK}" if sure else label)
            name.setToolTip(WRITTEN_TIP if sure else BELOW_TIP)
            bar.setValue(round(min(max(fill, 0.0), 1.0) * 100))
            bar.setToolTip(f"{label}: {text}")
            value.setText(text)
            for widget in widgets:
                widget.setVisible(True)
        for widgets in self._rows[len(rows) :]:
            for widget in widgets:
                widget.setVisible(False)
        self._none.setVisible(not rows)

    def _new_row(self, row: int) -> tuple[QLabel, QProgressBar, QLabel]:
        bar = QProgressBar()
        bar.setRange(0, 100)
        bar.setTextVisible(False)  # the number sits beside the bar: text on the bar is unreadable
        value = QLabel()
        value.setObjectName("score")
        name = QLabel()
        self._grid.addWidget(name, row + 1, 0)
        self._grid.addWidget(bar, row + 1, 1)
        self._grid.addWidget(value, row + 1, 2)
        return name, bar, value

    def labels(self) -> list[str]:
        return list(self._labels)

    def confident_labels(self) -> list[str]:
        """The shown labels at their calibrated threshold, best first."""
        return list(self._confident)


class SuggestionsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        self.genres = _ScoredList("Genre")
        self.moods = _ScoredList("Mood")
        # The style the models hear most, beside the family it refines (as the table's Genres column): a
        # raw tag's score, not calibrated, so a line of text and no bar.
        self.style = QLabel()
        self.style.setWordWrap(True)
        self.style.setToolTip(STYLE_TIP)
        self.style.setVisible(False)
        layout.addWidget(self.genres)
        layout.addWidget(self.style)
        layout.addWidget(self.moods)
        # One list per head (the shipped GTZAN genres and mood quadrants, and the user's own).
        self._heads_layout = QVBoxLayout()
        self._heads_layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._heads_layout)
        self.heads: dict[str, _ScoredList] = {}
        layout.addStretch(1)
        self.setMinimumWidth(200)

    def set_suggestions(
        self, genres: list[ScoredLabel], moods: list[ScoredLabel], confident: Collection[str] = ()
    ) -> None:
        self.genres.set_labels(genres, confident)
        self.moods.set_labels(moods, confident)

    def set_style(self, hint: Mapping[str, str | None] | None) -> None:
        """``services.suggest.style_hint``'s answer: ``{"label", "family"}`` or None (nothing shown)."""
        if hint is None:
            self.style.setVisible(False)
            return
        family = f"{hint['family']} › " if hint.get("family") else ""
        self.style.setText(f"Style: {family}{hint['label']}  (a hint, not written)")
        self.style.setVisible(True)

    def set_heads(self, heads: Mapping[str, HeadScores], top: int = 3) -> None:
        """The top ``top`` labels of each head, under the head's name."""
        for name in [n for n in self.heads if n not in heads]:
            self.heads.pop(name).deleteLater()
        for name, scores in heads.items():
            if name not in self.heads:
                self.heads[name] = _ScoredList(name.replace("_", " "))
                self.heads[name].setToolTip(f"head '{name}': a classifier on the models' embeddings")
                self._heads_layout.addWidget(self.heads[name])
            if scores.task == "regression":  # energy 1-10, valence -1..1: values, in the card's order
                rows = []
                for label, value in scores.as_dict().items():
                    low, high = scores.ranges.get(label, (0.0, 1.0))
                    text = f"{value:+.2f}" if low < 0 else f"{value:.1f}"
                    rows.append((label, (value - low) / (high - low), text))
                self.heads[name].set_rows(rows)
                continue
            ranked = sorted(scores.as_dict().items(), key=lambda item: -item[1])[:top]
            self.heads[name].set_labels([ScoredLabel(label, score) for label, score in ranked])

    def clear(self) -> None:
        self.set_suggestions([], [])
        self.set_style(None)
        self.set_heads({})
