"""A disk cache of each clip's model inputs, so training decodes every audio file once, not every epoch.

:class:`PatchCache` turns an audio file into musicnn's input — 3-second log-mel patches ``(n, 187, 96)`` —
plus, optionally, the hand-made feature sequences of the same patches ``(n, 94, N_FEATURES)`` for the
parallel CNN. Computed exactly as the app's Analyzer does (``load_audio`` at 16 kHz, ``LogMelSpectrogram``
with musicnn's settings, non-overlapping patches on the 187-frame grid, the last partial patch dropped, a
clip shorter than one patch zero-padded to one), so a model trained on these inputs sees at run time what
it saw in training.

**Which patches.** At most ``max_patches`` (default 10 = 30 s) consecutive patches are kept, taken from
the *centre* of the file (still on the Analyzer's patch grid, so each kept patch is one the Analyzer
feeds the model). For the 30-second clips of GTZAN, FMA and MER that is every patch; for whole songs the
centre is more typical of the track than the intro, which is often quieter, sparser or spoken.

**Storage.** One ``.npz`` per clip under ``root`` (default ``<cache dir>/patches``), named by the sha256 of
the file's absolute path, size and modification time, the settings and :data:`CACHE_VERSION`: editing or
replacing the file, or changing a setting, misses the old entry instead of reading stale inputs. The mel
is stored as float16 (half the disk; the rounding, under 2e-3 on values of 0-5, is far below what
training notices); :meth:`PatchCache.get` returns the same float16-rounded values on a miss as on a hit,
so an epoch does not depend on whether the entry existed. Entries are written to a temporary file and
renamed into place (atomic), so a killed run never leaves a half-written entry; an unreadable entry
(disk trouble, a foreign file) is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from musictagger.audio import load_audio
from musictagger.errors import AudioLoadError
from musictagger.spectrogram import LogMelSpectrogram

__all__ = ["CACHE_VERSION", "ClipInputs", "PatchCache", "entry_for", "read_arrays", "write_arrays"]

log = logging.getLogger(__name__)

#: Part of every key: bump it when the way inputs are computed changes, and old entries stop matching.
CACHE_VERSION = "patches-1"

SAMPLE_RATE = 16000
PATCH_FRAMES = 187  # 3 s at 62.5 frames/s: musicnn's patch


def entry_for(root: Path, settings: Mapping[str, Any]) -> Path:
    """The ``.npz`` entry under ``root`` for ``settings`` (which name the file, its size and mtime and
    everything the stored arrays depend on): a sha256 key, fanned out by its first two characters so
    folders stay small for datasets of tens of thousands of clips."""
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return root / key[:2] / f"{key}.npz"


def read_arrays(entry: Path) -> dict[str, np.ndarray] | None:
    """An entry's arrays, or None when it is missing or unreadable (then the caller recomputes it)."""
    if not entry.is_file():
        return None
    try:
        with np.load(entry, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    # A damaged entry can fail in the zip layer (BadZipFile, EOFError), in a corrupt deflate stream
    # (zlib.error), an unsupported compression (NotImplementedError) or numpy's header parser
    # (tokenize.TokenError, ValueError): each means "recompute it", never a crash.
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        NotImplementedError,
        zipfile.BadZipFile,
        zlib.error,
        tokenize.TokenError,
    ) as exc:
        log.warning("cache entry %s is unreadable (%s); recomputing", entry, exc)
        return None


def write_arrays(entry: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Store an entry atomically; a full or read-only disk is logged, never raised (the caller has the
    values already, the cache only saves recomputing them)."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        # Unique name in the same folder (same file system, so os.replace is an atomic rename); no
        # fsync: after a power cut a truncated entry is merely unreadable, and unreadable is recomputed.
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=entry.stem[:16], suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # uncompressed: log-mel barely compresses, and loads faster
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cannot write cache entry %s (%s)", entry, exc)


class ClipInputs(NamedTuple):
    """A clip's model inputs: ``mel`` float32 ``(n, 187, 96)``; ``features`` float32 ``(n, 94, N)``/None."""

    mel: np.ndarray
    features: np.ndarray | None


class PatchCache:
    """Computes and caches :class:`ClipInputs` per audio file (see the module docstring for the details).

    ``hits`` and ``misses`` count how :meth:`get` was answered (for progress reports). Decoding errors
    propagate as :class:`musictagger.errors.AudioLoadError` for the caller to report per file. Safe to
    share between threads: entries are written under unique temporary names and replaced atomically.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        with_features: bool = False,
        *,
        max_patches: int | None = 10,
        sample_rate: int = SAMPLE_RATE,
        patch_frames: int = PATCH_FRAMES,
        mel_settings: dict | None = None,
    ):
        if root is None:
            from musictagger.paths import cache_dir

            root = cache_dir() / "patches"
        if max_patches is not None and max_patches < 1:
            raise ValueError(f"max_patches must be at least 1 (or None for all), not {max_patches}")
        self.root = Path(root)
        self.with_features = bool(with_features)
        self.max_patches = max_patches
        self.sample_rate = int(sample_rate)
        self.patch_frames = int(patch_frames)
        self.mel_settings = dict(mel_settings or {})
        self.frontend = LogMelSpectrogram.from_settings(self.mel_settings, self.sample_rate)
        self._features = None
        if self.with_features:
            # Imported only when asked for: the features need librosa, the mel-only cache does not.
            from musictagger.research import features

            self._features = features
        self.hits = 0
        self.misses = 0
        self._count_lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ public

    def get(self, path: str | os.PathLike) -> ClipInputs:
        """The clip's inputs: from the cache when the file is unchanged, else computed and stored."""
        entry = self.entry_path(path)
        cached = self._read(entry)
        if cached is not None:
            with self._count_lock:
                self.hits += 1
            return cached
        inputs = self.compute(path)
        self._write(entry, inputs)
        with self._count_lock:
            self.misses += 1
        return inputs

    def entry_path(self, path: str | os.PathLike) -> Path:
        """Where ``path``'s entry lives, given the file's current size and modification time."""
        path = os.path.abspath(os.fspath(path))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise AudioLoadError(path, "file not found") from None
        except OSError as exc:
            raise AudioLoadError(path, f"cannot read ({exc.strerror or exc})") from exc
        settings = {
            "version": CACHE_VERSION,
            "path": path,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sample_rate": self.sample_rate,
            "mel": self.mel_settings,
            "patch_frames": self.patch_frames,
            "max_patches": self.max_patches,
            "features": None
            if self._features is None
            else [list(self._features.FEATURE_NAMES), getattr(self._features, "FEATURES_VERSION", None)],
        }
        return entry_for(self.root, settings)

    def compute(self, path: str | os.PathLike) -> ClipInputs:
        """The clip's inputs computed from the audio (no cache), float16-rounded as stored."""
        waveform = load_audio(path, sample_rate=self.sample_rate)
        P, hop = self.patch_frames, self.frontend.hop_length
        n_frames = self.frontend.num_frames(len(waveform))
        total = max(1, n_frames // P)
        take = total if self.max_patches is None else min(total, self.max_patches)
        first = (total - take) // 2  # centred, on the patch grid
        mel = self._mel_frames(waveform, first * P, (first + take) * P)
        if mel.shape[0] < take * P:  # only a clip shorter than one patch: silence (log-mel 0) after it
            mel = np.pad(mel, ((0, take * P - mel.shape[0]), (0, 0)))
        mel = mel.reshape(take, P, mel.shape[-1]).astype(np.float16).astype(np.float32)
        features = None
        if self._features is not None:
            samples = P * hop
            start = first * samples
            features = self._features.patch_features(
                waveform[start : start + take * samples], self.sample_rate, samples, take
            ).astype(np.float32)
        return ClipInputs(mel, features)

    # ---------------------------------------------------------------------------------------- internals

    @torch.no_grad()
    def _mel_frames(self, waveform: np.ndarray, f0: int, f1: int) -> np.ndarray:
        """Frames ``[f0, f1)`` of ``LogMelSpectrogram(waveform)`` (fewer if the signal ends first), computed
        from just the samples they need: a long song is not transformed whole to keep 30 s of it."""
        fe = self.frontend
        hop, half = fe.hop_length, fe.n_fft // 2 if fe.center else 0
        context = -(-half // hop) * hop  # samples before frame f0's centre that it sees, whole hops
        start = max(0, f0 * hop - context)
        stop = f1 * hop + context
        piece = waveform[start:stop]
        # The real signal's ends get the frontend's own centre padding because the piece ends there too;
        # inside the signal the piece carries `context` real samples, so no padding reaches a kept frame.
        n_piece_frames = fe.num_frames(len(piece))
        if len(piece) < fe.n_fft:  # only for a clip shorter than one FFT window, as the Analyzer does
            piece = np.pad(piece, (0, fe.n_fft - len(piece)))
        mel = fe(torch.from_numpy(np.ascontiguousarray(piece, dtype=np.float32)))[:n_piece_frames]
        skip = (f0 * hop - start) // hop
        return mel[skip : skip + (f1 - f0)].numpy()

    def _read(self, entry: Path) -> ClipInputs | None:
        arrays = read_arrays(entry)
        if arrays is None:
            return None
        try:
            mel = arrays["mel"].astype(np.float32)
            features = arrays["features"].astype(np.float32) if self._features is not None else None
        except KeyError as exc:
            log.warning("cache entry %s lacks %s; recomputing", entry, exc)
            return None
        if not self._valid(mel, features):
            log.warning("cache entry %s has unexpected shapes; recomputing", entry)
            return None
        return ClipInputs(mel, features)

    def _valid(self, mel: np.ndarray, features: np.ndarray | None) -> bool:
        n_mels = self.frontend.n_mels
        if mel.ndim != 3 or mel.shape[1:] != (self.patch_frames, n_mels) or mel.shape[0] < 1:
            return False
        if self.max_patches is not None and mel.shape[0] > self.max_patches:
            return False
        if features is not None:
            if features.ndim != 3 or features.shape[0] != mel.shape[0]:
                return False
            if features.shape[2] != self._features.N_FEATURES:
                return False
        return True

    def _write(self, entry: Path, inputs: ClipInputs) -> None:
        arrays = {"mel": inputs.mel.astype(np.float16)}
        if inputs.features is not None:
            arrays["features"] = inputs.features
        write_arrays(entry, arrays)
