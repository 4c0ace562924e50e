"""Whether a decoded signal can carry a tempo or a key at all: long enough, and not silent.

Tempo and key estimators answer something for any input; these checks make a 2-second jingle or a
silent file get no BPM and no key, with a reason a user can read, instead of a made-up value.
"""

from __future__ import annotations

import numpy as np

# Six seconds hold at least seven beats at 70 BPM and dozens of key-estimation frames: less than that
# and a tempo or key is a guess.
MIN_SECONDS = 6.0
# Below -60 dBFS RMS a track is silence (or hiss) for every practical purpose.
SILENCE_DBFS = -60.0


def rms_dbfs(signal: np.ndarray) -> float:
    """The signal's RMS level in dB relative to full scale (-inf for digital silence)."""
    if signal.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def unusable_reason(signal: np.ndarray, sample_rate: int, min_seconds: float = MIN_SECONDS) -> str | None:
    """Why ``signal`` can carry no tempo or key (too short, silent), or None when it can."""
    seconds = len(signal) / sample_rate
    if seconds < min_seconds:
        return f"too short ({seconds:.1f} s; a tempo or key needs at least {min_seconds:.0f} s)"
    level = rms_dbfs(signal)
    if level < SILENCE_DBFS:
        shown = "digital silence" if level == float("-inf") else f"{level:.0f} dBFS"
        return f"silent ({shown})"
    return None
