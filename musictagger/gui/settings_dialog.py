"""The settings dialog: device, models, what the panels show, how tags are written, the theme.

It edits ``settings.toml`` (musictagger/settings.py), the file the command line reads too: the file is
read when the dialog opens and written, atomically and keeping the user's comments, on OK. Nothing is
stored until OK: Cancel leaves the file as it was.

How to plug in (MainWindow)::

    from musictagger.gui.settings_dialog import SettingsDialog, apply_theme

    def show_settings(self):
        dialog = SettingsDialog(parent=self)                     # the user's settings.toml
        dialog.settings_saved.connect(self.on_settings_saved)    # AppSettings sees the new file at once
        dialog.exec()

    # on_settings_saved: apply_theme(QApplication.instance(), AppSettings().theme); a changed device or
    # model list needs a new AnalysisWorker (models are loaded once per worker).
"""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from musictagger import catalog
from musictagger.device import _mps_available
from musictagger.gui import theme as dark
from musictagger.gui.settings import DEVICES, THEMES, AppSettings
from musictagger.library.policy import LABEL_FIELDS, MODES
from musictagger.settings import Settings

MODE_HELP = {
    "fill": "only where the file has no value",
    "merge": "keep the file's values, add new ones",
    "replace": "the suggestions instead of the file's values",
    "skip": "never touch",
}


KEY_NOTATION_NAMES = {
    "camelot": "Camelot (8A)",
    "open_key": "Open Key (1m)",
    "short": "Short (Am)",
    "musical": "Musical (A minor)",
}


def available_devices() -> dict[str, bool]:
    """Each device choice and whether this machine has it (auto and cpu always)."""
    import torch  # the GUI has torch loaded already (the worker); imported here to keep module import light

    return {"auto": True, "cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}


def apply_theme(app: QApplication, name: str) -> None:
    """Dark (the app's own palette) or light (Fusion's standard palette)."""
    if name == "light":
        app.setStyle("Fusion")
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet("")
    else:
        dark.apply_dark_theme(app)


class SettingsDialog(QDialog):
    """Edits a settings file (default: the user's settings.toml); emits settings_saved after OK stored it."""

    settings_saved = Signal()

    def __init__(self, parent: QWidget | None = None, *, path: str | os.PathLike | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.prefs = AppSettings(path)
        self.loaded = Settings()  # what load() showed: store() edits it, so keys the dialog lacks are kept
        layout = QVBoxLayout(self)
        layout.addWidget(self._analysis_group())
        layout.addWidget(self._display_group())
        layout.addWidget(self._writing_group())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.load()

    # -- construction -----------------------------------------------------------------------------

    def _analysis_group(self) -> QGroupBox:
        group = QGroupBox("Analysis")
        form = QFormLayout(group)
        self.device_box = QComboBox()
        for name, present in available_devices().items():
            self.device_box.addItem(name if present else f"{name} (not available)", name)
            if not present:  # listed, so users see why their GPU is not used, but not selectable
                self.device_box.model().item(self.device_box.count() - 1).setEnabled(False)
        form.addRow("Device", self.device_box)
        models = QWidget()
        models_layout = QVBoxLayout(models)
        models_layout.setContentsMargins(0, 0, 0, 0)
        self.model_boxes: dict[str, QCheckBox] = {}
        for name in catalog.available_models():
            box = QCheckBox(name)
            self.model_boxes[name] = box
            models_layout.addWidget(box)
        form.addRow("Models", models)
        return group

    def _display_group(self) -> QGroupBox:
        group = QGroupBox("Suggestions shown")
        form = QFormLayout(group)
        self.threshold_box = _score_box()
        self.cap_box = QSpinBox()
        self.cap_box.setRange(1, 20)
        self.theme_box = QComboBox()
        self.theme_box.addItems(list(THEMES))
        self.key_notation_box = QComboBox()
        self.key_notation_box.setObjectName("keyNotation")
        for notation, text in KEY_NOTATION_NAMES.items():
            self.key_notation_box.addItem(text, notation)
        form.addRow("Minimum confidence", self.threshold_box)
        form.addRow("At most, per category", self.cap_box)
        form.addRow("Theme", self.theme_box)
        form.addRow("Keys shown as", self.key_notation_box)
        return group

    def _writing_group(self) -> QGroupBox:
        group = QGroupBox("Writing tags")
        form = QFormLayout(group)
        self.write_boxes: dict[str, QCheckBox] = {}
        self.mode_boxes: dict[str, QComboBox] = {}
        self.max_boxes: dict[str, QSpinBox] = {}
        for field in LABEL_FIELDS:
            row = QHBoxLayout()
            enabled = QCheckBox("write")
            mode = QComboBox()
            for name in MODES:
                mode.addItem(f"{name}: {MODE_HELP[name]}", name)
            most = QSpinBox()
            most.setRange(0, 10)
            most.setPrefix("at most ")
            enabled.toggled.connect(mode.setEnabled)
            enabled.toggled.connect(most.setEnabled)
            row.addWidget(enabled)
            row.addWidget(mode, 1)
            row.addWidget(most)
            self.write_boxes[field], self.mode_boxes[field], self.max_boxes[field] = enabled, mode, most
            form.addRow(field.capitalize(), row)
        self.min_score_box = _score_box()
        # The box's minimum stands for "auto": each label at its own calibrated threshold.
        self.min_score_box.setSpecialValueText("per label (calibrated)")
        self.min_score_box.setToolTip(
            "Per label: each genre and mood is written at its own calibrated threshold "
            "(docs/vocabulary.md). A number: one calibrated probability for every label."
        )
        self.comment_block_box = QCheckBox(
            "Keep a [mood: … | genre: …] block in the comment (for DJ software)"
        )
        self.from_copies_box = QCheckBox("Fill an empty genre or mood from the same recording's other files")
        self.from_copies_box.setToolTip(
            "Where no label is confident and the field is empty: the values your other copies of the "
            "track hold (a FLAC and its MP3, found by sound), when they agree"
        )
        self.separator_edit = QLineEdit()
        self.separator_edit.setToolTip("ID3v2.3 has one value per frame: several genres are joined with this")
        form.addRow("Minimum confidence", self.min_score_box)
        form.addRow(self.comment_block_box)
        form.addRow(self.from_copies_box)
        form.addRow("ID3v2.3 separator", self.separator_edit)
        return group

    # -- load / store -----------------------------------------------------------------------------

    def load(self) -> None:
        settings = self.loaded = self.prefs.current
        analysis, display, write = settings.analysis, settings.display, settings.write
        if self.device_box.findData(analysis.device) < 0:  # e.g. cuda:1, set in the file by hand
            self.device_box.addItem(analysis.device, analysis.device)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(analysis.device)))
        for name, box in self.model_boxes.items():
            box.setChecked(analysis.models is None or name in analysis.models)
        self.threshold_box.setValue(display.threshold)
        self.cap_box.setValue(display.cap)
        self.theme_box.setCurrentText(display.theme)
        self.key_notation_box.setCurrentIndex(max(0, self.key_notation_box.findData(display.key_notation)))
        maxima = {"genre": write.max_genres, "mood": write.max_moods}
        for field in LABEL_FIELDS:
            self.write_boxes[field].setChecked(write.writes(field))
            self.mode_boxes[field].setCurrentIndex(self.mode_boxes[field].findData(write.mode(field)))
            self.max_boxes[field].setValue(maxima[field])
            self.mode_boxes[field].setEnabled(write.writes(field))
            self.max_boxes[field].setEnabled(write.writes(field))
        self.min_score_box.setValue(0.0 if write.min_score == "auto" else write.min_score)
        self.comment_block_box.setChecked(write.comment_block)
        self.from_copies_box.setChecked(write.from_copies)
        self.separator_edit.setText(write.id3v23_separator)

    def edited(self) -> Settings:
        """The settings as the dialog shows them (the file's other keys as they were)."""
        checked = [name for name, box in self.model_boxes.items() if box.isChecked()]
        # All checked is stored as "every model", so a model added later is used without a visit here.
        models = None if len(checked) == len(self.model_boxes) else tuple(checked)
        return self.loaded.replace(
            analysis={"device": self.device_box.currentData(), "models": models},
            display={
                "threshold": self.threshold_box.value(),
                "cap": self.cap_box.value(),
                "theme": self.theme_box.currentText(),
                "key_notation": self.key_notation_box.currentData(),
            },
            write={
                "write_genre": self.write_boxes["genre"].isChecked(),
                "write_mood": self.write_boxes["mood"].isChecked(),
                "genre_mode": self.mode_boxes["genre"].currentData(),
                "mood_mode": self.mode_boxes["mood"].currentData(),
                "max_genres": self.max_boxes["genre"].value(),
                "max_moods": self.max_boxes["mood"].value(),
                "min_score": self.min_score_box.value() or "auto",
                "comment_block": self.comment_block_box.isChecked(),
                "from_copies": self.from_copies_box.isChecked(),
                # An emptied separator keeps the one there was: ID3v2.3 needs one.
                "id3v23_separator": self.separator_edit.text() or self.loaded.write.id3v23_separator,
            },
        )

    def store(self) -> None:
        self.prefs.save(self.edited())

    def accept(self) -> None:
        self.store()
        self.settings_saved.emit()
        super().accept()


def _score_box() -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setDecimals(2)
    return box


__all__ = ["DEVICES", "SettingsDialog", "apply_theme", "available_devices"]
