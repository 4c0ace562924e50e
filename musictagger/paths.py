"""Where things live: shipped resources and models in the repo, user data and settings per platform.

Environment variables override each location so tests, portable installs and shared setups need no code
change: ``MUSICTAGGER_DATA_DIR``, ``MUSICTAGGER_CONFIG_DIR``, ``MUSICTAGGER_CACHE_DIR``,
``MUSICTAGGER_LOG_DIR``, ``MUSICTAGGER_MODELS``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP_NAME = "musictagger"


def _bundle_root() -> Path:
    # PyInstaller unpacks data next to sys._MEIPASS; from a checkout, the repo root is above the package.
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return _bundle_root() / "resources"


def data_dir() -> Path:
    """The user's data folder (the library index lives here)."""
    return Path(os.environ.get("MUSICTAGGER_DATA_DIR") or user_data_dir(APP_NAME))


def config_dir() -> Path:
    """The user's settings folder (settings and an edited vocabulary live here)."""
    return Path(os.environ.get("MUSICTAGGER_CONFIG_DIR") or user_config_dir(APP_NAME))


def cache_dir() -> Path:
    """Throw-away data that can be recomputed (explanations, training features): safe to delete."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("MUSICTAGGER_CACHE_DIR") or user_cache_dir(APP_NAME))


def log_dir() -> Path:
    """The app's and the CLI's log files (``logs.configure_logging``)."""
    from platformdirs import user_log_dir

    return Path(os.environ.get("MUSICTAGGER_LOG_DIR") or user_log_dir(APP_NAME))
