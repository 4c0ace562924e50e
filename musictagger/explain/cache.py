"""Explanations cached per (track, model + version, label, method, patch length): an LRU in memory and an
optional folder of ``.npz`` files (a user re-opening a track gets its maps back without a model pass)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from musictagger.paths import APP_NAME

ENV_CACHE_DIR = "MUSICTAGGER_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$MUSICTAGGER_CACHE_DIR/explanations`` or the platform's user cache folder for musictagger."""
    root = os.environ.get(ENV_CACHE_DIR) or user_cache_dir(APP_NAME)
    return Path(root) / "explanations"


def spectrogram_fingerprint(spectrogram: np.ndarray) -> str:
    """A track key from the spectrogram itself (shape + bytes): same audio and front end, same key."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(spectrogram.shape).encode())
    digest.update(np.ascontiguousarray(spectrogram, dtype=np.float32).tobytes())
    return digest.hexdigest()


def cache_key(
    track_key: str, model: str, model_version: str, label: str, method: str, patch_frames: int
) -> str:
    text = "\x1f".join([track_key, model, model_version, label, method, str(patch_frames)])
    return hashlib.sha256(text.encode()).hexdigest()


class ExplanationCache:
    """``get``/``put`` of maps by key; ``directory=None`` keeps them in memory only."""

    def __init__(self, max_items: int = 32, directory: str | os.PathLike | None = None):
        self.max_items = max(1, int(max_items))
        self.directory = Path(directory) if directory is not None else None
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # the GUI's worker and main threads may share one cache

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        if self.directory is not None:
            path = self.directory / f"{key}.npz"
            try:
                with np.load(path) as data:
                    found = data["map"].astype(np.float32)
            except (OSError, KeyError, ValueError):  # absent, or a torn/corrupt file: recompute
                return None
            self._remember(key, found)
            return found
        return None

    def put(self, key: str, value: np.ndarray) -> None:
        self._remember(key, value)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Write beside, then rename: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    np.savez_compressed(handle, map=value)
                os.replace(tmp, self.directory / f"{key}.npz")
            except OSError:
                Path(tmp).unlink(missing_ok=True)  # a cache that cannot write is still a memory cache

    def clear(self) -> None:
        with self._lock:
            self._memory.clear()

    def _remember(self, key: str, value: np.ndarray) -> None:
        value.setflags(write=False)  # shared between callers: nobody may edit a cached map in place
        with self._lock:
            self._memory[key] = value
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_items:
                self._memory.popitem(last=False)
