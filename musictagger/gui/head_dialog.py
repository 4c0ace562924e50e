"""Tags → Learn my genres / moods…: train a head on the library's own labels, see its numbers, then save.

The same path as ``train-head --library``: the labels are the genres or moods already in the files'
tags, with the user's reviews in the app winning; the head reads the stored embeddings, so nothing is
re-analysed. Cross-validation runs on a pool thread; its report is shown before anything is saved.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
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
from musictagger.heads.build import HeadTraining, train_head
from musictagger.heads.model import save_head
from musictagger.heads.sources import library_tracks
from musictagger.library.db import Library

SOURCES = (("both", "file tags and my reviews"), ("tags", "file tags only"), ("reviews", "my reviews only"))


class _Signals(QObject):
    done = Signal(object, str)  # HeadTraining, the report text
    failed = Signal(str)


class _TrainJob(QRunnable):
    def __init__(self, library: Library, field: str, source: str, name: str, min_tracks: int):
        super().__init__()
        self.signals = _Signals()
        self.args = (library, field, source, name, min_tracks)
        self.finished = False

    def run(self) -> None:
        library, field, source, name, min_tracks = self.args
        try:
            self._run(library, field, source, name, min_tracks)
        finally:
            self.finished = True

    def _run(self, library: Library, field: str, source: str, name: str, min_tracks: int) -> None:
        from musictagger.cli.train_head import format_head_report

        try:
            models = available_models(TAGGER_ARCHITECTURES)
            with library.session() as session:
                tracks = library_tracks(session, field, models, source=source)
            tracks = tracks.drop_rare(min_tracks)
            if len(tracks.label_names()) < 2:
                have = ", ".join(tracks.label_names()) or "none"
                self.signals.failed.emit(
                    f"Need at least two {field} labels with {min_tracks} or more analysed tracks each "
                    f"(have: {have}). Tag or review more tracks, or lower the minimum."
                )
                return
            result = train_head(
                tracks, name=name, category=field, inputs=models, source=f"library {field} ({source})"
            )
            report = format_head_report(result.card.metrics, result.card.labels)
            if tracks.dropped:
                left = ", ".join(f"{label} ({n})" for label, n in sorted(tracks.dropped.items()))
                report += f"\nleft out (fewer than {min_tracks} tracks): {left}"
            if tracks.errors:
                report += f"\n{len(tracks.errors)} labelled track(s) not analysed yet, not used"
            self.signals.done.emit(result, report)
        except Exception as exc:  # shown in the dialog; the app goes on
            traceback.print_exc()
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}")


class HeadDialog(QDialog):
    """Choose field, source and name; cross-validate; read the numbers; save or not."""

    head_saved = Signal(str)  # the head's name

    def __init__(self, library: Library, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Learn my genres / moods")
        self.library = library
        self.result: HeadTraining | None = None
        self._jobs: list[_TrainJob] = []  # kept until they finish: their signals must outlive the run
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
        job = _TrainJob(
            self.library,
            self.field.currentText(),
            self.source.currentData(),
            self.name.text() or f"my_{self.field.currentText()}s",
            self.min_tracks.value(),
        )
        job.signals.done.connect(self._on_done)
        job.signals.failed.connect(self._on_failed)
        job.setAutoDelete(False)  # its signals must outlive the queued delivery
        self._jobs = [j for j in self._jobs if not j.finished] + [job]
        QThreadPool.globalInstance().start(job)

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
