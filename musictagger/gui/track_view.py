"""One track, explained: log-mel spectrogram with a per-label overlay, the taggram below it on the same
time axis, and the suggested genres and moods beside it."""

from __future__ import annotations

import os

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from musictagger.analysis import TrackAnalysis
from musictagger.gui import theme
from musictagger.gui.explain_worker import ExplainWorker, explain_target, track_key
from musictagger.gui.suggestions_panel import SuggestionsPanel
from musictagger.gui.track_labels import (
    SUGGESTION_POLICY,
    LabelRow,
    canonical_label_rows,
    dimension_rows,
    overlay_groups,
    raw_label_rows,
    suggestions,
    upsample_over_time,
)
from musictagger.services.suggest import style_hint
from musictagger.taxonomy import Vocabulary, load_vocabulary

TAGGRAM_LABELS = 10
# Both plots' left axes get this width so their x axes line up pixel for pixel.
LEFT_AXIS_WIDTH = 150
SIDE_PANEL_WIDTH = 250  # the genres, moods and heads beside the plots (pixels)
OVERLAY_RGB = (64, 224, 255)
OVERLAY_MAX_ALPHA = 200  # of 255: strong evidence must stand out, the music under it still shows
# While an explanation is drawn the spectrogram is dimmed to this opacity: a bright, busy spectrogram
# otherwise drowns any overlay colour, and the point of the view is where the evidence is.
EXPLANATION_SPECTROGRAM_OPACITY = 0.45
# A curve varying less than this is drawn on an absolute 0..1 scale instead of stretched to its range.
OVERLAY_MIN_RANGE = 0.05
# A pixel attribution (gradient × input) is speckle at the spectrogram's resolution: it is drawn blurred
# over about this much time and this many mel bands, and scaled to a high percentile rather than its single
# hottest cell, so the regions it points at read as regions.
EXPLANATION_SMOOTH_SECONDS = 0.5
EXPLANATION_SMOOTH_BANDS = 5
EXPLANATION_PEAK_PERCENTILE = 99.0


def _overlay_lut() -> np.ndarray:
    """One colour, transparent at 0 and at most OVERLAY_MAX_ALPHA at 1; squared so weak evidence fades."""
    ramp = np.linspace(0.0, 1.0, 256)
    lut = np.zeros((256, 4), dtype=np.ubyte)
    lut[:, :3] = OVERLAY_RGB
    lut[:, 3] = (ramp**2 * OVERLAY_MAX_ALPHA).astype(np.ubyte)
    return lut


class TrackView(QWidget):
    seek_requested = Signal(float)  # seconds, from a click on the spectrogram or taggram
    overlay_label_changed = Signal(str)  # LabelRow.key
    explanation_shown = Signal(str)  # LabelRow.key, once its explanation map replaced the taggram curve

    def __init__(self, vocabulary: Vocabulary | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.vocabulary = vocabulary or load_vocabulary()
        self.analysis: TrackAnalysis | None = None
        self.overlay_values: np.ndarray | None = None  # (time, mel or 1), as last given to set_overlay
        self._rows: dict[str, LabelRow] = {}
        self._taggram_keys: list[str] = []
        self._frame_seconds = 0.016
        self._spec_buffer: np.ndarray | None = None
        self._spec_filled = 0
        self._spec_levels: tuple[float, float] | None = None
        self._expected_frames = 0
        self._overlay_key: str | None = None  # the selector entry whose explanation is awaited or shown
        self.explanation = None  # the Explanation drawn as the overlay, if any

        self.explainer = ExplainWorker(self, vocabulary=self.vocabulary)
        self.explainer.finished.connect(self._on_explained)
        self.explainer.failed.connect(self._on_explain_failed)
        app = QCoreApplication.instance()
        if app is not None:  # never leave the process under a running backward pass
            app.aboutToQuit.connect(self.explainer.shutdown)

        self._placeholder = QLabel("Open a track (Ctrl+O) or drop an audio file here")
        self._placeholder.setObjectName("placeholder")
        self._placeholder.setWordWrap(True)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.title = QLabel()
        self.title.setObjectName("trackTitle")
        # A long file name must not widen the window: that re-lays out and repaints every view (a 40+ ms
        # stall of the GUI thread on each selection). The label clips; its tooltip has the whole name.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label_selector = QComboBox()
        self.label_selector.setMinimumContentsLength(16)  # the popup list is wider; the window stays small
        self.label_selector.setToolTip("Label whose evidence is drawn over the spectrogram")
        self.label_selector.currentIndexChanged.connect(self._on_label_selected)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(QLabel("Overlay:"))
        header.addWidget(self.label_selector)
        # What the overlay shows, in words: "Metal: strongest 0:42–1:10, 150–900 Hz (bass to low-mids)".
        self.overlay_caption = QLabel()
        self.overlay_caption.setObjectName("overlayCaption")
        self.overlay_caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.overlay_caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(theme.PLOT_BACKGROUND)
        self._build_spectrogram_plot()
        self._build_taggram_plot()
        self.plots.scene().sigMouseClicked.connect(self._on_scene_clicked)

        self.suggestions = SuggestionsPanel()
        content = QWidget()
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addLayout(header)
        left.addWidget(self.overlay_caption)
        left.addWidget(self.plots, 1)
        row = QHBoxLayout(content)
        row.setContentsMargins(6, 6, 6, 6)
        row.addLayout(left, 1)
        # A fixed width and a scroll area: a longer label or one more head never resizes the plots (a
        # pyqtgraph relayout on every track shown).
        side = QScrollArea()
        side.setWidgetResizable(True)
        side.setFrameShape(QFrame.Shape.NoFrame)
        side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side.setWidget(self.suggestions)
        side.setFixedWidth(SIDE_PANEL_WIDTH)
        row.addWidget(side)

        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._stack)

    # -- construction -----------------------------------------------------------------------------

    def _build_spectrogram_plot(self) -> None:
        self.spec_plot: pg.PlotItem = self.plots.addPlot(row=0, col=0)
        self.spec_plot.setLabel("left", "mel band")
        self.spec_plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.spec_plot.getAxis("bottom").setStyle(showValues=False)
        self.spec_plot.setMouseEnabled(x=True, y=False)
        self.spec_plot.hideButtons()
        self.spectrogram_image = pg.ImageItem(axisOrder="col-major")
        self.spectrogram_image.setColorMap(pg.colormap.get(theme.SPECTROGRAM_COLORMAP))
        self.spec_plot.addItem(self.spectrogram_image)
        # The overlay is its own item so a later explanation method (Grad-CAM) only replaces its data.
        self.overlay_image = pg.ImageItem(axisOrder="col-major")
        self.overlay_image.setLookupTable(_overlay_lut())
        self.overlay_image.setZValue(10)
        self.spec_plot.addItem(self.overlay_image)
        self.spec_playhead = self._playhead()
        self.spec_plot.addItem(self.spec_playhead)

    def _build_taggram_plot(self) -> None:
        self.taggram_plot: pg.PlotItem = self.plots.addPlot(row=1, col=0)
        self.taggram_plot.setLabel("bottom", "time (s)")
        self.taggram_plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.taggram_plot.setMouseEnabled(x=True, y=False)
        self.taggram_plot.hideButtons()
        self.taggram_plot.setXLink(self.spec_plot)
        self.taggram_image = pg.ImageItem(axisOrder="col-major")
        self.taggram_image.setColorMap(pg.colormap.get(theme.TAGGRAM_COLORMAP))
        self.taggram_plot.addItem(self.taggram_image)
        self.taggram_playhead = self._playhead()
        self.taggram_plot.addItem(self.taggram_playhead)
        layout = self.plots.ci.layout
        layout.setRowStretchFactor(0, 3)
        layout.setRowStretchFactor(1, 2)

    @staticmethod
    def _playhead() -> pg.InfiniteLine:
        line = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen(theme.ACCENT, width=2))
        line.setZValue(20)
        return line

    # -- loading ----------------------------------------------------------------------------------

    def clear(self, message: str | None = None) -> None:
        """Back to the empty state, optionally explaining why (a file that could not be analysed)."""
        self.analysis = None
        self._spec_buffer = None
        self._spec_filled = 0
        self._rows = {}
        self._taggram_keys = []
        self.spectrogram_image.clear()
        self.taggram_image.clear()
        self.overlay_image.clear()
        self.overlay_values = None
        self.explainer.cancel()
        self._overlay_key = None
        self.explanation = None
        self.spectrogram_image.setOpacity(1.0)
        self.overlay_caption.clear()
        self.overlay_caption.setToolTip("")
        self.label_selector.blockSignals(True)
        self.label_selector.clear()
        self.label_selector.blockSignals(False)
        self.suggestions.clear()
        hint = "Open a track (Ctrl+O) or drop an audio file here"
        self._placeholder.setText(f"{message}\n\n{hint}" if message else hint)
        self._stack.setCurrentIndex(0)

    def begin(self, path: str, expected_frames: int, frame_seconds: float) -> None:
        """A new track is being analysed: reset, and fix the time axis to its full length up front."""
        self.clear()
        self.title.setText(f"{os.path.basename(path)}  ·  analysing…")
        self.title.setToolTip(path)
        self._frame_seconds = frame_seconds
        self._expected_frames = max(1, expected_frames)
        self._spec_levels = None
        self.spec_plot.setXRange(0, self._expected_frames * frame_seconds, padding=0)
        # No label names yet: an empty axis, not pyqtgraph's default -0.5..0.5 numbers.
        self.taggram_plot.getAxis("left").setTicks([[], []])
        self.taggram_plot.setYRange(0, 1, padding=0)
        self.set_playhead(0.0)
        self._stack.setCurrentIndex(1)

    def add_chunk(self, start_frame: int, mel: np.ndarray) -> None:
        """Draw frames as they are computed; the image grows from the left into the fixed time axis."""
        stop = start_frame + len(mel)
        if self._spec_buffer is None or self._spec_buffer.shape[1] != mel.shape[1]:
            self._spec_buffer = np.zeros((max(self._expected_frames, stop), mel.shape[1]), np.float32)
        if stop > len(self._spec_buffer):
            grown = np.zeros((stop, self._spec_buffer.shape[1]), np.float32)
            grown[: len(self._spec_buffer)] = self._spec_buffer
            self._spec_buffer = grown
        self._spec_buffer[start_frame:stop] = mel
        self._spec_filled = max(self._spec_filled, stop)
        if self._spec_levels is None:  # fixed from the first chunk, so the picture does not flicker
            self._spec_levels = _display_levels(mel)
        self._show_spectrogram(self._spec_buffer[: self._spec_filled])

    def show_analysis(self, analysis: TrackAnalysis) -> None:
        self.analysis = analysis
        self._stack.setCurrentIndex(1)
        self._frame_seconds = analysis.frame_seconds
        name = os.path.basename(analysis.path)
        self.title.setText(f"{name}  ·  {format_time(analysis.duration_s)}")
        if analysis.spectrogram is not None:
            self._spec_levels = _display_levels(analysis.spectrogram)
            self._spec_buffer = np.asarray(analysis.spectrogram, dtype=np.float32)
            self._spec_filled = len(self._spec_buffer)
            self._show_spectrogram(self._spec_buffer)
            self.spec_plot.setXRange(0, len(self._spec_buffer) * analysis.frame_seconds, padding=0)
        canonical = canonical_label_rows(analysis, self.vocabulary)
        dimensions = dimension_rows(analysis)
        raw = raw_label_rows(analysis)
        self._rows = {row.key: row for row in canonical + dimensions + raw}
        self._show_taggram(raw[:TAGGRAM_LABELS])
        self._fill_label_selector(overlay_groups(canonical, dimensions, raw))
        genres = suggestions(analysis, self.vocabulary, "genre")
        moods = suggestions(analysis, self.vocabulary, "mood")
        # The Overlay menu's ✓, one definition: a genre or mood at its calibrated write threshold.
        confident = {row.name for row in canonical if row.confident and row.group in ("genre", "mood")}
        self.suggestions.set_suggestions(genres, moods, confident)
        styles = self.vocabulary.select(analysis.label_scores(), "style", SUGGESTION_POLICY)
        confident_genre = any(row.confident and row.group == "genre" for row in canonical)
        hint = style_hint([(s.label, s.score) for s in styles], confident_genre, self.vocabulary)
        self.suggestions.set_style(hint)
        self.suggestions.set_heads(analysis.heads)

    def _show_spectrogram(self, frames: np.ndarray) -> None:
        self.spectrogram_image.setImage(frames, autoLevels=False, levels=self._spec_levels)
        self.spectrogram_image.setRect(QRectF(0, 0, len(frames) * self._frame_seconds, frames.shape[1]))
        self.spec_plot.setYRange(0, frames.shape[1], padding=0)

    def _show_taggram(self, rows: list[LabelRow]) -> None:
        # Best label on top: image row 0 is drawn at the bottom, so the list goes in reversed.
        rows = list(reversed(rows))
        self._taggram_keys = [row.key for row in rows]
        matrix = np.stack([row.row for row in rows], axis=1)  # (n_patches, n_labels)
        analysis = self.analysis
        width = len(matrix) * analysis.patch_seconds
        self.taggram_image.setImage(matrix, autoLevels=False, levels=(0.0, 1.0))
        self.taggram_image.setRect(QRectF(0, 0, width, len(rows)))
        ticks = [(i + 0.5, row.name) for i, row in enumerate(rows)]
        self.taggram_plot.getAxis("left").setTicks([ticks, []])
        self.taggram_plot.setYRange(0, len(rows), padding=0)

    def _fill_label_selector(self, groups: list[tuple[str, list[LabelRow]]]) -> None:
        """One entry per label, under a heading per group (Genres, Moods, Energy & valence, …, Raw model
        tags); headings cannot be chosen. The first label (the track's best genre) is explained at once."""
        selector = self.label_selector
        selector.blockSignals(True)
        selector.clear()
        first = None
        for title, rows in groups:
            selector.addItem(title)
            heading = selector.model().item(selector.count() - 1)
            heading.setEnabled(False)
            font = heading.font()
            font.setBold(True)
            heading.setFont(font)
            for row in rows:
                selector.addItem(f"  {row.text}", row.key)
                if first is None:
                    first = selector.count() - 1
        selector.blockSignals(False)
        if first is not None:
            selector.setCurrentIndex(first)
            self._on_label_selected(first)

    # -- overlay ----------------------------------------------------------------------------------

    def taggram_labels(self) -> list[str]:
        """Names of the taggram rows, best first."""
        return [self._rows[key].name for key in reversed(self._taggram_keys)]

    def select_overlay_label(self, key: str) -> None:
        index = self.label_selector.findData(key)
        if index < 0:
            raise KeyError(key)
        self.label_selector.setCurrentIndex(index)

    def _on_label_selected(self, index: int) -> None:
        key = self.label_selector.itemData(index)
        if key is None or self.analysis is None or key not in self._rows:
            return
        analysis = self.analysis
        n_frames = self._spec_filled or round(analysis.duration_s / analysis.frame_seconds)
        curve = upsample_over_time(
            self._rows[key].row,
            analysis.patch_starts_s,
            analysis.patch_seconds,
            n_frames,
            analysis.frame_seconds,
        )
        # The taggram curve is instant; the explanation replaces it when the worker is done.
        self.set_overlay(curve)
        self.explanation = None
        self.spectrogram_image.setOpacity(1.0)
        self._request_explanation(key)
        self.overlay_label_changed.emit(key)

    def _request_explanation(self, key: str) -> None:
        analysis = self.analysis
        name = self._rows[key].name
        target = explain_target(key, analysis, self.vocabulary)
        self._overlay_key = key
        if target is None or analysis.spectrogram is None:
            self.explainer.cancel()
            self.overlay_caption.setText(f"{name}: no explanation for this label (taggram shown)")
            return
        self.overlay_caption.setText(f"Explaining {name}…")
        network = f"Head {target.model}" if target.head else f"Model {target.model}"
        self.overlay_caption.setToolTip(f"{network}, method {self.explainer.method}")
        self.explainer.request(analysis.spectrogram, target, track_key(analysis.path))

    def _on_explained(self, explanation, sentence: str) -> None:
        key = self._overlay_key
        if key is None or self._spec_buffer is None or explanation.map.shape != self._spec_buffer.shape:
            return  # the track changed under it
        self.explanation = explanation
        self.set_overlay(explanation_display_map(explanation.map, explanation.frame_seconds))
        self.spectrogram_image.setOpacity(EXPLANATION_SPECTROGRAM_OPACITY)
        self.overlay_caption.setText(sentence)
        self.overlay_caption.setToolTip(explanation_tooltip(explanation))
        self.explanation_shown.emit(key)

    def _on_explain_failed(self, message: str) -> None:
        if self._overlay_key is not None:
            self.overlay_caption.setText(f"Could not explain: {message} (taggram shown)")

    def set_overlay(self, values: np.ndarray, duration_s: float | None = None) -> None:
        """Draw evidence over the spectrogram: ``values`` is (time,) or (time × mel), spanning
        ``duration_s`` (default: the spectrogram's length). Stretched from its own minimum to its peak,
        since the point is *where* the label is heard most (the score is in the selector): a label heard
        everywhere would otherwise tint the whole picture and hide it."""
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 1:
            values = values[:, None]  # one value per time step, stretched over every mel band
        if values.ndim != 2 or values.size == 0:
            raise ValueError(f"overlay must be (time,) or (time, mel), got shape {values.shape}")
        n_mels = self._spec_buffer.shape[1] if self._spec_buffer is not None else 96
        if duration_s is None:
            duration_s = self._spec_filled * self._frame_seconds
        low, peak = float(values.min()), float(values.max())
        levels = (low, peak) if peak - low >= OVERLAY_MIN_RANGE else (0.0, 1.0)
        self.overlay_values = values
        self.overlay_image.setImage(values, autoLevels=False, levels=levels)
        self.overlay_image.setRect(QRectF(0, 0, duration_s, n_mels))

    # -- playhead and seeking -----------------------------------------------------------------------

    def set_playhead(self, seconds: float) -> None:
        self.spec_playhead.setValue(seconds)
        self.taggram_playhead.setValue(seconds)

    def playhead_seconds(self) -> float:
        return float(self.spec_playhead.value())

    def _on_scene_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos: QPointF = event.scenePos()
        for plot in (self.spec_plot, self.taggram_plot):
            if plot.vb.sceneBoundingRect().contains(pos):
                self.seek_requested.emit(max(0.0, plot.vb.mapSceneToView(pos).x()))
                return


def explanation_tooltip(explanation) -> str:
    """Which network the map runs through, by which method, and what it shows."""
    if not explanation.head:
        return (
            f"Evidence for {explanation.label} by {explanation.model} ({explanation.method}); "
            f"raw tags: {', '.join(explanation.tags)}"
        )
    text = (
        f"Evidence for {explanation.label} from head {explanation.head} "
        f"(output {', '.join(explanation.tags)}), back through {' + '.join(explanation.models)} to the "
        f"spectrogram ({explanation.method})"
    )
    if explanation.direction:
        # Measured (bench_faithfulness --heads): a small change there moves the value most, but cutting
        # those cells out whole need not (the heads answer silent holes non-linearly).
        text += f"; the map shows what {explanation.direction} the value, at the margin"
    if explanation.approximate:
        text += "; the head has a hidden layer, so per-patch evidence is an approximation"
    return text


def _moving_average(values: np.ndarray, width: int, axis: int) -> np.ndarray:
    """Centred box average of ``width`` cells along ``axis`` (edges averaged over the cells that exist)."""
    if width <= 1:
        return values
    values = np.moveaxis(values, axis, 0)
    padded = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    n = len(values)
    lo = np.clip(np.arange(n) - width // 2, 0, n)
    hi = np.clip(np.arange(n) + (width - width // 2), 0, n)
    counts = (hi - lo).reshape(-1, *([1] * (values.ndim - 1)))
    return np.moveaxis((padded[hi] - padded[lo]) / counts, 0, axis)


def explanation_display_map(values: np.ndarray, frame_seconds: float) -> np.ndarray:
    """An explanation map (frames × mel, 0..1) as drawn: blurred, scaled to its high percentile, in 0..1."""
    smooth = np.asarray(values, dtype=np.float64)
    smooth = _moving_average(smooth, max(1, round(EXPLANATION_SMOOTH_SECONDS / frame_seconds)), axis=0)
    smooth = _moving_average(smooth, EXPLANATION_SMOOTH_BANDS, axis=1)
    peak = float(np.percentile(smooth, EXPLANATION_PEAK_PERCENTILE)) if smooth.size else 0.0
    if peak <= 0:
        return np.zeros_like(values, dtype=np.float32)
    return np.clip(smooth / peak, 0.0, 1.0).astype(np.float32)


def _display_levels(spectrogram: np.ndarray) -> tuple[float, float]:
    """Colour range from percentiles, so a single click or silence does not wash out the picture."""
    low, high = np.percentile(spectrogram, [2.0, 99.8])
    return float(low), float(max(high, low + 1e-3))


def format_time(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"
