"""The dark look DJ software has trained users to expect: Fusion, dark greys, one accent colour."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1b1d21"  # window
SURFACE = "#24272c"  # inputs, lists, plots
TEXT = "#e3e5e8"
TEXT_DIM = "#9aa0a8"
ACCENT = "#35b3e8"  # selection, playhead, confidence bars
ERROR = "#ff6b6b"
PLOT_BACKGROUND = "#141518"

SPECTROGRAM_COLORMAP = "inferno"
TAGGRAM_COLORMAP = "viridis"  # a different map, so the two panes are never read as one image


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: BACKGROUND,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: SURFACE,
        QPalette.ColorRole.AlternateBase: BACKGROUND,
        QPalette.ColorRole.ToolTipBase: SURFACE,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: TEXT_DIM,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#2d3036",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#0b0c0e",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    # Disabled widgets must still be legible, only dimmer (Fusion's default is near-invisible on dark).
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7078"))
    return palette


STYLESHEET = f"""
QStatusBar {{ color: {TEXT}; }}
QStatusBar QLabel#statusDevice {{ color: {TEXT_DIM}; padding: 0 8px; }}
QLabel#panelHeading {{ color: {TEXT_DIM}; font-weight: bold; text-transform: uppercase; margin-top: 6px; }}
QLabel#trackTitle {{ font-size: 13pt; font-weight: bold; }}
QLabel#placeholder {{ color: {TEXT_DIM}; font-size: 12pt; }}
QLabel#score {{ color: {TEXT_DIM}; qproperty-alignment: AlignRight; }}
QProgressBar {{ border: 1px solid #3a3e45; border-radius: 2px; background: {SURFACE}; max-height: 10px; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QToolBar {{ border: none; spacing: 6px; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    app.setStyleSheet(STYLESHEET)
