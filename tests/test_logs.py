"""Logging set up once: a rotating file in the log folder, warnings on stderr, idempotent."""

import logging
import os
from pathlib import Path

import pytest

from musictagger import logs
from musictagger.logs import configure_logging
from musictagger.paths import log_dir


@pytest.fixture(autouse=True)
def clean_logger():
    logs._reset()
    yield
    logs._reset()


def ours(kind) -> list[logging.Handler]:
    return [h for h in logging.getLogger("musictagger").handlers if isinstance(h, kind)]


def flush() -> None:
    for handler in logging.getLogger("musictagger").handlers:
        handler.flush()


def test_the_log_folder_comes_from_the_environment_like_the_other_folders(tmp_path, monkeypatch):
    assert log_dir() == Path(os.environ["MUSICTAGGER_LOG_DIR"])  # conftest: the test's own folder
    assert logs.log_file() == log_dir() / "musictagger.log"
    monkeypatch.setenv("MUSICTAGGER_LOG_DIR", str(tmp_path / "elsewhere"))
    assert log_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("MUSICTAGGER_LOG_DIR")
    from platformdirs import user_log_dir

    assert log_dir() == Path(user_log_dir("musictagger"))


def test_records_go_to_the_file_and_warnings_to_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICTAGGER_LOG_DIR", str(tmp_path / "logs"))
    assert configure_logging() == tmp_path / "logs"
    log = logging.getLogger("musictagger.library.scanner")
    log.debug("a debug detail")
    log.info("scanned 3 files")
    log.warning("cannot read x.mp3")
    logging.getLogger("somebody.else").warning("not ours")
    flush()
    text = (tmp_path / "logs" / "musictagger.log").read_text(encoding="utf-8")
    assert "INFO    musictagger.library.scanner [MainThread] scanned 3 files" in text
    assert "cannot read x.mp3" in text
    assert "a debug detail" not in text and "not ours" not in text
    err = capsys.readouterr().err
    assert "musictagger: WARNING: cannot read x.mp3" in err
    assert "scanned 3 files" not in err


def test_verbose_logs_debug_to_the_file_and_info_to_stderr(capsys):
    folder = configure_logging(verbose=True)
    logging.getLogger("musictagger.x").debug("the detail")
    logging.getLogger("musictagger.x").info("the news")
    flush()
    text = (folder / "musictagger.log").read_text(encoding="utf-8")
    assert "the detail" in text and "the news" in text
    err = capsys.readouterr().err
    assert "the news" in err and "the detail" not in err


def test_without_console_nothing_reaches_stderr(capsys):
    folder = configure_logging(console=False)
    logging.getLogger("musictagger.gui").error("a failure")
    flush()
    assert "a failure" in (folder / "musictagger.log").read_text(encoding="utf-8")
    assert "a failure" not in capsys.readouterr().err


def test_configuring_again_adds_no_handler_and_applies_the_new_arguments(capsys):
    folder = configure_logging()
    configure_logging()
    assert len(ours(logs._FileHandler)) == 1 and len(ours(logs._ConsoleHandler)) == 1
    logging.getLogger("musictagger").warning("once")
    flush()
    assert (folder / "musictagger.log").read_text(encoding="utf-8").count("once") == 1
    assert capsys.readouterr().err.count("once") == 1
    configure_logging(console=False)
    assert len(ours(logs._FileHandler)) == 1 and ours(logs._ConsoleHandler) == []


def test_a_new_log_folder_replaces_the_file_handler(tmp_path, monkeypatch):
    first = configure_logging()
    monkeypatch.setenv("MUSICTAGGER_LOG_DIR", str(tmp_path / "second"))
    second = configure_logging()
    assert second == tmp_path / "second" != first
    [handler] = ours(logs._FileHandler)
    assert handler.baseFilename == str(second / "musictagger.log")


def test_records_still_reach_the_root_logger(caplog):
    configure_logging(console=False)
    with caplog.at_level(logging.INFO):
        logging.getLogger("musictagger.y").info("seen by caplog")
    assert "seen by caplog" in caplog.text


def test_the_file_rotates_and_keeps_a_bounded_number_of_backups(monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    folder = configure_logging(console=False)
    log = logging.getLogger("musictagger.z")
    for i in range(400):
        log.info("record %04d %s", i, "x" * 50)
    flush()
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["musictagger.log"] + [f"musictagger.log.{n}" for n in range(1, logs.BACKUPS + 1)]
    assert all(os.path.getsize(folder / name) <= 2000 for name in files)
    assert "record 0399" in (folder / "musictagger.log").read_text(encoding="utf-8")


def test_a_log_folder_that_cannot_be_made_leaves_stderr_logging(tmp_path, monkeypatch, capsys):
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv("MUSICTAGGER_LOG_DIR", str(tmp_path / "a file" / "logs"))
    configure_logging()
    assert ours(logs._FileHandler) == []
    logging.getLogger("musictagger").warning("still said")
    err = capsys.readouterr().err
    assert "cannot write log files" in err and "still said" in err
