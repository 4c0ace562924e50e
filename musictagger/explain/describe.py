"""One sentence for humans: when in the track, and in which frequency range, the label is heard most.

"Metal: strongest 0:42–1:10, 150–900 Hz (bass to mids)". The sentence names the label the DJ sees: a DJ
mood or genre family explained through its head reads "Dark: strongest …"; a regression output names its
value and what the map shows, "Energy 7.6 (what raises it): strongest …" (``heading``). A head with a hidden
layer adds that its per-patch evidence is an approximation. The time span is the contiguous stretch where the
map's per-frame level (mean over bands, smoothed over ~1 s) stays at or above half its peak, the stretch
holding the most of it; the frequency range is the narrowest run of mel bands holding
``MASS_SHARE`` of the map's mass inside that span. Bands become Hz by the **Slaney mel scale** the front end
uses (librosa ``mel_frequencies(htk=False)`` = torchaudio ``mel_scale="slaney"``): each band is named by
its centre frequency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from musictagger.explain.api import Explanation

MASS_SHARE = 0.6
SMOOTH_SECONDS = 1.0
SPAN_LEVEL = 0.5  # of the smoothed peak
MUSICNN_MEL = {"n_mels": 96, "f_min": 0.0, "f_max": 8000.0}

# Upper bounds (Hz) of the usual mixing-desk names for frequency ranges.
BAND_NAMES = (
    (60.0, "sub-bass"),
    (250.0, "bass"),
    (500.0, "low-mids"),
    (2000.0, "mids"),
    (4000.0, "upper mids"),
    (6000.0, "presence"),
    (math.inf, "brilliance"),
)

# Slaney's mel scale (Auditory Toolbox; librosa's default): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, _F_SP * mel)


def band_centres_hz(n_mels: int = 96, f_min: float = 0.0, f_max: float = 8000.0) -> np.ndarray:
    """Centre frequency of each mel band: librosa's ``mel_frequencies(n_mels + 2, fmin, fmax)[1:-1]`` (the
    filter bank's triangles have their edges at the neighbouring points)."""
    points = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    return points[1:-1]


def band_name(hz: float) -> str:
    return next(name for bound, name in BAND_NAMES if hz < bound)


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{int(round(value, -1))} Hz"


def strongest_span(level: np.ndarray, frame_seconds: float) -> tuple[int, int]:
    """[start, stop) frames of the contiguous run above SPAN_LEVEL of the smoothed peak with the most mass."""
    width = max(1, min(len(level), round(SMOOTH_SECONDS / frame_seconds)))
    smooth = np.convolve(level, np.ones(width) / width, mode="same")
    above = smooth >= SPAN_LEVEL * smooth.max()
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    runs = list(zip(edges[::2], edges[1::2], strict=True))
    return max(runs, key=lambda run: smooth[run[0] : run[1]].sum())


def narrowest_band_range(mass: np.ndarray, share: float = MASS_SHARE) -> tuple[int, int]:
    """[lo, hi] (inclusive) band indices: the fewest consecutive bands holding ``share`` of ``mass``."""
    cumulative = np.concatenate([[0.0], np.cumsum(mass)])
    need = share * cumulative[-1]
    best = (0, len(mass) - 1)
    for lo in range(len(mass)):
        hi = int(np.searchsorted(cumulative, cumulative[lo] + need, side="left")) - 1
        if hi < len(mass) and hi - lo < best[1] - best[0]:
            best = (lo, max(lo, hi))
    return best


def format_value(value: float, value_range: tuple[float, float] | None) -> str:
    """A regression output as the app shows it: signed with two decimals on a scale through zero (valence
    -0.40), one decimal otherwise (energy 7.6)."""
    low = value_range[0] if value_range is not None else 0.0
    return f"{value:+.2f}" if low < 0 else f"{value:.1f}"


def heading(explanation: Explanation, value: float | None = None) -> str:
    """The label as the DJ sees it: "Dark", "Metal", "guitar"; for a regression output its value (when
    given) and what the map shows: "Energy 7.6 (what raises it)", "Valence -0.40 (what lowers it)"."""
    if not explanation.direction:
        return explanation.label
    name = explanation.label
    if value is not None:
        name = f"{name} {format_value(value, explanation.value_range)}"
    return f"{name} (what {explanation.direction} it)"


def describe(
    explanation: Explanation,
    spectrogram: np.ndarray,
    sample_rate: int = 16000,
    mel: Mapping[str, Any] | None = None,
    value: float | None = None,
) -> str:
    """ "<label>: strongest m:ss–m:ss, <lo>–<hi> Hz (<band words>)" for a map over ``spectrogram``.

    ``sample_rate`` and ``mel`` (``n_mels, f_min, f_max``; a model card's ``mel``) set the band frequencies;
    both default to musicnn's (16 kHz, 96 bands, 0–8000 Hz). ``value``: a regression output's value on the
    track (energy 7.6), named in the heading.
    """
    values = explanation.map
    if values.shape != np.shape(spectrogram):
        raise ValueError(f"map {values.shape} does not match the spectrogram {np.shape(spectrogram)}")
    settings = {**MUSICNN_MEL, **(mel or {})}
    f_max = float(settings.get("f_max") or sample_rate / 2)
    centres = band_centres_hz(int(settings["n_mels"]), float(settings["f_min"]), f_max)
    name = heading(explanation, value)
    caveat = " (per-patch approximation of a non-linear head)" if explanation.approximate else ""
    if not np.any(values > 0):
        return f"{name}: no evidence found in this track{caveat}"
    start, stop = strongest_span(values.mean(axis=1), explanation.frame_seconds)
    lo, hi = narrowest_band_range(values[start:stop].sum(axis=0))
    low_name, high_name = band_name(centres[lo]), band_name(centres[hi])
    words = low_name if low_name == high_name else f"{low_name} to {high_name}"
    when = f"{_clock(start * explanation.frame_seconds)}–{_clock(stop * explanation.frame_seconds)}"
    return f"{name}: strongest {when}, {_hz(centres[lo])}–{_hz(centres[hi])} ({words}){caveat}"
