"""View ▸ Duplicates, offscreen: the recordings in several files, from real analyses of real audio."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from conftest import COPY, JAZZ
from helpers import close_window, open_window

from musictagger.gui.duplicates_dialog import DuplicatesDialog
from musictagger.gui.runner import Runner
from musictagger.library.similar import SIMILARITY_MODELS

TIMEOUT_MS = 60_000


def test_the_window_lists_each_recordings_files_and_selects_one_on_a_double_click(qtbot, recording_copies):
    library, ids = recording_copies
    runner = Runner()
    dialog = DuplicatesDialog(library, runner, SIMILARITY_MODELS)
    qtbot.addWidget(dialog)
    dialog.show()
    try:
        dialog.refresh()
        qtbot.waitUntil(lambda: dialog.refresh_button.isEnabled(), timeout=TIMEOUT_MS)
        assert dialog.files_shown() == [[JAZZ.name, COPY.name]]  # the larger first (neither lossless)
        recording = dialog.tree.topLevelItem(0)
        assert recording.text(0) == "Recording 1: 2 files, 0:20"
        ogg, mp3 = recording.child(0), recording.child(1)
        assert [ogg.text(c) for c in (1, 3, 4)] == ["ogg vorbis", "Jazz", "–"]
        assert [mp3.text(c) for c in (1, 3)] == ["mp3 mp3", "–"]
        assert dialog.status.text().startswith("1 recording in more than one file (1 file more than one")
        with qtbot.waitSignal(dialog.track_activated, timeout=TIMEOUT_MS) as activated:
            dialog.tree.itemDoubleClicked.emit(mp3, 0)
        assert activated.args == [ids[COPY.name], mp3.text(0)]
        # A recording's own row selects nothing.
        with qtbot.assertNotEmitted(dialog.track_activated):
            dialog.tree.itemDoubleClicked.emit(recording, 0)
    finally:
        runner.shutdown()


def test_view_menu_opens_it_on_the_apps_library(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path)
    try:
        launcher = window.duplicates
        assert launcher.action.isEnabled() and launcher.dialog is None
        launcher.action.trigger()
        dialog = launcher.dialog
        assert dialog is not None and dialog.isVisible()
        qtbot.waitUntil(lambda: dialog.refresh_button.isEnabled(), timeout=TIMEOUT_MS)
        assert dialog.status.text() == "No recording is in more than one file."  # a new, empty library
        launcher.action.trigger()
        assert launcher.dialog is dialog  # one window, raised and filled again
    finally:
        close_window(window)
