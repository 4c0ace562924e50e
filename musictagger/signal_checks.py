"""Whether a decoded signal can carry a tempo, a key, a genre or a mood at all: long enough, and not silent.

Tempo and key estimators answer something for any input, and so do the taggers (a silent file "sounds"
like Rock, Happy to them); these checks make a 2-second jingle or a silent file get no BPM, no key and no
genre or mood, with a reason a user can read, instead of a made-up value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Six seconds hold at least seven beats at 70 BPM and dozens of key-estimation frames: less than that
# and a tempo or key is a guess.
MIN_SECONDS = 6.0
# Below -60 dBFS RMS a track is silence (or hiss) for every practical purpose.
SILENCE_DBFS = -60.0
_CHUNK = 1 << 16


def rms_dbfs(signal: np.ndarray | Sequence[np.ndarray]) -> float:
    """The RMS level in dB relative to full scale (-inf for digital silence) of a signal, or of the
    pieces of one taken together."""
    pieces = [signal] if isinstance(signal, np.ndarray) else list(signal)
    count = sum(piece.size for piece in pieces)
    if count == 0:
        return float("-inf")
    # Chunks of float32 dot products summed as Python floats: exact enough, and no float64 copy of a
    # 2-hour mix (900 MB) only to be squared.
    energy = sum(
        float(np.dot(flat[i : i + _CHUNK], flat[i : i + _CHUNK]))
        for flat in (piece.ravel() for piece in pieces)
        for i in range(0, flat.size, _CHUNK)
    )
    rms = math.sqrt(energy / count)
    return 20.0 * math.log10(rms) if rms > 0 else float("-inf")


def _silence(level: float) -> str:
    return "digital silence" if level == float("-inf") else f"{level:.0f} dBFS"


def untaggable_reason(
    pieces: Sequence[np.ndarray], n_samples: int, sample_rate: int, patch_seconds: float
) -> str | None:
    """Why a track can carry no genre or mood (shorter than one of the taggers' patches, or silent), or
    None when it can. ``pieces``: the decoded audio, whole or the excerpts library mode reads;
    ``n_samples``: the whole track's length at ``sample_rate``."""
    seconds = n_samples / sample_rate
    if seconds < patch_seconds:
        shown = math.floor(seconds * 10) / 10  # 2.97 s must not read "3.0 s, needs 3 s"
        needs = f"a genre or mood needs at least {patch_seconds:.0f} s of audio"
        return f"too short to tag ({shown:.1f} s; {needs})"
    level = rms_dbfs(pieces)
    if level < SILENCE_DBFS:
        return f"silent ({_silence(level)}): nothing to tag"
    return None


def unusable_reason(signal: np.ndarray, sample_rate: int, min_seconds: float = MIN_SECONDS) -> str | None:
    """Why ``signal`` can carry no tempo or key (too short, silent), or None when it can."""
    seconds = len(signal) / sample_rate
    if seconds < min_seconds:
        return f"too short ({seconds:.1f} s; a tempo or key needs at least {min_seconds:.0f} s)"
    level = rms_dbfs(signal)
    if level < SILENCE_DBFS:
        return f"silent ({_silence(level)})"
    return None
