"""The overlay shows the real explanation (computed off the GUI thread), with a caption in words."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import re
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import close_window, open_window
from PySide6.QtCore import QTimer

from musictagger.gui.explain_worker import ExplainTarget, explain_target
from musictagger.gui.track_labels import upsample_over_time

DATA = Path(__file__).parent / "data"
METAL = DATA / "music" / "muldjord-chaos_god-0m30s-12s.ogg"
ANALYSIS_TIMEOUT_MS = 60_000
EXPLAIN_TIMEOUT_MS = 60_000
HZ_RANGE = re.compile(r"\d[\d.]* (k?Hz)?–\d[\d.]* k?Hz")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAGGER_CACHE_DIR", str(tmp_path / "cache"))
    win = open_window(qtbot, tmp_path)
    yield win
    close_window(win)


def _analyse_and_explain(qtbot, window):
    """Open the metal excerpt and wait for the first label's explanation."""
    view = window.track_view
    with qtbot.waitSignal(view.explanation_shown, timeout=ANALYSIS_TIMEOUT_MS + EXPLAIN_TIMEOUT_MS):
        window.open_track(METAL)
    return view


def _taggram_curve(view, key):
    analysis = view.analysis
    return upsample_over_time(
        view._rows[key].row,
        analysis.patch_starts_s,
        analysis.patch_seconds,
        len(analysis.spectrogram),
        analysis.frame_seconds,
    )


def _assert_explanation_overlay(view, key):
    overlay = view.overlay_values
    spectrogram = view.analysis.spectrogram
    assert overlay.shape == spectrogram.shape == (overlay.shape[0], 96)
    assert view.overlay_image.image.shape == spectrogram.shape
    # Not the taggram row stretched over every band: it varies along the mel axis.
    assert float(overlay.std(axis=1).mean()) > 1e-3
    curve = _taggram_curve(view, key)
    assert not np.allclose(overlay, np.repeat(curve[:, None], 96, axis=1), atol=1e-3)
    assert overlay.min() >= 0.0 and overlay.max() <= 1.0


def test_selected_label_shows_its_explanation_and_caption(qtbot, window):
    view = _analyse_and_explain(qtbot, window)
    key = view.label_selector.currentData()
    name = view._rows[key].name
    _assert_explanation_overlay(view, key)
    caption = view.overlay_caption.text()
    assert caption.startswith(f"{name}: strongest "), caption
    assert HZ_RANGE.search(caption), caption
    assert view.explanation.label == name

    # Another label: the taggram curve at once, then its own explanation and sentence.
    other = "canonical:Rock" if key != "canonical:Rock" else "raw:MTT_musicnn:guitar"
    before = view.overlay_values.copy()
    with qtbot.waitSignal(view.explanation_shown, timeout=EXPLAIN_TIMEOUT_MS) as blocker:
        view.select_overlay_label(other)
        assert view.overlay_values.shape[1] == 1  # the instant taggram curve
        assert view.overlay_caption.text() == f"Explaining {view._rows[other].name}…"
    assert blocker.args == [other]
    _assert_explanation_overlay(view, other)
    assert not np.allclose(before, view.overlay_values)
    caption = view.overlay_caption.text()
    assert caption.startswith(f"{view._rows[other].name}: strongest "), caption
    assert HZ_RANGE.search(caption), caption


def test_raw_label_is_explained_with_its_own_model(qtbot, window):
    view = _analyse_and_explain(qtbot, window)
    key = "raw:MTT_musicnn:guitar"
    with qtbot.waitSignal(view.explanation_shown, timeout=EXPLAIN_TIMEOUT_MS):
        view.select_overlay_label(key)
    assert view.explanation.model == "MTT_musicnn"
    assert view.explanation.label == "guitar"
    assert view.overlay_caption.text().startswith("guitar: strongest ")


def test_stale_explanations_are_dropped(qtbot, window):
    """Switching labels quickly: only the last one's explanation is ever drawn."""
    view = _analyse_and_explain(qtbot, window)
    shown: list[str] = []
    view.explanation_shown.connect(shown.append)
    for key in ("canonical:Rock", "raw:MTT_musicnn:guitar", "raw:MSD_musicnn:heavy metal"):
        view.select_overlay_label(key)
    qtbot.waitUntil(lambda: bool(shown), timeout=EXPLAIN_TIMEOUT_MS)
    qtbot.wait(300)  # anything stale would have arrived by now
    assert shown == ["raw:MSD_musicnn:heavy metal"]
    assert view.explanation.label == "heavy metal"


def test_event_loop_keeps_ticking_while_explaining(qtbot, window):
    view = _analyse_and_explain(qtbot, window)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        started = time.perf_counter()
        with qtbot.waitSignal(view.explanation_shown, timeout=EXPLAIN_TIMEOUT_MS):
            view.select_overlay_label("raw:MTT_musicnn:drums")  # not cached yet: a real model pass
        elapsed = time.perf_counter() - started
    finally:
        timer.stop()
    assert elapsed > 0.2, "the explanation came from a cache, the test measures nothing"
    assert len(ticks) > 3
    max_gap = max(np.diff(ticks))
    assert max_gap < 0.5, f"event loop stalled for {max_gap * 1000:.0f} ms"


def test_canonical_label_uses_best_scoring_source_model(qtbot, window):
    view = _analyse_and_explain(qtbot, window)
    analysis, vocabulary = view.analysis, view.vocabulary
    target = explain_target("canonical:Metal", analysis, vocabulary)
    entry = next(item for item in vocabulary.labels if item.name == "Metal")
    best = max(
        (float(analysis.models[m].scores[analysis.models[m].labels.index(t)]), m)
        for m, tags in entry.sources.items()
        if m in analysis.models
        for t in tags
        if t in analysis.models[m].labels
    )
    assert target.model == best[1] and target.label == "Metal"
    assert explain_target("raw:MTT_musicnn:guitar", analysis, vocabulary).model == "MTT_musicnn"
    # A label a head scores goes through the head, hint or no hint.
    assert explain_target("canonical:Dark", analysis, vocabulary) == ExplainTarget(
        "dj_moods", "Dark", head=True
    )


def test_new_track_cancels_explanation(qtbot, window):
    view = _analyse_and_explain(qtbot, window)
    view.select_overlay_label("raw:MTT_musicnn:techno")
    assert view.explainer.is_busy()
    view.clear()
    assert not view.explainer.is_busy()
    assert view.overlay_caption.text() == ""
    qtbot.wait(500)
    assert view.overlay_values is None  # a late result never draws on the empty view
