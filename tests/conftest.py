"""Shared fixtures: real audio files shipped in tests/data and models loaded once per session."""

import faulthandler
import gc
import shutil
import sys
from pathlib import Path

import pytest

# A real PostgreSQL server and the library_url fixture, over SQLite and PostgreSQL (tests/pg.py).
pytest_plugins = ["pg"]

DATA = Path(__file__).parent / "data"
METAL = DATA / "music" / "muldjord-chaos_god-0m30s-12s.ogg"
JAZZ = (
    DATA / "audio" / "tagged.ogg"
)  # 20 s of Kevin MacLeod's "Vibe Ace", with its original-musicnn reference
JAZZ_REFERENCE = DATA / "audio" / "tagged.ogg.npz"


@pytest.fixture(scope="module")
def vocabulary():
    """The shipped vocabulary (never a user's edited copy)."""
    from musictagger.paths import resources_dir
    from musictagger.taxonomy import VOCABULARY_FILE, load_vocabulary

    return load_vocabulary(resources_dir() / VOCABULARY_FILE)


@pytest.fixture
def library(library_url):
    """A real, empty library index: a SQLite file in the test's own folder, or a PostgreSQL database."""
    from musictagger.library import open_library

    with open_library(library_url) as lib:
        yield lib


@pytest.fixture(scope="session")
def analyzer():
    from musictagger.analysis import Analyzer

    # The exactness checks: fp32 everywhere, library mode included (bf16: test_precision.py; library
    # mode's int8 networks: test_library_int8.py).
    return Analyzer(device="cpu", precision="fp32", library_precision="same")


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's library, settings or caches."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("MUSICTAGGER_DB", str(home / "library.sqlite"))
    monkeypatch.setenv("MUSICTAGGER_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("MUSICTAGGER_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("MUSICTAGGER_LOG_DIR", str(home / "logs"))


# A hang must fail fast and say where every thread stood. pytest-timeout (``timeout`` in pyproject.toml)
# fails a test that runs too long and dumps every thread's stack, but its handler is Python code and
# cannot run while a thread deadlocks holding the GIL (the PySide6 deletion hazard of issue 11). This
# C-level watchdog can: a little later it prints every thread's stack and ends the process.
HARD_LIMIT_MARGIN_S = 60


@pytest.fixture(autouse=True)
def hang_watchdog(request):
    limit = request.config.getini("timeout")
    marker = request.node.get_closest_marker("timeout")
    if marker is not None and marker.args:
        limit = marker.args[0]
    seconds = float(limit or 0)
    if seconds > 0:
        faulthandler.dump_traceback_later(seconds + HARD_LIMIT_MARGIN_S, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def qapp(qapp_args):
    """pytest-qt's application, with the app's rule that garbage is collected on the GUI thread only."""
    from PySide6.QtWidgets import QApplication

    from musictagger.gui.app import collect_garbage_on_gui_thread

    app = QApplication.instance() or QApplication(qapp_args or ["musictagger-tests"])
    collect_garbage_on_gui_thread()
    return app


@pytest.fixture(autouse=True)
def collect_between_tests():
    """Once a Qt test has switched automatic collection off, collect after every test on this (the GUI)
    thread, so tests that run no event loop do not pile up garbage."""
    yield
    if not gc.isenabled():
        gc.collect(1)


FORMATS = DATA / "formats"
TAGGED_FILES = sorted(p.name for p in FORMATS.iterdir() if p.name.startswith("tagged"))


@pytest.fixture
def music(tmp_path):
    """A small library: every tagged format in Artist/Album folders, the untagged ones, and an excerpt."""
    root = tmp_path / "Music"
    album = root / "Kevin MacLeod" / "Jazz Sampler"
    album.mkdir(parents=True)
    for name in TAGGED_FILES:
        shutil.copy(FORMATS / name, album / name)
    shutil.copy(FORMATS / "untagged.mp3", root / "untagged.mp3")
    shutil.copy(FORMATS / "untagged.wav", root / "untagged.wav")
    (root / "Metal").mkdir()
    shutil.copy(METAL, root / "Metal" / METAL.name)
    (root / "cover.jpg").write_bytes(b"\xff\xd8 not audio, not scanned")
    return root


# The same 20 s as JAZZ, encoded as MP3 (no tags): one recording in two files (library/recordings.py).
COPY = DATA / "audio" / "tagged_copy.mp3"


@pytest.fixture
def recording_copies(library, analyzer, vocabulary, tmp_path):
    """JAZZ, its MP3 copy and the metal excerpt, scanned and analysed in library mode as the app does:
    ``(library, {file name: track id})``."""
    from sqlalchemy import select

    from musictagger.library.schema import Track
    from musictagger.services.analysis import Models, scan_and_analyse

    folder = tmp_path / "Music"
    folder.mkdir()
    for source in (JAZZ, COPY, METAL):
        shutil.copyfile(source, folder / source.name)
    _, report = scan_and_analyse(library, [folder], Models(analyzer, vocabulary, patch_budget=16))
    assert report.analysed == 3 and not report.errors
    with library.session() as session:
        paths = {path: track_id for track_id, path in session.execute(select(Track.id, Track.path))}
    return library, {path.rsplit("/", 1)[1]: track_id for path, track_id in paths.items()}
