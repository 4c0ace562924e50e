"""settings.toml: one Qt-free file for the app and the CLI; defaults once; hand edits never fatal."""

import dataclasses
import logging
import os
import stat
import tomllib

import pytest

from musictagger.library.policy import WritePolicy
from musictagger.paths import config_dir
from musictagger.settings import (
    SECTIONS,
    AnalysisSettings,
    Settings,
    SettingsValueError,
    load_settings,
    save_settings,
    settings_path,
)
from musictagger.taxonomy import SelectionPolicy


def test_the_defaults_are_the_cores_own():
    settings = Settings()
    assert settings.write_policy() == WritePolicy()
    assert settings.selection_policy() == SelectionPolicy()
    analysis = settings.analysis
    assert (analysis.device, analysis.models, analysis.heads, analysis.run_heads) == (
        "auto",
        None,
        None,
        True,
    )
    assert (analysis.batch_size, analysis.workers) == (None, 2)
    assert (settings.display.theme, settings.vocabulary) == ("dark", None)


def test_a_missing_file_is_the_defaults_and_the_file_lives_in_the_config_folder():
    assert settings_path() == config_dir() / "settings.toml"
    assert not settings_path().exists()
    assert load_settings() == Settings()


def test_round_trip_through_the_file(tmp_path):
    chosen = Settings().replace(
        analysis={"device": "cuda:1", "models": ("MTT_musicnn",), "heads": (), "batch_size": 8, "workers": 3},
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
        vocabulary=str(tmp_path / "vocabulary.json"),
    )
    path = save_settings(chosen)
    assert path == settings_path()
    again = load_settings()
    assert again == chosen
    assert again.write_policy() == WritePolicy(
        genre="merge",
        mood="skip",  # not written, whatever its mode
        max_genres=1,
        max_moods=3,
        min_score=0.35,
        comment_block=True,
        id3v23_separator=" / ",
    )
    assert again.write.mood_mode == "replace"  # kept for when mood is written again
    assert again.selection_policy() == SelectionPolicy(top_n=5, min_score=0.25)
    assert again.analysis.heads_to_run() == ()


def test_absent_means_every_model_and_head_and_no_heads_means_none(tmp_path):
    path = tmp_path / "settings.toml"
    save_settings(Settings().replace(analysis={"models": ("MSD_musicnn",)}), path)
    save_settings(Settings(), path)  # back to "every model": the key goes
    assert "models" not in tomllib.loads(path.read_text())["analysis"]
    assert load_settings(path).analysis.models is None
    assert AnalysisSettings().heads_to_run() is None
    assert AnalysisSettings(run_heads=False, heads=("genre_gtzan",)).heads_to_run() == ()


def test_a_fresh_file_explains_every_key(tmp_path):
    path = save_settings(Settings(), tmp_path / "settings.toml")
    text = path.read_text()
    assert text.startswith("# musictagger settings")
    assert "docs/settings.md" in text
    for name, cls in SECTIONS.items():
        assert f"[{name}]" in text
        for f in dataclasses.fields(cls):
            assert f"# {f.metadata['help']}" in text
            assert f.name in text  # absent keys are shown commented out
    assert "# models = [" in text and "# vocabulary = " in text
    assert tomllib.loads(text)  # valid TOML
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_saving_keeps_the_users_comments_and_unknown_keys(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(
        "# my own notes\n"
        "future_top_level = 'kept'\n\n"
        "[write]\n"
        "max_genres = 1  # one genre is enough for Rekordbox\n"
        "from_a_newer_version = [1, 2]\n\n"
        "[plugins]\nname = 'x'\n",
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    loaded = load_settings(path)
    assert loaded.write.max_genres == 1
    save_settings(loaded.replace(write={"min_score": 0.5}), path)
    text = path.read_text(encoding="utf-8")
    assert "# my own notes" in text
    assert "max_genres = 1  # one genre is enough for Rekordbox" in text
    doc = tomllib.loads(text)
    assert doc["future_top_level"] == "kept"
    assert doc["write"]["from_a_newer_version"] == [1, 2]
    assert doc["plugins"] == {"name": "x"}
    assert doc["write"]["min_score"] == 0.5
    assert load_settings(path).write.min_score == 0.5
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the user's permissions are kept
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]  # no temporary file left


def test_unusable_values_fall_back_per_key_with_a_warning_naming_it(tmp_path, caplog):
    path = tmp_path / "settings.toml"
    path.write_text(
        "vocabulary = 3\n"
        "[analysis]\n"
        "device = 'tpu'\nmodels = 'MTT_musicnn'\nworkers = 0\nbatch_size = 16\nrun_heads = 'yes'\n"
        "[display]\nthreshold = 2\ncap = 4\ntheme = 'pink'\n"
        "[write]\n"
        "max_genres = 'lots'\nmin_score = -0.1\ngenre_mode = 'overwrite'\nmood_mode = 'merge'\n"
        "comment_block = 1\nid3v23_separator = ''\ntypo_key = true\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="musictagger.settings"):
        settings = load_settings(path)
    defaults = Settings()
    assert settings == defaults.replace(
        analysis={"batch_size": 16}, display={"cap": 4}, write={"mood_mode": "merge"}
    )
    warned = caplog.text
    for key in (
        "vocabulary",
        "analysis.device",
        "analysis.models",
        "analysis.workers",
        "analysis.run_heads",
        "display.threshold",
        "display.theme",
        "write.max_genres",
        "write.min_score",
        "write.genre_mode",
        "write.comment_block",
        "write.id3v23_separator",
        "write.typo_key",
    ):
        assert key in warned, key
    assert all(r.name == "musictagger.settings" for r in caplog.records)


@pytest.mark.parametrize(
    "text",
    ["[write\nmax_genres = 1\n", "analysis = 3\n", b"\xff\xfe not utf-8", "[write]\nmax_genres = 1\n" * 2],
)
def test_a_broken_file_gives_the_defaults_and_a_warning(tmp_path, caplog, text):
    path = tmp_path / "settings.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="musictagger.settings"):
        assert load_settings(path) == Settings()
    assert caplog.records and str(path) in caplog.text


def test_saving_over_a_broken_file_keeps_a_backup(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[write\n", encoding="utf-8")
    save_settings(Settings().replace(display={"cap": 7}), path)
    assert load_settings(path).display.cap == 7
    assert (tmp_path / "settings.toml.bak").read_text(encoding="utf-8") == "[write\n"


def test_settings_made_in_code_are_checked():
    with pytest.raises(SettingsValueError, match=r"write\.max_genres"):
        Settings().replace(write={"max_genres": -1})
    with pytest.raises(SettingsValueError, match=r"analysis\.device"):
        AnalysisSettings(device="gpu")
    with pytest.raises(ValueError, match=r"no key write\.max_genre"):
        Settings().replace(write={"max_genre": 1})
    with pytest.raises(ValueError, match="no settings table"):
        Settings().replace(colours={"x": 1})
    assert AnalysisSettings(models=["a", "b"]).models == ("a", "b")  # lists are kept as tuples


def test_the_vocabulary_setting_names_the_file_loaded(tmp_path):
    from musictagger.paths import resources_dir

    shipped = resources_dir() / "vocabulary.json"
    mine = tmp_path / "mine.json"
    mine.write_bytes(shipped.read_bytes())
    assert Settings().load_vocabulary().path == str(shipped)
    assert Settings(vocabulary=str(mine)).load_vocabulary().path == str(mine)
