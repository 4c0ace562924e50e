""" "More like this" in the app, offscreen: the panel on its runner lane, and in the main window."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from helpers import close_window, open_window, wait_for_table
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget
from test_similar import MODELS, Crate, analysis_of, around

from musictagger.gui.runner import Runner
from musictagger.gui.similar_panel import (
    COL_BPM,
    COL_KEY,
    COL_MATCH,
    SIMILAR_LANE,
    SimilarPanel,
    key_text,
)
from musictagger.library import Track, open_library
from musictagger.library.store import save_analysis

TIMEOUT_MS = 60_000


def fill_crate(library, folder, cards, vocabulary) -> Crate:
    """query, then near / middle / far from it, and a track without analysis."""
    rng = np.random.default_rng(11)
    folder.mkdir()
    crate = Crate(library, folder, cards, vocabulary)
    query = {m: rng.normal(size=cards[m].embedding_dim).astype(np.float32) for m in MODELS}
    crate.add("query", query, bpm=124.0, key="A minor")
    crate.add("near", around(rng, query, 0.2), bpm=125.0, key="E minor")
    crate.add("middle", around(rng, query, 1.0), bpm=90.0, key="F# major")
    crate.add("far", {m: -query[m] for m in MODELS})
    crate.add("unanalysed")
    return crate


@pytest.fixture(scope="module")
def cards():
    from musictagger.catalog import load_card

    return {name: load_card(name) for name in MODELS}


@pytest.fixture
def panel(qtbot, library, tmp_path, cards, vocabulary):
    runner = Runner()
    crate = fill_crate(library, tmp_path / "Music", cards, vocabulary)
    widget = SimilarPanel(library, runner)
    qtbot.addWidget(widget)
    widget.show()
    widget.crate = crate
    yield widget
    runner.shutdown()


def test_the_panel_lists_the_nearest_tracks_with_tempo_and_key(qtbot, panel):
    ids = panel.crate.ids
    panel.show_track(ids["query"])
    qtbot.waitUntil(
        lambda: panel.neighbour_ids() == [ids[n] for n in ("near", "middle", "far")], timeout=TIMEOUT_MS
    )
    table = panel.table
    assert table.item(0, COL_MATCH).text().endswith("%") and table.item(2, COL_MATCH).text().startswith("-")
    assert table.item(0, COL_BPM).text() == "125.0" and table.item(0, COL_KEY).text() == "9A"
    assert table.item(2, COL_BPM).text() == "–" and table.item(2, COL_KEY).text() == "–"
    assert table.item(0, COL_KEY).toolTip() == "E minor"
    assert [key_text("E minor", n) for n in ("open_key", "short", "musical")] == ["2m", "Em", "E minor"]
    # Compatible key and ±6 % (half/double): only "near" (E minor, 125) mixes into A minor at 124.
    panel.key_choice.setCurrentIndex(1)
    panel.tempo_choice.setChecked(True)
    qtbot.waitUntil(lambda: panel.neighbour_ids() == [ids["near"]], timeout=TIMEOUT_MS)
    panel.key_choice.setCurrentIndex(0)
    panel.tempo_choice.setChecked(False)
    qtbot.waitUntil(lambda: len(panel.neighbour_ids()) == 3, timeout=TIMEOUT_MS)
    # Double-click: the neighbour's id and path go to whoever selects it.
    with qtbot.waitSignal(panel.track_activated, timeout=TIMEOUT_MS) as activated:
        panel.table.cellDoubleClicked.emit(1, 1)
    assert activated.args == [ids["middle"], str(panel.crate.folder / "middle.ogg")]


def test_a_track_without_analysis_says_so_and_a_hidden_panel_waits(qtbot, panel):
    ids = panel.crate.ids
    panel.show_track(ids["unanalysed"])
    qtbot.waitUntil(lambda: "Not analysed yet" in panel.status.text(), timeout=TIMEOUT_MS)
    assert panel.neighbour_ids() == []
    # The library analysis reaches it: the panel asks again by itself (another track's result does not).
    panel.track_analysed(ids["near"])
    assert not panel.runner.busy(SIMILAR_LANE)
    crate = panel.crate
    with crate.library.session() as session, session.begin():
        track = session.get(Track, ids["unanalysed"])
        analysis = analysis_of(crate.cards, crate.embeddings["middle"])
        save_analysis(session, track, analysis, crate.cards, crate.vocabulary)
    panel.track_analysed(ids["unanalysed"])
    qtbot.waitUntil(lambda: panel.neighbour_ids()[:1] == [ids["middle"]], timeout=TIMEOUT_MS)
    panel.hide()
    panel.show_track(ids["near"])
    assert not panel.runner.busy(SIMILAR_LANE)  # nothing asked while nobody can see the answer
    panel.show()
    qtbot.waitUntil(lambda: panel.neighbour_ids()[:1] == [ids["query"]], timeout=TIMEOUT_MS)


def test_the_panel_names_the_tracks_copies_instead_of_listing_them(qtbot, recording_copies):
    """Real audio, analysed: the Ogg and its MP3 are one recording; the panel lists the other track
    and says where the copy is."""
    library, ids = recording_copies
    runner = Runner()
    widget = SimilarPanel(library, runner)
    qtbot.addWidget(widget)
    widget.show()
    try:
        widget.show_track(ids["tagged.ogg"])
        qtbot.waitUntil(lambda: widget.neighbour_ids() != [], timeout=TIMEOUT_MS)
        assert widget.neighbour_ids() == [ids["muldjord-chaos_god-0m30s-12s.ogg"]]
        assert widget.status.text() == (
            "1 nearest by sound, best first. The same recording is also in 1 other file: tagged_copy.mp3."
        )
        assert widget.status.toolTip().endswith("tagged_copy.mp3")
    finally:
        runner.shutdown()


def dock_of(widget):
    """The dock a side panel sits in (inside the dock's scroll area)."""
    while widget is not None and not isinstance(widget, QDockWidget):
        widget = widget.parentWidget()
    return widget


def test_the_window_shows_more_like_this_one_click_away_and_walks_to_a_neighbour(
    qtbot, tmp_path, monkeypatch, cards, vocabulary
):
    db = tmp_path / "library.sqlite"
    monkeypatch.setenv("MUSICTAGGER_DB", str(db))
    with open_library(db) as library:
        crate = fill_crate(library, tmp_path / "Music", cards, vocabulary)
    ids = crate.ids
    window = open_window(qtbot, tmp_path)
    try:
        wait_for_table(qtbot, window.library_model)
        panel = window.similar_panel
        dock = dock_of(panel)
        assert (
            isinstance(dock, QDockWidget)
            and window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
        )
        review_dock = dock_of(window.tag_actions.review_panel)
        assert dock in window.tabifiedDockWidgets(review_dock)  # a tab beside the review panel: one click
        dock.raise_()
        qtbot.waitUntil(panel.isVisible, timeout=TIMEOUT_MS)
        hidden = []
        window.library_view.select_track(ids["query"], otherwise=lambda: hidden.append(True))
        assert not hidden  # the filter shows it: selected, not opened aside
        qtbot.waitUntil(
            lambda: panel.neighbour_ids() == [ids[n] for n in ("near", "middle", "far")], timeout=TIMEOUT_MS
        )
        # Double-clicking a neighbour selects it in the library, and the panel follows it.
        panel.table.cellDoubleClicked.emit(0, 1)
        qtbot.waitUntil(lambda: window.library_view.selected_track_ids() == [ids["near"]], timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: panel.neighbour_ids()[:1] == [ids["query"]], timeout=TIMEOUT_MS)
        assert panel.track_id == ids["near"]
    finally:
        close_window(window)
