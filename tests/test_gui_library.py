"""The library in the desktop app, driven offscreen: add a folder, watch it analysed, filter, browse."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from helpers import close_window, open_window, wait_for_table
from PySide6.QtCore import Qt, QTimer
from sqlalchemy import insert, select, update

from musictagger.gui.app import create_application
from musictagger.gui.head_dialog import SOURCES
from musictagger.gui.library_model import COL_GENRES, COL_TITLE, ERROR_COLOR, PAGE_SIZE, LibraryModel
from musictagger.gui.library_rows import STATE_ANALYSED
from musictagger.library import open_library
from musictagger.library.schema import Analysis, Track, TrackLabel

DATA = Path(__file__).parent / "data"

FIXTURES = [
    DATA / "music" / "muldjord-chaos_god-0m30s-12s.ogg",
    DATA / "audio" / "vibe_ace.flac",
    DATA / "formats" / "tagged_id3v24.mp3",
    DATA / "formats" / "untagged.wav",
]
LIBRARY_TIMEOUT_MS = 180_000


@pytest.fixture
def music_folder(tmp_path):
    folder = tmp_path / "Music"
    folder.mkdir()
    for path in FIXTURES:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAGGER_DB", str(tmp_path / "library.sqlite"))
    win = open_window(qtbot, tmp_path)
    yield win
    close_window(win)


@pytest.fixture
def analysed(qtbot, window, music_folder):
    """The window after adding the folder through the menu's code path and waiting for the analysis."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        with qtbot.waitSignal(window.library_worker.finished, timeout=LIBRARY_TIMEOUT_MS) as blocker:
            window.add_folders([music_folder])
        # Facet counts and the empty/non-empty state follow in the background.
        qtbot.waitUntil(lambda: not window.runner.busy("library-summary"), timeout=LIBRARY_TIMEOUT_MS)
        wait_for_table(qtbot, window.library_model)
    finally:
        timer.stop()
    window.ticks = ticks
    window.reports = blocker.args
    return window


def test_first_run_shows_one_big_add_folder_action(window):
    assert window.library_stack.currentWidget() is window.empty_state
    assert window.empty_state.button.isVisible()
    assert "Add your music folder" in window.empty_state.button.text()


def test_added_folder_is_scanned_and_analysed_in_background(qtbot, analysed, music_folder):
    window = analysed
    scan_report, analyse_report = window.reports
    assert scan_report.added == len(FIXTURES)
    assert analyse_report.analysed == len(FIXTURES)
    assert window.library_stack.currentWidget() is window.tabs
    model = window.library_model
    assert model.rowCount() == len(FIXTURES)
    rows = [model.row_data(r) for r in range(model.rowCount())]
    assert all(row.state == STATE_ANALYSED for row in rows)
    # Every fixture shows a genre but the Vibe Ace excerpt: none of its genres passes its threshold
    # (Electronic 0.45 under 0.47), and its confident style (Techno) is not shown without a family.
    assert [os.path.basename(row.path) for row in rows if not row.genres] == ["vibe_ace.flac"]
    metal = next(row for row in rows if "chaos_god" in row.path)
    assert "Rock › Metal" in metal.genres  # the style beside the family it refines, as DJs name genres
    assert window.folders() == [str(music_folder)]
    assert "analysed" in window.library_label.text()
    # The event loop kept turning through scan and analysis.
    assert len(window.ticks) > 10
    max_gap = max(np.diff(window.ticks))
    assert max_gap < 0.5, f"event loop stalled for {max_gap * 1000:.0f} ms"


def test_a_track_that_cannot_be_tagged_says_why_in_the_table(qtbot, window, tmp_path):
    # A DJ sees the reason where the genres would be (the State column is off-screen in a narrow window):
    # a 0-byte file fails the scan, a 0.4-s file fails the analysis; a real track beside them is tagged.
    import soundfile

    folder = tmp_path / "Crate"
    folder.mkdir()
    shutil.copy(FIXTURES[0], folder / FIXTURES[0].name)
    (folder / "empty.mp3").write_bytes(b"")
    soundfile.write(folder / "blip.wav", np.full(3200, 0.1, dtype=np.float32), 8000)
    with qtbot.waitSignal(window.library_worker.finished, timeout=LIBRARY_TIMEOUT_MS):
        window.add_folders([folder])
    qtbot.waitUntil(lambda: not window.runner.busy("library-summary"), timeout=LIBRARY_TIMEOUT_MS)
    model = window.library_model
    wait_for_table(qtbot, model)
    cells = {Path(model.row_data(r).path).name: model.index(r, COL_GENRES) for r in range(model.rowCount())}
    assert cells["empty.mp3"].data() == "⚠ file is empty"
    assert cells["blip.wav"].data().startswith("⚠ too short to tag (0.4 s")
    assert cells["empty.mp3"].data(Qt.ItemDataRole.ForegroundRole) == ERROR_COLOR
    title = model.index(cells["blip.wav"].row(), COL_TITLE)
    assert "too short to tag" in title.data(Qt.ItemDataRole.ToolTipRole)
    tagged = cells[FIXTURES[0].name]
    assert "⚠" not in tagged.data() and "Metal" in tagged.data()
    assert tagged.data(Qt.ItemDataRole.ForegroundRole) != ERROR_COLOR


def test_facets_filter_the_table_and_combine(qtbot, analysed):
    window = analysed
    facets = window.facets
    assert "Metal" in facets.genres.labels()
    # The two-level genre: the style listed under the family it refines.
    labels = facets.genres.labels()
    metal = labels.index("Metal")
    assert facets.genres.item(metal).text().startswith("    › Metal  ·  ")
    family = next(i for i in range(metal, -1, -1) if not facets.genres.item(i).text().startswith(" "))
    assert labels[family] == "Rock"
    facets.genres.toggle(facets.genres.item_for("Metal"))
    model = window.library_model
    wait_for_table(qtbot, model)
    assert 1 <= model.rowCount() < len(FIXTURES)
    assert all(any("Metal" in name for name in model.row_data(r).genres) for r in range(model.rowCount()))
    assert facets.clear_button.isEnabled()

    # A mood on top narrows (AND) or keeps the set, never widens it.
    metal_count = model.rowCount()
    mood = facets.moods.labels()[0]
    facets.set_checked("mood", mood)
    wait_for_table(qtbot, model)
    assert model.rowCount() <= metal_count
    assert model.track_filter.genres == ("Metal",) and model.track_filter.moods == (mood,)

    facets.clear()
    wait_for_table(qtbot, model)
    assert model.rowCount() == len(FIXTURES)
    assert not facets.clear_button.isEnabled()


def test_energy_range_filters_and_the_energy_column_sorts(qtbot, analysed):
    from musictagger.gui.library_model import COL_ENERGY, COL_VALENCE

    window = analysed
    model = window.library_model
    energies = {model.row_data(r).path: model.row_data(r).energy for r in range(model.rowCount())}
    assert all(e is not None and 1 <= e <= 10 for e in energies.values())
    assert model.data(model.index(0, COL_ENERGY)) == f"{model.row_data(0).energy:.1f}"
    assert model.data(model.index(0, COL_VALENCE)).startswith(("+", "-"))
    model.sort(COL_ENERGY, Qt.SortOrder.DescendingOrder)
    wait_for_table(qtbot, model)
    shown = [model.row_data(r).energy for r in range(model.rowCount())]
    assert shown == sorted(shown, reverse=True) and "chaos_god" in model.row_data(0).path

    # "8 to 10": only the death metal (whole numbers, as DJs read them: 7.5 <= energy < 10.5).
    window.facets.energy_low.setValue(8)
    wait_for_table(qtbot, model)
    expected = [path for path, e in energies.items() if e >= 7.5]
    assert sorted(model.row_data(r).path for r in range(model.rowCount())) == sorted(expected)
    assert window.facets.clear_button.isEnabled()
    window.facets.clear()
    wait_for_table(qtbot, model)
    assert model.rowCount() == len(FIXTURES) and window.facets.energy_range() is None


def test_no_confident_genre_or_mood_shows_the_tracks_to_tag_by_hand(qtbot, analysed):
    # "No confident genre": the analysed tracks whose Genres column is empty (none of their genres passes
    # its threshold, so a write leaves their genre as it is; a style hint is shown only beside a confident
    # family). One track is made so.
    window = analysed
    model, facets = window.library_model, window.facets
    unsure = model.row_data(0)
    with window.library.session() as session, session.begin():
        session.execute(
            update(TrackLabel)
            .where(TrackLabel.track_id == unsure.id, TrackLabel.category == "genre")
            .values(confident=False)
        )
    model.reload()  # the table reads the index again
    wait_for_table(qtbot, model)
    rows = [model.row_data(r) for r in range(model.rowCount())]
    assert next(r for r in rows if r.id == unsure.id).genres == ()  # its styles, if any, not shown alone
    for category, column in (("genre", "genres"), ("mood", "moods")):
        expected = sorted(r.path for r in rows if not getattr(r, column) and r.state == STATE_ANALYSED)
        facets.without_boxes[category].setChecked(True)
        wait_for_table(qtbot, model)
        assert sorted(model.row_data(r).path for r in range(model.rowCount())) == expected, category
        assert model.track_filter.without == (category,) and facets.clear_button.isEnabled()
        if category == "genre":
            assert unsure.path in expected and len(expected) < len(rows)
        facets.clear()
        wait_for_table(qtbot, model)
        assert model.rowCount() == len(FIXTURES) and facets.without() == ()


def test_mood_facet_alone_filters(qtbot, analysed):
    window = analysed
    facets = window.facets
    label, count = facets.moods.labels()[-1], None
    item = facets.moods.item_for(label)
    count = int(item.text().rsplit("·", 1)[1])
    facets.moods.toggle(item)
    wait_for_table(qtbot, window.library_model)
    assert window.library_model.rowCount() == count


def test_search_is_debounced_and_filters(qtbot, analysed):
    window = analysed
    window.library_view.search.setText("chaos")
    assert window.library_model.rowCount() == len(FIXTURES)  # not yet: the debounce is running
    qtbot.waitUntil(lambda: window.library_model.rowCount() == 1, timeout=2000)
    assert "chaos_god" in window.library_model.row_data(0).path
    window.library_view.search.clear()
    qtbot.waitUntil(lambda: window.library_model.rowCount() == len(FIXTURES), timeout=2000)


def test_selecting_a_row_shows_the_track(qtbot, analysed):
    window = analysed
    model = window.library_model
    row = next(r for r in range(model.rowCount()) if "chaos_god" in model.row_data(r).path)
    with qtbot.waitSignal(window.worker.finished, timeout=60_000) as blocker:
        window.library_view.table.selectRow(row)
    assert blocker.args[0] == model.row_data(row).path
    assert window.current_path == model.row_data(row).path
    assert "Rock" in window.track_view.suggestions.genres.labels()  # the calibrated family
    # The heads' answers sit under the suggestions, best first.
    heads = window.track_view.suggestions.heads
    assert heads["genre_gtzan"].labels()[0] == "metal"
    assert heads["mood_quadrants"].labels()[0] == "angry/tense"


def test_opening_a_sampled_track_keeps_the_track_views_full_analysis(qtbot, tmp_path, monkeypatch):
    # Library mode sampled the track (1 patch of 4 here, 2 with its closer look); the track view analyses
    # every patch, and the index keeps that: the review panel and a write then go by the view's scores.
    from musictagger.gui.settings import AppSettings

    prefs = AppSettings()
    prefs.save(prefs.current.replace(analysis={"library_patches": 1, "tempo_key": False}))
    monkeypatch.setenv("MUSICTAGGER_DB", str(tmp_path / "library.sqlite"))
    folder = tmp_path / "One"
    folder.mkdir()
    shutil.copy(FIXTURES[0], folder / FIXTURES[0].name)
    window = open_window(qtbot, tmp_path)
    try:
        with qtbot.waitSignal(window.library_worker.finished, timeout=LIBRARY_TIMEOUT_MS):
            window.add_folders([folder])
        wait_for_table(qtbot, window.library_model)

        def sampled() -> list[bool]:
            with window.library.session() as session:
                return list(session.scalars(select(Analysis.sampled)))

        assert sampled() and all(sampled())
        panel = window.tag_actions.review_panel

        def mood_percentages() -> dict[str, str]:
            qtbot.waitUntil(lambda: panel._loading is None, timeout=60_000)
            rows = panel.fields["mood"]._rows
            return {row.label: row.percent.text() for row in rows if row.percent.isVisibleTo(panel)}

        track = window.library_model.row_data(0)
        panel.show_tracks([track.id])  # the review panel shows library mode's (sampled) scores
        before = mood_percentages()
        with qtbot.waitSignal(window.worker.finished, timeout=60_000) as shown:
            window.open_track(track.path)  # the track view analyses every patch
        qtbot.waitUntil(lambda: not window.runner.busy("keep-analysis"), timeout=60_000)
        assert sampled() and not any(sampled())
        viewed = window.track_view.vocabulary.canonical_scores(shown.args[1].label_scores())
        with window.library.session() as session:
            stored = dict(
                session.execute(
                    select(TrackLabel.label, TrackLabel.score).where(TrackLabel.category == "mood")
                ).all()
            )
        assert stored and stored == pytest.approx({label: viewed[label] for label in stored}, abs=1e-3)
        # The review panel read the track again: its moods' percentages are now the track view's.
        after = mood_percentages()
        assert after and after != before
        assert after == {label: f"{viewed[label]:.0%}" for label in after}
    finally:
        close_window(window)


def test_mood_map_shows_every_analysed_track_and_click_opens_it(qtbot, analysed):
    window = analysed
    window.tabs.setCurrentWidget(window.mood_map)  # the map's query runs in the background
    qtbot.waitUntil(lambda: not window.runner.busy("mood-map"), timeout=LIBRARY_TIMEOUT_MS)
    points = window.mood_map.points
    assert len(points.ids) == len(FIXTURES)
    # Valence across (-1..1), energy up (1-10), from the energy_valence head's stored values.
    assert points.head == "energy_valence"
    assert all(-1 <= v <= 1 for v in points.x) and all(1 <= e <= 10 for e in points.y)
    metal = next(
        i for i, name in enumerate(points.names) if "chaos_god" in name.lower() or "chaos god" in name.lower()
    )
    # Death metal is high-energy and negative.
    assert points.y[metal] > 5.5 and points.x[metal] < 0
    assert points.y[metal] == max(points.y)
    assert "energy" in window.mood_map.plot.getPlotItem().getAxis("left").labelText
    # A point's colour is the first mood of the table's Moods column (the best confident one), never
    # "no confident mood" beside a table that shows one.
    model = window.library_model
    table_moods = {model.row_data(r).id: model.row_data(r).moods for r in range(model.rowCount())}
    assert any(table_moods.values())
    for track_id, mood in zip(points.ids, points.top_mood, strict=True):
        assert mood == (table_moods[track_id][0] if table_moods[track_id] else "")
    track_id = points.ids[0]
    with qtbot.waitSignal(window.worker.finished, timeout=60_000):
        window.mood_map.track_clicked.emit(track_id)
    assert window.library_view.selected_track_ids() == [track_id]


def test_pause_holds_and_cancel_stops_the_analysis(qtbot, window, music_folder):
    # Paused before the run starts, the worker must hold at its first step: deterministic on any machine
    # (pausing after a first result races with the pool thread, which may already be done).
    results: list[int] = []
    window.library_worker.track_analysed.connect(lambda track_id, _error: results.append(track_id))
    window.pause_action.setChecked(True)
    window.add_folders([music_folder])
    qtbot.waitUntil(window.library_worker.is_holding, timeout=LIBRARY_TIMEOUT_MS)
    assert window.pause_button.isVisible() and window.cancel_button.isVisible()
    assert window.library_label.text().endswith("paused")
    qtbot.wait(2000)
    assert results == [] and window.library_model.rowCount() == 0, "work went on while paused"

    # Resume: the scan and the analysis run to the end.
    with qtbot.waitSignal(window.library_worker.finished, timeout=LIBRARY_TIMEOUT_MS) as blocker:
        window.pause_action.setChecked(False)
    assert blocker.args[1].analysed == len(FIXTURES) and len(results) == len(FIXTURES)

    # Cancel a paused rescan: it stops without doing anything, and the buttons go away.
    window.pause_action.setChecked(True)
    window.rescan()
    qtbot.waitUntil(window.library_worker.is_holding, timeout=LIBRARY_TIMEOUT_MS)
    with qtbot.waitSignal(window.library_worker.finished, timeout=LIBRARY_TIMEOUT_MS) as blocker:
        window.cancel_library_work()
    assert blocker.args == [None, None]
    assert not window.pause_button.isVisible() and not window.pause_action.isChecked()


def test_remove_folder_forgets_tracks_but_keeps_files(qtbot, analysed, music_folder):
    window = analysed
    window.remove_folder(str(music_folder))  # in the background, on the library lane
    qtbot.waitUntil(
        lambda: not window.runner.busy("library") and not window.runner.busy("library-summary"),
        timeout=LIBRARY_TIMEOUT_MS,
    )
    removed = f"Removed {len(FIXTURES)} tracks of {music_folder} from the library (files untouched)"
    assert window.status_text() == removed
    wait_for_table(qtbot, window.library_model)
    assert window.library_model.rowCount() == 0
    assert window.folders() == []
    assert len(list(music_folder.iterdir())) == len(FIXTURES)
    assert window.library_stack.currentWidget() is window.empty_state


# -- 100,000 tracks -----------------------------------------------------------------------------------

GENRES = ["Rock", "Techno", "House", "Jazz", "Hip-Hop", "Metal", "Pop", "Ambient"]
MOODS = ["Happy", "Sad", "Fast", "Chill", "Party"]


def _big_library(path: Path, n: int):
    """n tracks with two genres and one mood each, by bulk Core inserts (a few seconds)."""
    library = open_library(path)
    now = datetime(2026, 1, 1)
    rng = np.random.default_rng(0)
    scores = rng.random((n, 3))
    tracks = [
        {
            "id": i + 1,
            "path_key": f"/music/{i % 97:02d}/track{i:06d}.mp3".encode(),
            "path": f"/music/{i % 97:02d}/track{i:06d}.mp3",
            "folder": f"/music/{i % 97:02d}",
            "size": 1,
            "mtime_ns": 1,
            "duration_s": 60 + i % 300,
            "file_tags": {},
            "title": f"Title {(i * 7919) % n:06d}",
            "artist": f"Artist {i % 1000}",
            "album": None,
            "scanned_at": now,
        }
        for i in range(n)
    ]
    labels = []
    for i in range(n):
        labels.append(("genre", GENRES[i % 8], 0.5 + scores[i, 0] / 2, 1, i + 1))
        labels.append(("genre", GENRES[(i + 3) % 8], 0.1 + scores[i, 1] / 3, 2, i + 1))
        labels.append(("mood", MOODS[i % 5], scores[i, 2], 1, i + 1))
    with library.engine.begin() as connection:
        connection.execute(insert(Track), tracks)
        connection.execute(
            insert(TrackLabel),
            [
                # Confident as labelling would mark it (here from 0.5): what facets and filters count.
                {"category": c, "label": lb, "score": s, "rank": r, "track_id": t, "confident": s >= 0.5}
                for c, lb, s, r, t in labels
            ],
        )
    return library


@pytest.mark.parametrize("n", [100_000])
def test_hundred_thousand_tracks_open_scroll_and_sort_lazily(qtbot, tmp_path, n):
    create_application([])
    library = _big_library(tmp_path / "big.sqlite", n)
    try:
        from musictagger.gui.library_view import LibraryView

        started = time.perf_counter()
        model = LibraryModel(library)
        view = LibraryView(model)
        qtbot.addWidget(view)
        view.resize(1000, 600)
        view.show()
        model.reload()
        wait_for_table(qtbot, model)
        opened = time.perf_counter() - started
        assert model.matching_count() == n
        assert model.rowCount() == PAGE_SIZE  # one page, not the library
        assert opened < 5, f"opening took {opened:.1f} s"

        # Scroll to the end the way a user does: the view asks for more as the bar reaches the bottom.
        started = time.perf_counter()
        bar = view.table.verticalScrollBar()
        for _ in range(4):
            bar.setValue(bar.maximum())
            qtbot.wait(1)  # the view lays out and asks for the next page
            wait_for_table(qtbot, model)  # which arrives from the background
        assert PAGE_SIZE < model.rowCount() < n  # it fetched more, but not everything
        while model.canFetchMore():
            model.fetchMore()
            wait_for_table(qtbot, model)
        view.table.scrollToBottom()
        scrolled = time.perf_counter() - started
        assert model.rowCount() == n
        assert model.pages_loaded == -(-n // PAGE_SIZE)
        assert scrolled < 30, f"loading every page took {scrolled:.1f} s"
        assert model.index(n - 1, COL_TITLE).data()

        # Sorting re-queries and starts again from one page.
        started = time.perf_counter()
        view.table.sortByColumn(COL_TITLE, Qt.SortOrder.DescendingOrder)
        wait_for_table(qtbot, model)
        sorted_in = time.perf_counter() - started
        assert model.rowCount() == PAGE_SIZE
        assert model.index(0, COL_TITLE).data() == f"Title {n - 1:06d}"
        assert sorted_in < 5, f"sorting took {sorted_in:.1f} s"
        view.table.sortByColumn(COL_GENRES, Qt.SortOrder.DescendingOrder)  # by confidence
        wait_for_table(qtbot, model)
        assert model.row_data(0).confidence >= model.row_data(PAGE_SIZE - 1).confidence

        # Filtering by a genre and a mood narrows in SQL.
        from musictagger.library.track_filter import TrackFilter

        model.set_filter(TrackFilter(genres=("Rock",), moods=("Happy",)))
        wait_for_table(qtbot, model)
        assert 0 < model.matching_count() < n
        assert all("Rock" in model.row_data(r).genres for r in range(model.rowCount()))
    finally:
        library.close()


def test_a_reset_shows_its_first_page_before_it_reads_every_id(qtbot, tmp_path):
    # A reset runs two queries: the first page (shown at once), then every matching id (0.6 s on a million
    # tracks). Between the two the table shows rows, says "500+ tracks", has no ids for "all shown" actions,
    # and a selection asked for meanwhile is kept until the ids say where (or whether) the track is.
    from musictagger.gui.library_view import LibraryView
    from musictagger.library.track_filter import SortKey, TrackFilter

    create_application([])
    n = 3 * PAGE_SIZE
    library = _big_library(tmp_path / "big.sqlite", n)
    try:
        model = LibraryModel(library)
        view = LibraryView(model)
        qtbot.addWidget(view)
        # The view starts with no sort column (Qt's -1): the library's order, by path, which an index
        # serves (-1 once picked the last column, State, and sorted the whole library by it).
        assert model.sort_key == SortKey()
        seen, labels, hidden = {}, [], []
        model.counts_changed.connect(lambda _loaded, _matching: labels.append(view.count_label.text()))

        def first_page_shown():
            if seen:
                return
            seen.update(rows=model.rowCount(), ids=model.track_ids())
            # A track of the last page: not loaded, not yet known to match.
            view.select_track(n, otherwise=lambda: hidden.append(n))
            # The index changes between the two reads (a scan deleting a file): the third row goes.
            with library.session() as session, session.begin():
                session.delete(session.get(Track, model.row_data(2).id))
            seen["deleted"] = model.row_data(2).id

        model.modelReset.connect(first_page_shown)
        model.reload()
        wait_for_table(qtbot, model)
        qtbot.waitUntil(lambda: view.selected_track_ids() == [n], timeout=20_000)

        assert seen["rows"] == PAGE_SIZE and seen["ids"] is None
        assert labels[0] == f"{PAGE_SIZE:,}+ tracks"
        assert not hidden
        assert model.matching_count() == n - 1 and view.count_label.text() == f"{n - 1:,} tracks"
        ids = model.track_ids()
        assert seen["deleted"] not in ids
        loaded = [model.row_data(row).id for row in range(model.rowCount())]
        assert loaded == ids[: len(loaded)]  # the rows shown are the ids' order, the deleted one gone

        # A track asked for between the two reads that turns out not to match (deleted meanwhile):
        # ``otherwise``, once the ids are read.
        def sorted_page_shown():
            if "victim" in seen:
                return
            victim = next(i for i in range(n, 0, -1) if i in ids and model.row_for(i) is None)
            with library.session() as session, session.begin():
                session.delete(session.get(Track, victim))
            seen["victim"] = victim
            view.select_track(victim, otherwise=lambda: hidden.append(victim))

        model.modelReset.disconnect(first_page_shown)
        model.modelReset.connect(sorted_page_shown)
        view.table.sortByColumn(COL_TITLE, Qt.SortOrder.DescendingOrder)
        qtbot.waitUntil(lambda: "victim" in seen and hidden == [seen["victim"]], timeout=20_000)
        assert model.matching_count() == n - 2

        # A track the filter hides, the filter's matches all on its first page: ``otherwise`` at once.
        model.set_filter(TrackFilter(genres=("Rock",)))
        wait_for_table(qtbot, model)
        view.select_track(2, otherwise=lambda: hidden.append(2))  # track 2 is Techno
        assert hidden[-1] == 2 and model.track_ids() is not None
    finally:
        library.close()


def test_review_write_and_undo_from_the_window(qtbot, analysed, music_folder):
    """Select tracks, see them in the review dock, write from the Tags menu after the diff, then undo."""
    from musictagger.tags import read_tags

    window = analysed
    before = {p.name: read_tags(p) for p in music_folder.iterdir()}
    window.library_view.table.selectAll()
    window.tag_actions.show_selection()
    assert window.tag_actions.review_panel is not None

    dialog = window.tag_actions.open_write_dialog(selected_only=True)
    qtbot.waitUntil(lambda: dialog.write_button.isEnabled(), timeout=60_000)
    diff = dialog.diff_view.toPlainText()
    assert f"{music_folder / 'muldjord-chaos_god-0m30s-12s.ogg'}\n  genre: (none) → Electronic; Rock" in diff
    assert "(no confident genre: left as it is)" in diff  # the Vibe Ace excerpt: said, not guessed
    with qtbot.waitSignal(dialog.finished_writing, timeout=60_000) as written:
        dialog.write_button.click()
    assert written.args[0].written >= 1 and not written.args[0].failed
    metal = read_tags(music_folder / "muldjord-chaos_god-0m30s-12s.ogg")
    assert metal["genre"] == ["Electronic", "Rock"]  # the default policy fills the empty genre
    assert metal["energy"] == ["9"]  # Mixed In Key's EnergyLevel, a whole number
    dialog.close()

    window.tag_actions.undo_last(ask=False)  # in the background, on the runner's write lane
    assert window.runner.wait("write", 60)
    assert {p.name: read_tags(p) for p in music_folder.iterdir()} == before


def test_learn_my_genres_cross_validates_the_users_reviews_and_saves_a_head(qtbot, analysed):
    from musictagger.catalog import user_models_dir
    from musictagger.heads import available_heads
    from musictagger.library.review import set_review
    from musictagger.library.schema import Track

    window = analysed
    # The user's own names for their tracks, given in the app's review panel.
    with window.library.session() as session:
        ids = sorted(t.id for t in session.query(Track))
        set_review(session, ids[:2], "genre", ["Peak Time"], "edited")
        set_review(session, ids[2:], "genre", ["Warm-up"], "edited")
        session.commit()
    dialog = window.tag_actions.open_head_dialog()
    dialog.source.setCurrentIndex([key for key, _ in SOURCES].index("reviews"))
    dialog.name.setText("dj_sets")

    # Too few tracks per label for the minimum: a clear message, nothing to save.
    dialog.min_tracks.setValue(5)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: dialog.train_button.isEnabled(), timeout=60_000)
    assert "Need at least two genre labels" in dialog.report.toPlainText()
    assert not dialog.save_button.isEnabled()

    dialog.min_tracks.setValue(2)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=60_000)
    report = dialog.report.toPlainText()
    assert "cross-validation" in report and "accuracy" in report and "Peak Time" in report
    dialog.save_button.click()
    assert (user_models_dir() / "dj_sets" / "head.json").is_file()
    assert "dj_sets" in available_heads()
    assert "dj_sets" in window.statusBar().currentMessage()
