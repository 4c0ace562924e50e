"""Explanations cached per (track, source + version, label, method, patch length): an LRU in memory and an
optional folder of ``.npz`` files (a user re-opening a track gets its maps back without a model pass).

The source is the network explained: a tagger by its name and card version, or a head as ``head:<name>``
with a version naming the head's and each input tagger's (``HeadNet.version``), so a retrained head or a
new tagger never serves an old map.

Entries are read and written with the research cache's helpers (``read_arrays`` tolerates a torn or
foreign file, ``write_arrays`` writes beside and renames). A damaged entry — truncated by a full disk or a
power cut, overwritten, not an ``.npz`` at all — is a cache miss: it is deleted and the map recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir

from musictagger.paths import APP_NAME
from musictagger.research.cache import read_arrays, write_arrays

log = logging.getLogger(__name__)

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
    track_key: str, source: str, source_version: str, label: str, method: str, patch_frames: int
) -> str:
    text = "\x1f".join([track_key, source, source_version, label, method, str(patch_frames)])
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
            found = self._read_entry(self.directory / f"{key}.npz")
            if found is not None:
                self._remember(key, found)
            return found
        return None

    @staticmethod
    def _read_entry(path: Path) -> np.ndarray | None:
        """The entry's map, or None when it is absent or unusable (a damaged entry is removed)."""
        try:
            arrays = read_arrays(path)
        except Exception as exc:  # e.g. zlib.error from a corrupt compressed member
            log.warning("explanation cache entry %s is unreadable (%s); recomputing", path, exc)
            arrays = None
        found = None
        if arrays is not None:
            try:
                found = np.asarray(arrays["map"], dtype=np.float32)
            except (KeyError, TypeError, ValueError):
                log.warning("explanation cache entry %s holds no usable map; recomputing", path)
        if found is None and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()  # torn or foreign: recomputed and rewritten on the next put
        return found

    def put(self, key: str, value: np.ndarray) -> None:
        self._remember(key, value)
        if self.directory is not None:
            # Written beside, then renamed: a reader never sees half a file. A cache that cannot write
            # (full or read-only disk) is logged and stays a memory cache.
            write_arrays(self.directory / f"{key}.npz", {"map": value})

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
