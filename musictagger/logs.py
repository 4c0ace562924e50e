"""Logging for the app and the CLI, set up once by the launcher (and again harmlessly by anyone else).

Everything under the ``musictagger`` logger goes to a rotating file in the user's log folder
(``paths.log_dir()``: ``MUSICTAGGER_LOG_DIR``, else platformdirs' user log folder), and warnings and
errors to stderr. Modules only ever do ``log = logging.getLogger(__name__)``; they never add handlers.
Records still propagate to the root logger, so pytest's ``caplog`` and an embedding program see them.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path

from musictagger.paths import log_dir

LOGGER_NAME = "musictagger"
LOG_FILE = "musictagger.log"
MAX_BYTES = 2 * 1024 * 1024  # per file; with BACKUPS old files, at most 12 MB of logs
BACKUPS = 5
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
CONSOLE_FORMAT = "musictagger: %(levelname)s: %(message)s"

_lock = threading.Lock()


class _FileHandler(logging.handlers.RotatingFileHandler):
    """Ours: recognised (and replaced, not duplicated) when configure_logging runs again."""


class _ConsoleHandler(logging.StreamHandler):
    pass


def configure_logging(*, verbose: bool = False, console: bool = True) -> Path:
    """Set up the ``musictagger`` logger; idempotent, and a second call applies its own arguments.

    ``verbose``: debug records in the file and info on stderr (else info and warnings). ``console``:
    warnings and errors (info with ``verbose``) on stderr; off for a GUI without a terminal. Returns
    the log folder. A folder that cannot be created leaves logging to stderr only, with a warning.
    """
    folder = log_dir()
    with _lock:
        logger = logging.getLogger(LOGGER_NAME)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
        problem = _set_file_handler(logger, folder)
        _set_console_handler(logger, logging.INFO if verbose else logging.WARNING if console else None)
    if problem:
        logger.warning("cannot write log files to %s: %s", folder, problem)
    return folder


def log_file() -> Path:
    """The current log file (the one ``configure_logging`` writes, or would write)."""
    return log_dir() / LOG_FILE


def _set_file_handler(logger: logging.Logger, folder: Path) -> str | None:
    path = folder / LOG_FILE
    current = [h for h in logger.handlers if isinstance(h, _FileHandler)]
    if len(current) == 1 and Path(current[0].baseFilename) == path.absolute():
        return None
    for handler in current:
        logger.removeHandler(handler)
        handler.close()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = _FileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    logger.addHandler(handler)
    return None


def _set_console_handler(logger: logging.Logger, level: int | None) -> None:
    for handler in [h for h in logger.handlers if isinstance(h, _ConsoleHandler)]:
        logger.removeHandler(handler)
        handler.close()
    if level is None:
        return
    handler = _ConsoleHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(CONSOLE_FORMAT))
    logger.addHandler(handler)


def _reset() -> None:
    """Remove the handlers configure_logging added (tests)."""
    with _lock:
        logger = logging.getLogger(LOGGER_NAME)
        for handler in [h for h in logger.handlers if isinstance(h, _FileHandler | _ConsoleHandler)]:
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(logging.NOTSET)
