"""Review panel, write dialog and settings, driven offscreen (pytest-qt) on a real index.

Copies of tests/data/formats files in tmp_path, scanned with scanner.scan and analysed with the real
models (store.analyse_pending, CPU) — three 3.5 s files, so the models' own labels drive the panel. Tags are
read back with read_tags; the dry run is compared with writing.format_diff.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import tomllib
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from musictagger.gui.app import create_application
from musictagger.gui.review_panel import ReviewPanel, parse_values
from musictagger.gui.settings import AppSettings
from musictagger.gui.settings_dialog import SettingsDialog
from musictagger.gui.write_dialog import WriteDialog
from musictagger.library import Track, open_library
from musictagger.library.policy import WritePolicy
from musictagger.library.review import planned_writes_with_reviews, reviews_for
from musictagger.library.scanner import scan
from musictagger.library.store import analyse_pending
from musictagger.library.writing import format_diff
from musictagger.services.suggest import track_suggestions
from musictagger.settings import Settings, load_settings, save_settings, settings_path
from musictagger.tags import read_tags
from musictagger.taxonomy import SelectionPolicy, load_vocabulary

FORMATS = Path(__file__).parent / "data" / "formats"
FILES = ("untagged.wav", "tagged.flac", "untagged.mp3")
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def analysed_index(tmp_path_factory, analyzer):
    """A scanned and analysed index of three copies; each test works on its own copy of it."""
    root = tmp_path_factory.mktemp("analysed")
    music = root / "music"
    music.mkdir()
    for name in FILES:
        shutil.copyfile(FORMATS / name, music / name)
    vocabulary = load_vocabulary()
    with open_library(root / "index.sqlite") as lib:
        scan(lib, [music], read_workers=1)
        report = analyse_pending(lib, analyzer, vocabulary, decode_workers=1)
        assert report.analysed == len(FILES), report.errors
    return root


@pytest.fixture
def env(qtbot, tmp_path, analysed_index):
    """(library, vocabulary, {file name: track id}, music folder) on a private copy of the index."""
    create_application([])
    music = tmp_path / "music"
    shutil.copytree(analysed_index / "music", music)
    shutil.copyfile(analysed_index / "index.sqlite", tmp_path / "index.sqlite")
    lib = open_library(tmp_path / "index.sqlite")
    with lib.session() as session:
        # The copy's files live elsewhere: point the rows at them (as a rescan would, by fingerprint).
        ids = {}
        for track in session.query(Track):
            name = os.path.basename(track.path)
            track.path_key = os.fsencode(music / name)
            track.path = str(music / name)
            ids[name] = track.id
        session.commit()
    yield lib, load_vocabulary(), ids, music
    lib.close()


def show(qtbot, panel, track_ids):
    """Select tracks in the panel and wait until they are shown (loaded on the runner's review lane)."""
    with qtbot.waitSignal(panel.shown, timeout=TIMEOUT_MS):
        panel.show_tracks(track_ids)


def decided(qtbot, panel, action):
    """Do what a reviewer does and wait until the decision is stored and shown back."""
    with qtbot.waitSignal(panel.review_changed, timeout=TIMEOUT_MS):
        action()


def test_parse_values_canonicalises_known_names(env):
    _, vocabulary, _, _ = env
    assert parse_values(" hip hop ; My Own Thing,, jazz", vocabulary) == ["Hip-Hop", "My Own Thing", "Jazz"]


def test_panel_accept_edit_reject_persist(qtbot, env):
    lib, vocabulary, ids, _ = env
    panel = ReviewPanel(lib, vocabulary, SelectionPolicy(top_n=3, min_score=0.0))
    qtbot.addWidget(panel)
    track = ids["untagged.wav"]
    show(qtbot, panel, [track])
    suggested = list(panel.genre.accept_buttons)
    assert suggested, "the models suggest at least one genre"
    assert "In the file — genre: (none)" in panel.in_file.text()

    with qtbot.waitSignal(panel.review_changed) as blocker:
        panel.genre.accept_buttons[suggested[0]].click()
    assert blocker.args == [[track]]
    with lib.session() as session:
        review = reviews_for(session, [track])[track]["genre"]
    assert (review.status, review.values) == ("accepted", (suggested[0],))

    decided(qtbot, panel, lambda: panel.mood.set_values_text("chill; My Own Mood"))
    with lib.session() as session:
        review = reviews_for(session, [track])[track]["mood"]
    assert (review.status, review.values) == ("edited", ("Chill", "My Own Mood"))
    assert panel.mood.edit.text() == "Chill; My Own Mood"  # shown back after the refresh

    # The only accepted value: the field is rejected.
    decided(qtbot, panel, panel.genre.reject_buttons[suggested[0]].click)
    with lib.session() as session:
        assert reviews_for(session, [track])[track]["genre"].status == "rejected"

    decided(qtbot, panel, panel.genre.reset_button.click)
    with lib.session() as session:
        assert set(reviews_for(session, [track])[track]) == {"mood"}

    # A fresh panel on the same index shows what was stored.
    again = ReviewPanel(lib, vocabulary)
    qtbot.addWidget(again)
    show(qtbot, again, [track])
    assert again.mood.edit.text() == "Chill; My Own Mood"
    assert again.mood.decision.text().startswith("Edited")


def test_panel_accept_all_for_a_selection(qtbot, env):
    lib, vocabulary, ids, _ = env
    panel = ReviewPanel(lib, vocabulary)
    qtbot.addWidget(panel)
    selection = sorted(ids.values())
    show(qtbot, panel, selection)
    assert panel.title.text() == "3 tracks"
    # How many of them a write gives a value, by the write's own rules, before anything is decided.
    with lib.session() as session:
        found = track_suggestions(session, vocabulary, selection, Settings())
    for field, widget in panel.fields.items():
        having = sum(bool(found[t][field].values) for t in selection)
        assert f"3 tracks; not reviewed. A write has a {field} for {having} of them" in widget.decision.text()
        assert (f"{3 - having} have no confident {field}" in widget.decision.text()) == (having < 3)
    with qtbot.waitSignal(panel.review_changed):
        panel.accept_all_button.click()
    with lib.session() as session:
        reviews = reviews_for(session, selection)
    assert all(
        reviews[t][f].status == "accepted" and reviews[t][f].values is None
        for t in selection
        for f in ("genre", "mood")
    )


def test_panel_counts_a_selection_track_without_analysis_apart(qtbot, env):
    lib, vocabulary, _, music = env
    shutil.copyfile(FORMATS / "tagged.ogg", music / "new.ogg")
    scan(lib, [music], read_workers=1)  # found, not analysed yet
    with lib.session() as session:
        selection = [track.id for track in session.query(Track)]
    assert len(selection) == 4
    panel = ReviewPanel(lib, vocabulary)
    qtbot.addWidget(panel)
    show(qtbot, panel, selection)
    for field, widget in panel.fields.items():
        assert "1 has no suggestion at all (not analysed" in widget.decision.text(), field


def _marked(field_review) -> list[str]:
    """The suggestion rows marked ✓, as a user reads them."""
    return [
        row.label for row in field_review._rows if not row.name.isHidden() and row.name.text().endswith(" ✓")
    ]


@pytest.mark.parametrize("name", ["untagged.wav", "tagged.flac"])
@pytest.mark.parametrize(
    "policy",
    [WritePolicy(), WritePolicy(min_score=0.0), WritePolicy(min_score=1.0), WritePolicy(genre="merge")],
    ids=["calibrated", "everything", "nothing", "merge"],
)
def test_panel_says_what_a_write_would_put_in_each_field(qtbot, env, policy, name):
    """The ✓ marks are the values the write takes (track_suggestions) and the line under them names what
    the write's own plan leaves in the field (planned_writes_with_reviews), under whatever policy the
    settings hold, on a file without tags and on one that has a genre already."""
    lib, vocabulary, ids, _ = env
    panel = ReviewPanel(lib, vocabulary, SelectionPolicy(top_n=3, min_score=0.1), policy)
    qtbot.addWidget(panel)
    track = ids[name]
    show(qtbot, panel, [track])

    def expected_lines(status: str) -> dict[str, tuple[list[str], str]]:
        with lib.session() as session:
            taken = track_suggestions(session, vocabulary, [track], Settings(), policy=policy)[track]
            plans = planned_writes_with_reviews(session, [track], policy, vocabulary)
        planned = plans[0].new if plans else {}
        found = {}
        for field in ("genre", "mood"):
            written = list(taken[field].values)
            if field in planned:
                line = f"{status}: a write makes the {field} {'; '.join(planned[field])}."
            elif written:
                kept = f"a write keeps the file's {field} ({taken[field].mode})"
                line = f"{status}: {'; '.join(written)}, but {kept}."
            else:
                line = f"{status}: no confident {field}, so a write leaves the field as it is."
            found[field] = (written, line)
        return found

    for field, (written, line) in expected_lines("Not reviewed").items():
        assert _marked(panel.fields[field]) == written, field
        assert panel.fields[field].decision.text() == line
    if policy.min_score == 1.0:  # nothing is that sure
        assert _marked(panel.genre) == _marked(panel.mood) == []
    if policy.min_score == 0.0:  # every suggestion passes: the field's cap decides
        assert len(_marked(panel.genre)) == min(policy.max_genres, len(panel.genre.accept_buttons))
    if name == "tagged.flac" and policy == WritePolicy():  # it has a genre; fill keeps it
        assert "but a write keeps the file's genre (fill)" in panel.genre.decision.text()

    # Accept all: the confident suggestions replace the file's; with none confident, nothing is written.
    decided(qtbot, panel, panel.accept_all_button.click)
    for field, (_written, line) in expected_lines("Accepted").items():
        assert panel.fields[field].decision.text() == line


def test_panel_follows_the_settings_write_policy(qtbot, env):
    lib, vocabulary, ids, _ = env
    panel = ReviewPanel(lib, vocabulary, SelectionPolicy(top_n=3, min_score=0.1), WritePolicy(min_score=0.0))
    qtbot.addWidget(panel)
    show(qtbot, panel, [ids["untagged.wav"]])
    assert _marked(panel.genre)
    with qtbot.waitSignal(panel.shown, timeout=TIMEOUT_MS):
        panel.set_policies(SelectionPolicy(top_n=3, min_score=0.1), WritePolicy(genre="skip", min_score=0.0))
    assert _marked(panel.genre) == [] and panel.genre.decision.text() == "The settings do not write genres."
    assert _marked(panel.mood)


def _open_write_dialog(qtbot, lib, vocabulary, track_ids, policy):
    dialog = WriteDialog(lib, vocabulary, track_ids, policy)
    qtbot.addWidget(dialog)
    if not dialog.plans:
        with qtbot.waitSignal(dialog.planned, timeout=TIMEOUT_MS):
            pass
    return dialog


def test_write_dialog_writes_reviewed_values_and_undo_restores(qtbot, env, monkeypatch):
    lib, vocabulary, ids, music = env
    panel = ReviewPanel(lib, vocabulary)
    qtbot.addWidget(panel)
    flac, wav = ids["tagged.flac"], ids["untagged.wav"]
    show(qtbot, panel, [flac])
    decided(qtbot, panel, lambda: panel.genre.set_values_text("Lounge; jazz"))
    show(qtbot, panel, [wav])
    decided(qtbot, panel, lambda: panel.mood.set_values_text("Dreamy"))
    before = {name: read_tags(music / name) for name in ("tagged.flac", "untagged.wav")}

    policy = WritePolicy(genre="fill", mood="fill")
    dialog = _open_write_dialog(qtbot, lib, vocabulary, [flac, wav], policy)
    with lib.session() as session:
        expected = planned_writes_with_reviews(session, [flac, wav], policy, vocabulary)
    assert dialog.diff_view.toPlainText() == format_diff(expected)
    assert dialog.write_button.text() == "Write 2 files"

    with qtbot.waitSignal(dialog.finished_writing, timeout=TIMEOUT_MS) as blocker:
        dialog.write_button.click()
    report = blocker.args[0]
    assert report.written == 2 and not report.failed
    assert "Wrote 2 files, 0 failed." in dialog.result_label.text()
    assert dialog.progress.value() == dialog.progress.maximum() == 2
    assert read_tags(music / "tagged.flac")["genre"] == ["Lounge", "Jazz"]  # replaced despite fill
    assert read_tags(music / "untagged.wav")["mood"] == ["Dreamy"]

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(dialog.batch_written):
        dialog.undo_button.click()
    for name, tags in before.items():
        after = read_tags(music / name)
        assert {f: after.get(f) for f in ("genre", "mood")} == {f: tags.get(f) for f in ("genre", "mood")}
    dialog.close()


def test_write_dialog_with_nothing_to_write(qtbot, env):
    lib, vocabulary, ids, _ = env
    dialog = _open_write_dialog(
        qtbot, lib, vocabulary, list(ids.values()), WritePolicy(genre="skip", mood="skip", energy="skip")
    )
    assert not dialog.write_button.isEnabled()
    assert "Nothing to change" in dialog.diff_view.toPlainText()


def test_settings_defaults_match_the_core():
    prefs = AppSettings()  # this test's settings.toml (conftest points MUSICTAGGER_CONFIG_DIR away)
    assert not prefs.path.exists()
    assert prefs.write_policy() == WritePolicy()
    assert prefs.selection_policy() == SelectionPolicy()
    assert (prefs.device, prefs.theme, prefs.models) == ("auto", "dark", None)


def test_settings_are_settings_toml_and_survive_bad_values(tmp_path):
    prefs = AppSettings()
    assert prefs.path == settings_path()
    prefs.save(
        prefs.current.replace(
            analysis={"device": "cpu", "models": ("MTT_musicnn",)},
            display={"threshold": 0.25, "cap": 5, "theme": "light"},
            write={
                "genre_mode": "merge",
                "mood_mode": "replace",
                "write_mood": False,
                "max_genres": 1,
                "max_moods": 3,
                "min_score": 0.35,
                "comment_block": True,
                "id3v23_separator": " / ",
            },
        )
    )
    again = AppSettings()  # read back from the file, as the CLI reads it
    assert again.write_policy() == WritePolicy(
        genre="merge",
        mood="skip",
        max_genres=1,
        max_moods=3,
        min_score=0.35,
        comment_block=True,
        id3v23_separator=" / ",
    )
    assert again.current.write.mood_mode == "replace"  # kept for when mood is written again
    assert again.selection_policy() == SelectionPolicy(top_n=5, min_score=0.25)
    assert (again.device, again.models, again.theme) == ("cpu", ["MTT_musicnn"], "light")
    assert load_settings() == again.current

    # A hand edit is seen by the next read, without a restart; bad values fall back per key.
    text = settings_path().read_text(encoding="utf-8")
    text = text.replace("max_genres = 1", 'max_genres = "lots"').replace("min_score = 0.35", "min_score = 2")
    text = text.replace('genre_mode = "merge"', 'genre_mode = "overwrite"').replace('"cpu"', '"tpu"')
    settings_path().write_text(text.replace("max_moods = 3", "max_moods = 1"), encoding="utf-8")
    policy = again.write_policy()
    assert (policy.max_genres, policy.min_score, policy.genre) == (2, None, "fill")  # None: per label
    assert policy.max_moods == 1  # the readable edit is taken
    assert again.device == "auto"


def test_settings_dialog_stores_on_ok_only(qtbot):
    create_application([])
    path = settings_path()
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.device_box.itemData(0) == "auto" and dialog.device_box.findData("cuda") >= 0
    assert set(dialog.model_boxes) and all(box.isChecked() for box in dialog.model_boxes.values())
    dialog.mode_boxes["genre"].setCurrentIndex(dialog.mode_boxes["genre"].findData("replace"))
    dialog.write_boxes["mood"].setChecked(False)
    dialog.max_boxes["genre"].setValue(4)
    dialog.comment_block_box.setChecked(True)
    dialog.theme_box.setCurrentText("light")
    dialog.reject()
    assert not path.exists()  # Cancel stored nothing

    # The user's own comments and keys survive the dialog.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# my notes\n[write]\nmax_moods = 1  # one mood for the crate\nmy_key = 7\n", encoding="utf-8"
    )
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.max_boxes["mood"].value() == 1
    dialog.mode_boxes["genre"].setCurrentIndex(dialog.mode_boxes["genre"].findData("replace"))
    dialog.write_boxes["mood"].setChecked(False)
    dialog.max_boxes["genre"].setValue(4)
    dialog.comment_block_box.setChecked(True)
    assert dialog.from_copies_box.isChecked()  # on by default
    dialog.from_copies_box.setChecked(False)
    first_model = next(iter(dialog.model_boxes))
    dialog.model_boxes[first_model].setChecked(False)
    with qtbot.waitSignal(dialog.settings_saved):
        dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    saved = load_settings()
    assert saved.write_policy() == WritePolicy(
        genre="replace", mood="skip", max_genres=4, max_moods=1, comment_block=True, from_copies=False
    )
    assert first_model not in (saved.analysis.models or ())
    text = path.read_text(encoding="utf-8")
    assert "# my notes" in text and "max_moods = 1  # one mood for the crate" in text
    assert tomllib.loads(text)["write"]["my_key"] == 7
    shown = SettingsDialog()
    qtbot.addWidget(shown)
    assert not shown.write_boxes["mood"].isChecked()  # shown as stored
    assert not shown.model_boxes[first_model].isChecked()


def test_settings_dialog_keeps_a_device_set_by_hand(qtbot):
    create_application([])
    save_settings(Settings().replace(analysis={"device": "cuda:1"}))
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.device_box.currentData() == "cuda:1"
    assert dialog.edited() == load_settings()  # OK without a change changes nothing
