"""Tags → Learn my genres / moods…: train a head on the library's own labels, see its numbers, then save.

The same path as ``train-head --library``: the labels are the genres or moods already in the files'
tags, with the user's reviews in the app winning; the head reads the stored embeddings, so nothing is
re-analysed. Cross-validation runs on a runner lane (gui/runner.py); its report is shown before
anything is saved.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musictagger.catalog import TAGGER_ARCHITECTURES, available_models, user_models_dir
from musictagger.errors import MusictaggerError
from musictagger.gui.runner import Runner
from musictagger.head_training.build import HeadTraining, train_head
from musictagger.head_training.report import format_head_report
from musictagger.head_training.sources import library_tracks
from musictagger.heads.model import save_head
from musictagger.library.db import Library

SOURCES = (("both", "file tags and my reviews"), ("tags", "file tags only"), ("reviews", "my reviews only"))


class NotEnoughLabels(MusictaggerError):
    """The library has too few labelled, analysed tracks to learn from."""


def cross_validate_library_head(
    _ctx, library: Library, field: str, source: str, name: str, min_tracks: int
) -> tuple[HeadTraining, str]:
    """The runner task: the library's labelled tracks → nested cross-validation → (result, report)."""
    models = available_models(TAGGER_ARCHITECTURES)
    with library.session() as session:
        tracks = library_tracks(session, field, models, source=source)
    tracks = tracks.drop_rare(min_tracks)
    if len(tracks.label_names()) < 2:
        have = ", ".join(tracks.label_names()) or "none"
        raise NotEnoughLabels(
            f"Need at least two {field} labels with {min_tracks} or more analysed tracks each "
            f"(have: {have}). Tag or review more tracks, or lower the minimum."
        )
    result = train_head(
        tracks, name=name, category=field, inputs=models, source=f"library {field} ({source})"
    )
    report = format_head_report(result.card.metrics, result.card.labels)
    if tracks.dropped:
        left = ", ".join(f"{label} ({n})" for label, n in sorted(tracks.dropped.items()))
        report += f"\nleft out (fewer than {min_tracks} tracks): {left}"
    if tracks.errors:
        report += f"\n{len(tracks.errors)} labelled track(s) not analysed yet, not used"
    return result, report


class HeadDialog(QDialog):
    """Choose field, source and name; cross-validate; read the numbers; save or not."""

    head_saved = Signal(str)  # the head's name

    def __init__(self, library: Library, parent: QWidget | None = None, *, runner: Runner | None = None):
        super().__init__(parent)
        self.setWindowTitle("Learn my genres / moods")
        self.library = library
        self.runner = runner if runner is not None else Runner(self)
        self.result: HeadTraining | None = None
        self.field = QComboBox()
        self.field.addItems(["genre", "mood"])
        self.source = QComboBox()
        for key, text in SOURCES:
            self.source.addItem(text, key)
        self.name = QLineEdit("my_genres")
        self.name.setValidator(QRegularExpressionValidator(r"[A-Za-z0-9_.\-]+"))
        self.field.currentTextChanged.connect(lambda field: self.name.setText(f"my_{field}s"))
        self.min_tracks = QSpinBox()
        self.min_tracks.setRange(2, 1000)
        self.min_tracks.setValue(5)
        self.min_tracks.setToolTip("labels with fewer analysed tracks are left out")
        form = QFormLayout()
        form.addRow("Learn", self.field)
        form.addRow("From", self.source)
        form.addRow("Head name", self.name)
        form.addRow("Tracks per label, at least", self.min_tracks)
        self.train_button = QPushButton("Cross-validate")
        self.train_button.clicked.connect(self.cross_validate)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        self.report.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.report.setPlaceholderText(
            "Cross-validation trains on part of your tracks and tests on the rest, several times, so the "
            "numbers say how the head will do on tracks it has not seen."
        )
        self.status = QLabel("")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setText("Save head")
        self.save_button.setEnabled(False)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.train_button)
        layout.addWidget(self.report, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(620, 460)

    def cross_validate(self) -> None:
        self.result = None
        self.save_button.setEnabled(False)
        self.train_button.setEnabled(False)
        self.status.setText("Cross-validating…")
        self.runner.submit(
            "train-head",
            cross_validate_library_head,
            self.library,
            self.field.currentText(),
            self.source.currentData(),
            self.name.text() or f"my_{self.field.currentText()}s",
            self.min_tracks.value(),
            on_done=lambda done: self._on_done(*done),
            on_error=self._on_failed,
            supersede=True,
        )

    def _on_done(self, result: HeadTraining, report: str) -> None:
        self.result = result
        self.report.setPlainText(report)
        self.train_button.setEnabled(True)
        self.save_button.setEnabled(True)
        self.status.setText("These numbers are from tracks each fold's head never saw. Save to use it.")

    def _on_failed(self, message: str) -> None:
        self.report.setPlainText(message)
        self.train_button.setEnabled(True)
        self.status.setText("Nothing to save.")

    def save(self) -> None:
        if self.result is None:
            return
        folder = save_head(user_models_dir() / self.result.card.name, self.result.head, self.result.card)
        self.status.setText(f"Saved to {folder}")
        self.head_saved.emit(self.result.card.name)
        self.accept()
