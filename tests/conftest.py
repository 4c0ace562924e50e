"""Shared fixtures: real audio files shipped in tests/data and models loaded once per session."""

from pathlib import Path

import pytest

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
def library(tmp_path):
    """A real, empty library index (SQLite file) in the test's own folder."""
    from musictagger.library import open_library

    with open_library(tmp_path / "library.sqlite") as lib:
        yield lib


@pytest.fixture(scope="session")
def analyzer():
    from musictagger.analysis import Analyzer

    return Analyzer(device="cpu")


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's library, settings or caches."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("MUSICTAGGER_DB", str(home / "library.sqlite"))
    monkeypatch.setenv("MUSICTAGGER_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("MUSICTAGGER_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
