"""The proof that the CLI and the app are one pipeline: ``tag --write`` and the app's Write dialog, given
the same library, the same reviews and the same settings.toml, leave byte-identical files.

One small library is scanned and analysed once (by the CLI's ``scan``), then copied twice with its index
(the copies' rows pointed at their own files). Both copies get the same reviews. One is written by
``musictagger.cli.main(["tag", ..., "--write"])``, the other by the app's code path: the settings as the
app reads them (gui/settings.AppSettings) and gui/write_dialog.WriteDialog driven offscreen with pytest-qt.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
from pathlib import Path

from musictagger.cli import main as cli_main
from musictagger.library import Track, open_library
from musictagger.library.review import set_review
from musictagger.library.schema import WriteEntry
from musictagger.settings import Settings, load_settings, save_settings
from musictagger.tags import read_tags

FORMATS = Path(__file__).parent / "data" / "formats"
FILES = (
    "untagged.wav",
    "tagged.flac",
    "untagged.mp3",
    "tagged_id3v23.mp3",
    "tagged_aac.m4a",
    "tagged.ogg",
)
TIMEOUT_MS = 60_000

# The same decisions in both copies, by file name: (field, values, status).
REVIEWS = {
    "tagged.flac": ("genre", ["Lounge", "Jazz"], "edited"),
    "untagged.wav": ("mood", None, "rejected"),
    "untagged.mp3": ("genre", None, "accepted"),
    "tagged_aac.m4a": ("mood", ["Dreamy"], "edited"),
}


def copy_library(template: Path, index: Path, dest: Path) -> tuple[Path, Path]:
    """A copy of the template's files (times kept, so a rescan sees them unchanged) and of its index,
    whose rows are pointed at the copies, as a rescan would by fingerprint."""
    music = dest / "Music"
    shutil.copytree(template, music, copy_function=shutil.copy2)
    db = dest / "index.sqlite"
    shutil.copyfile(index, db)
    with open_library(db) as library, library.session() as session:
        for track in session.query(Track):
            path = music / os.path.basename(track.path)
            track.path_key, track.path, track.folder = os.fsencode(path), str(path), str(music)
        session.commit()
    return music, db


def store_reviews(db: Path) -> None:
    with open_library(db) as library, library.session() as session:
        ids = {os.path.basename(t.path): t.id for t in session.query(Track)}
        for name, (field, values, status) in REVIEWS.items():
            set_review(session, [ids[name]], field, values, status)
        session.commit()


def journal(db: Path) -> dict[str, dict]:
    """{file name: (old values, new values)} of every written journal entry."""
    with open_library(db) as library, library.session() as session:
        entries = session.query(WriteEntry).filter(WriteEntry.status == "written")
        return {os.path.basename(os.fsdecode(e.path_key)): (e.old, e.new) for e in entries}


def test_tag_write_and_the_apps_write_leave_byte_identical_files(qtbot, tmp_path):
    from musictagger.gui.app import create_application
    from musictagger.gui.settings import AppSettings
    from musictagger.gui.write_dialog import WriteDialog

    # One settings.toml for both (the test's own config folder): non-default on purpose.
    save_settings(
        Settings().replace(
            analysis={
                "device": "cpu",
                "models": ("MSD_musicnn", "MTT_musicnn"),
                "run_heads": False,
                "workers": 1,
            },
            write={
                "genre_mode": "merge",
                "mood_mode": "replace",
                "max_genres": 2,
                "max_moods": 1,
                "min_score": 0.1,
                "comment_block": True,
                "id3v23_separator": " / ",
            },
        )
    )
    template = tmp_path / "template" / "Music"
    template.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(FORMATS / name, template / name)
    template_db = tmp_path / "template" / "index.sqlite"
    assert cli_main(["scan", str(template), "--db", str(template_db), "--quiet"]) == 0

    cli_music, cli_db = copy_library(template, template_db, tmp_path / "cli")
    app_music, app_db = copy_library(template, template_db, tmp_path / "app")
    store_reviews(cli_db)
    store_reviews(app_db)

    # The command line.
    assert cli_main(["tag", str(cli_music), "--write", "--db", str(cli_db), "--quiet"]) == 0

    # The app: its settings, its dialog, its background runner.
    create_application([])
    prefs = AppSettings()
    with open_library(app_db) as library:
        with library.session() as session:
            track_ids = [t.id for t in session.query(Track).order_by(Track.id)]
        dialog = WriteDialog(library, load_settings().load_vocabulary(), track_ids, prefs.write_policy())
        qtbot.addWidget(dialog)
        if not dialog.plans:
            qtbot.waitSignal(dialog.planned, timeout=TIMEOUT_MS).wait()
        assert dialog.files_to_write() == len(FILES)
        with qtbot.waitSignal(dialog.finished_writing, timeout=TIMEOUT_MS) as blocker:
            dialog.write()
        report = blocker.args[0]
        assert report.written == len(FILES) and not report.failed
        dialog.close()

    # Byte for byte, every file.
    for name in FILES:
        written = (cli_music / name).read_bytes()
        assert written == (app_music / name).read_bytes(), name
        assert written != (template / name).read_bytes(), f"{name} was not written"
    assert journal(cli_db) == journal(app_db)

    # And what was written is the settings under the reviews.
    assert read_tags(cli_music / "tagged.flac")["genre"] == ["Lounge", "Jazz"]
    assert read_tags(cli_music / "untagged.wav").get("mood") == read_tags(template / "untagged.wav").get(
        "mood"
    )
    assert read_tags(cli_music / "tagged_aac.m4a")["mood"] == ["Dreamy"]
    assert len(read_tags(cli_music / "untagged.mp3")["mood"]) == 1  # max_moods 1, replace
    assert all(read_tags(cli_music / name)["comment"][0] for name in FILES)  # the comment block
