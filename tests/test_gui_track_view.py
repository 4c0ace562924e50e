"""The desktop app, driven offscreen with real audio and the real models (pytest-qt)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time
from pathlib import Path

import numpy as np
import pytest
from helpers import close_window, open_window
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QLabel

from musictagger.gui.app import create_application
from musictagger.gui.main_window import MainWindow
from musictagger.gui.track_labels import upsample_over_time

DATA = Path(__file__).parent / "data"
METAL = DATA / "music" / "muldjord-chaos_god-0m30s-12s.ogg"
JAZZ = DATA / "audio" / "tagged.ogg"
ANALYSIS_TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path)
    yield win
    close_window(win)


def _analyse(qtbot, window, path):
    with qtbot.waitSignal(window.worker.finished, timeout=ANALYSIS_TIMEOUT_MS) as blocker:
        window.open_track(path)
    return blocker.args[1]


def test_metal_excerpt_is_drawn_and_explained(qtbot, window):
    analysis = _analyse(qtbot, window, METAL)
    view = window.track_view

    image = view.spectrogram_image.image
    assert image.shape == analysis.spectrogram.shape
    assert image.shape[1] == 96 and image.shape[0] > 700  # 12 s at 16 ms a frame

    taggram = view.taggram_image.image
    assert taggram.shape == (len(analysis.patch_starts_s), 10)
    assert len(view.taggram_labels()) == 10
    assert any("metal" in name for name in view.taggram_labels()[:3])

    assert "Rock" in view.suggestions.genres.labels()
    # The status line and the ✓ marks say what a write takes: the labels at their calibrated thresholds
    # (on this 12-s excerpt Electronic and Rock, and no mood: Aggressive is shown below its threshold).
    genres, moods = view.suggestions.genres, view.suggestions.moods
    assert genres.confident_labels() == [g for g in genres.labels() if g in ("Electronic", "Rock")]
    assert "Aggressive" in moods.labels() and moods.confident_labels() == []
    assert window.status_text().endswith(": Electronic, Rock · no confident mood")
    shown = {label.text() for label in genres.findChildren(QLabel) if label.isVisibleTo(genres)}
    assert "Rock  ✓" in shown and "Aggressive" in {
        label.text() for label in moods.findChildren(QLabel) if label.isVisibleTo(moods)
    }
    # The style under the genres, beside its family (as the table's Genres column), with no bar: a raw
    # tag's score is not calibrated.
    assert view.suggestions.style.isVisibleTo(view.suggestions)
    assert view.suggestions.style.text() == "Style: Rock › Metal  (a hint, not written)"
    # Energy and valence read as values on their own scales, never as percentages.

    values = view.suggestions.heads["energy_valence"]
    assert values.labels() == ["energy", "valence"]
    energy, valence = (label.text() for label in values.findChildren(QLabel, "score"))
    assert 1 <= float(energy) <= 10 and valence.startswith(("+", "-")) and -1 <= float(valence) <= 1
    # The genre family's overlay follows the raw tags that hint at it (musicnn's own "rock").
    assert "canonical:Rock" in [view.label_selector.itemData(i) for i in range(view.label_selector.count())]
    assert window.device_label.text().startswith("Device: CPU")


def test_switching_overlay_label_changes_overlay(qtbot, window):
    _analyse(qtbot, window, METAL)
    view = window.track_view
    first = view.overlay_values.copy()
    assert first.shape[0] == view.spectrogram_image.image.shape[0]
    with qtbot.waitSignal(view.overlay_label_changed, timeout=1000):
        view.select_overlay_label("raw:MTT_musicnn:classical")
    assert not np.allclose(first, view.overlay_values)

    # A (time × mel) overlay, as Grad-CAM will give, goes through the same API.
    saliency = np.random.default_rng(0).random((50, 96)).astype(np.float32)
    view.set_overlay(saliency)
    assert view.overlay_image.image.shape == (50, 96)


def test_bad_file_reports_in_status_bar_and_window_keeps_working(qtbot, window, tmp_path):
    fake = tmp_path / "not_music.mp3"
    fake.write_text("this is not audio\n" * 50)
    with qtbot.waitSignal(window.worker.failed, timeout=ANALYSIS_TIMEOUT_MS):
        window.open_track(fake)
    assert "Could not analyse not_music.mp3" in window.status_text()

    analysis = _analyse(qtbot, window, METAL)
    assert analysis.spectrogram.shape[1] == 96
    assert "Rock" in window.status_text()


def test_event_loop_never_stalls_during_analysis(qtbot, window):
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    chunks: list[int] = []
    window.worker.chunk.connect(lambda start, mel: chunks.append(start))
    try:
        for path in (JAZZ, METAL):
            _analyse(qtbot, window, path)
    finally:
        timer.stop()
    assert len(ticks) > 10
    max_gap = max(np.diff(ticks))
    assert max_gap < 0.5, f"event loop stalled for {max_gap * 1000:.0f} ms"
    assert chunks  # the spectrogram arrived progressively, by signal


def test_opening_a_new_track_cancels_the_running_one(qtbot, window):
    cancelled: list[str] = []
    window.worker.cancelled.connect(cancelled.append)
    window.open_track(JAZZ)
    analysis = _analyse(qtbot, window, METAL)
    assert analysis.path == str(METAL)
    assert window.track_view.analysis.path == str(METAL)


def test_click_on_spectrogram_seeks_and_moves_playhead(qtbot, window):
    _analyse(qtbot, window, METAL)
    with qtbot.waitSignal(window.player.position_changed, timeout=1000) as blocker:
        window.track_view.seek_requested.emit(4.5)
    assert blocker.args == [4.5]
    assert window.track_view.playhead_seconds() == pytest.approx(4.5)
    assert window.time_label.text().startswith("0:04") or window.time_label.text().startswith("0:05")


def test_play_button_disabled_with_reason_when_playback_unavailable(window):
    assert not window.player.available
    assert not window.play_action.isEnabled()
    assert window.play_action.toolTip()


def test_window_geometry_is_saved_and_restored(qtbot, tmp_path):
    create_application([])
    settings = QSettings(str(tmp_path / "geometry.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings, device="cpu", playback=False)
    qtbot.addWidget(first)
    first.resize(720, 520)  # inside the offscreen 800×600 screen
    first.show()
    first.close()
    second = MainWindow(settings, device="cpu", playback=False)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (720, 520)
    second.worker.shutdown()


def test_overlay_curve_is_upsampled_to_one_value_per_frame():
    row = np.array([0.0, 1.0])
    curve = upsample_over_time(row, np.array([0.0, 3.0]), 3.0, n_frames=375, frame_seconds=0.016)
    assert curve.shape == (375,)
    assert curve[0] == 0.0 and curve[-1] == 1.0
    assert np.all(np.diff(curve) >= 0)


def test_player_is_available_or_says_why():
    from musictagger.gui.player import Player

    create_application([])
    player = Player()
    if player.available:
        player.set_source(str(METAL))
        player.seek(2.0)
        assert player.position_seconds() == pytest.approx(2.0)
    else:
        assert "libpulse0" in player.unavailable_reason or "turned off" in player.unavailable_reason


def test_cancel_stops_the_analysis_and_reports_it(qtbot, window):
    finished: list[str] = []
    window.worker.finished.connect(finished.append)
    with qtbot.waitSignal(window.worker.cancelled, timeout=ANALYSIS_TIMEOUT_MS) as blocker:
        window.worker.analyse(JAZZ)
        window.worker.cancel()
    assert blocker.args == [str(JAZZ)]
    assert not window.worker.is_busy()
    qtbot.wait(200)
    assert finished == []


def test_missing_qtmultimedia_disables_play_with_reason(qtbot, tmp_path, monkeypatch):
    """The libpulse0-less machine: importing QtMultimedia raises ImportError, the rest still works."""
    import sys

    import PySide6

    from musictagger.gui import player as player_module

    monkeypatch.delattr(PySide6, "QtMultimedia", raising=False)
    monkeypatch.setitem(sys.modules, "PySide6.QtMultimedia", None)  # makes the import raise ImportError
    player_module._multimedia.cache_clear()
    try:
        create_application([])
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings, device="cpu", playback=True)
        qtbot.addWidget(win)
        assert not win.player.available
        assert not win.play_action.isEnabled()
        assert "libpulse0" in win.play_action.toolTip()
        win.player.seek(3.0)  # seeking still moves the playhead
        assert win.track_view.playhead_seconds() == pytest.approx(3.0)
        win.worker.shutdown()
    finally:
        monkeypatch.undo()
        player_module._multimedia.cache_clear()


def test_models_chosen_in_settings_are_the_ones_the_window_runs(qtbot, tmp_path):
    from musictagger.settings import Settings, save_settings

    create_application([])
    settings = QSettings(str(tmp_path / "chosen.ini"), QSettings.Format.IniFormat)  # the layout only
    save_settings(Settings().replace(analysis={"models": ("MTT_musicnn",)}))  # the test's settings.toml
    win = MainWindow(settings, device="cpu", playback=False)
    qtbot.addWidget(win)
    try:
        analysis = _analyse(qtbot, win, METAL)
        assert list(analysis.models) == ["MTT_musicnn"]
    finally:
        win.worker.shutdown()
