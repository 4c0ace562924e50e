"""BPM and key in the app's table (sorted round the Camelot wheel, shown in the notation the user picks),
the BPM range and "compatible with the selected key" filters, and File ▸ Export (Rekordbox XML, M3U8)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import close_window, open_window, track_row, wait_for_table
from PySide6.QtCore import Qt

from musictagger.gui.library_model import COL_BPM, COL_KEY, COL_TITLE
from musictagger.library import open_library
from musictagger.library.rekordbox_reader import read_rekordbox_xml
from musictagger.library.serato_crates import read_crate
from musictagger.settings import load_settings, save_settings

SOURCE = Path(__file__).parent / "data" / "formats" / "untagged.wav"
# title: (bpm, key) — Camelot: A minor 8A, C major 8B, E minor 9A, D minor 7A, F# major 2B, Bb minor 3A
TRACKS = {
    "Amin": (124.0, "A minor"),
    "Cmaj": (126.5, "C major"),
    "Emin": (128.0, "E minor"),
    "Dmin": (90.0, "D minor"),
    "F#maj": (174.0, "F# major"),
    "Bbmin": (122.0, "Bb minor"),
    "nokey": (None, None),
}


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    db = tmp_path / "library.sqlite"
    music = tmp_path / "Music dj"
    music.mkdir()
    with open_library(db) as library, library.session() as session:
        for title, (bpm, key) in TRACKS.items():
            file = music / f"{title} é.wav"
            shutil.copyfile(SOURCE, file)
            session.add(track_row(file, title=title, artist="DJ", bpm=bpm, key=key, duration_s=20.0))
        session.commit()
    monkeypatch.setenv("MUSICTAGGER_DB", str(db))
    win = open_window(qtbot, tmp_path)
    wait_for_table(qtbot, win.library_model)
    yield win
    close_window(win)


def _column(model, column: int) -> list[str]:
    return [model.index(row, column).data() for row in range(model.rowCount())]


def _titles(model) -> list[str]:
    return _column(model, COL_TITLE)


def _row_of(model, title: str) -> int:
    return _titles(model).index(title)


def test_bpm_and_key_columns_show_the_chosen_notation(qtbot, window):
    model = window.library_model
    assert model.headerData(COL_BPM, Qt.Orientation.Horizontal) == "BPM"
    assert model.headerData(COL_KEY, Qt.Orientation.Horizontal) == "Key"
    row = _row_of(model, "Amin")
    assert model.index(row, COL_BPM).data() == "124.0"
    assert model.index(row, COL_KEY).data() == "8A"  # camelot by default, as DJs mix
    assert model.index(_row_of(model, "nokey"), COL_KEY).data() == ""

    # The Settings dialog's choice reaches the table (through settings.toml, as the CLI reads it).
    from musictagger.gui.settings import AppSettings

    prefs = AppSettings()
    prefs.save(prefs.current.replace(display={"key_notation": "short"}))
    window.apply_display_settings()
    assert model.index(_row_of(model, "Amin"), COL_KEY).data() == "Am"
    assert model.index(_row_of(model, "F#maj"), COL_KEY).data() == "F#"
    assert load_settings(prefs.path).display.key_notation == "short"


def test_key_sorts_round_the_camelot_wheel_and_bpm_numerically(qtbot, window):
    model, table = window.library_model, window.library_view.table
    table.sortByColumn(COL_KEY, Qt.SortOrder.AscendingOrder)
    wait_for_table(qtbot, model)
    # 2B, 3A, 7A, 8A, 8B, 9A; no key last
    assert _column(model, COL_KEY) == ["2B", "3A", "7A", "8A", "8B", "9A", ""]
    table.sortByColumn(COL_BPM, Qt.SortOrder.DescendingOrder)
    wait_for_table(qtbot, model)
    assert _titles(model) == ["F#maj", "Emin", "Cmaj", "Amin", "Bbmin", "Dmin", "nokey"]


def test_bpm_range_and_harmonic_filters(qtbot, window):
    model, facets = window.library_model, window.facets
    facets.bpm_low.setValue(123)
    facets.bpm_high.setValue(129)
    wait_for_table(qtbot, model)
    assert sorted(_titles(model)) == ["Amin", "Cmaj", "Emin"]
    facets.bpm_high.setValue(0)  # "any": no upper bound
    wait_for_table(qtbot, model)
    assert sorted(_titles(model)) == ["Amin", "Cmaj", "Emin", "F#maj"]
    facets.clear()
    wait_for_table(qtbot, model)
    assert len(_titles(model)) == len(TRACKS)

    # Select A minor (8A), tick "compatible": 8A, 7A, 9A and the relative 8B stay.
    assert not facets.harmonic.isEnabled()  # nothing selected yet
    window.library_view.table.selectRow(_row_of(model, "Amin"))
    assert facets.harmonic.isEnabled() and "8A" in facets.harmonic.text()
    facets.harmonic.setChecked(True)
    wait_for_table(qtbot, model)
    assert sorted(_titles(model)) == ["Amin", "Cmaj", "Dmin", "Emin"]
    # Browsing the filtered list keeps the reference key.
    window.library_view.table.selectRow(_row_of(model, "Dmin"))
    assert "8A" in facets.harmonic.text()
    assert facets.clear_button.isEnabled()
    facets.clear()
    wait_for_table(qtbot, model)
    assert len(_titles(model)) == len(TRACKS) and not facets.harmonic.isChecked()


def test_export_the_shown_tracks_to_rekordbox_xml_and_m3u8(qtbot, window, tmp_path):
    model, facets = window.library_model, window.facets
    facets.bpm_low.setValue(120)
    facets.bpm_high.setValue(130)
    wait_for_table(qtbot, model)
    shown = sorted(_titles(model))
    out = tmp_path / "out dir" / "crate é.xml"
    out.parent.mkdir()
    assert window.export_actions.export("rekordbox", str(out))
    qtbot.waitUntil(lambda: not window.runner.busy("export"), timeout=60_000)
    document = read_rekordbox_xml(out)
    assert sorted(track.name for track in document.tracks) == shown
    by_name = {track.name: track for track in document.tracks}
    assert by_name["Amin"].average_bpm == pytest.approx(124.0)
    assert by_name["Amin"].tonality == "Am"
    assert Path(by_name["Amin"].path).name == "Amin é.wav" and Path(by_name["Amin"].path).is_file()
    assert "Exported 4 tracks" in window.statusBar().currentMessage()

    # The same tracks for Traktor: File ▸ Export ▸ Traktor NML.
    assert window.export_actions.traktor_action.isEnabled()
    nml = tmp_path / "out dir" / "crate é.nml"
    assert window.export_actions.export("traktor", str(nml))
    qtbot.waitUntil(lambda: not window.runner.busy("export"), timeout=60_000)
    entries = ET.parse(nml).getroot().findall("COLLECTION/ENTRY")
    assert sorted(entry.get("TITLE") for entry in entries) == shown
    amin = next(entry for entry in entries if entry.get("TITLE") == "Amin")
    assert (amin.find("INFO").get("KEY"), amin.find("MUSICAL_KEY").get("VALUE")) == ("1m", "21")
    assert amin.find("LOCATION").get("FILE") == "Amin é.wav"

    # And as Serato crates: File ▸ Export ▸ Serato crates, into a _Serato_ folder.
    serato = tmp_path / "Music" / "_Serato_"
    assert window.export_actions.export("serato", str(serato))
    qtbot.waitUntil(lambda: not window.runner.busy("export"), timeout=60_000)
    everything = read_crate((serato / "Subcrates" / "musictagger%%All tracks.crate").read_bytes())
    assert sorted(Path(path).stem for path in everything) == sorted(f"{title} é" for title in shown)
    assert "crates" in window.statusBar().currentMessage()

    # Two rows selected: the selection, not the view, as an M3U8 playlist.
    table = window.library_view.table
    table.selectRow(_row_of(model, "Cmaj"))
    table.selectionModel().select(
        model.index(_row_of(model, "Emin"), 0),
        table.selectionModel().SelectionFlag.Select | table.selectionModel().SelectionFlag.Rows,
    )
    playlist = tmp_path / "two.m3u8"
    assert window.export_actions.export("m3u8", str(playlist))
    qtbot.waitUntil(lambda: not window.runner.busy("export"), timeout=60_000)
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert [Path(line).stem for line in lines if line and not line.startswith("#")] == ["Cmaj é", "Emin é"]


def test_settings_dialog_offers_the_key_notation(qtbot, tmp_path):
    from musictagger.gui.app import create_application
    from musictagger.gui.settings_dialog import SettingsDialog

    create_application([])
    path = tmp_path / "settings.toml"
    dialog = SettingsDialog(path=path)
    qtbot.addWidget(dialog)
    box = dialog.key_notation_box
    assert box.currentData() == "camelot"
    box.setCurrentIndex(box.findData("open_key"))
    dialog.accept()
    assert load_settings(path).display.key_notation == "open_key"
    save_settings(load_settings(path), path)  # and it survives a rewrite
    assert load_settings(path).display.key_notation == "open_key"


def test_mood_map_click_on_a_track_the_filter_hides_opens_it(qtbot, window):
    """The path of a hidden track is read from the index on a runner lane, not on the GUI thread."""
    from musictagger.library.schema import Track

    with window.library.session() as session:
        hidden = session.query(Track).filter_by(title="Dmin").one()
        hidden_id, hidden_path = hidden.id, hidden.path
    window.facets.bpm_low.setValue(120)
    wait_for_table(qtbot, window.library_model)
    assert "Dmin" not in _titles(window.library_model)
    window.play_track(hidden_id)
    qtbot.waitUntil(lambda: window.current_path == hidden_path, timeout=30_000)


def test_mood_map_colours_a_point_by_its_best_confident_mood(tmp_path):
    # As the table's Moods column does: Dark ranked first but under its threshold, Aggressive second and
    # over its own, is an Aggressive point, not a grey "no confident mood" one.
    from musictagger.gui.library_rows import mood_points
    from musictagger.library import TrackLabel
    from musictagger.library.track_filter import TrackFilter

    ranked = {
        "Chaos": [("Dark", 0.31, False), ("Aggressive", 0.26, True)],
        "Calm": [("Chill", 0.9, True), ("Happy", 0.6, True)],
        "Unsure": [("Happy", 0.2, False)],
    }
    with open_library(tmp_path / "library.sqlite") as library, library.session() as session:
        for title, moods in ranked.items():
            file = tmp_path / f"{title}.wav"
            shutil.copyfile(SOURCE, file)
            track = track_row(file, title=title, energy=5.0, valence=0.0)
            for rank, (label, score, confident) in enumerate(moods, start=1):
                track.labels.append(
                    TrackLabel(category="mood", label=label, score=score, rank=rank, confident=confident)
                )
            session.add(track)
        session.commit()
        points = mood_points(session, TrackFilter())
    assert dict(zip(points.names, points.top_mood, strict=True)) == {
        "Chaos": "Aggressive",
        "Calm": "Chill",
        "Unsure": "",
    }
