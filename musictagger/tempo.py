"""A track's tempo in BPM, folded into the range a DJ expects, with how clear its beat is.

The estimate is essentia's ``PercivalBpmEstimator`` (Percival & Tzanetakis 2014: onset strength,
generalized autocorrelation, pulse-train cross-correlation), chosen over librosa's tempo and essentia's
``RhythmExtractor2013`` on GTZAN (bench/bench_tempo_key.py, numbers in docs/tempo_key.md): the best
Accuracy-2 of the fast candidates, at about 0.1 s per 30 s of audio, and it runs at the analysis' own
16 kHz (no resampling).

Octave errors: every estimator sometimes hears half or double the tempo DJs count. The estimate is folded
(doubled or halved) into a preferred range, 70–180 BPM by default (``[analysis] tempo_range`` in
settings.toml), the range DJ software assumes; a value already inside it is left alone.

Confidence is the *pulse clarity*: the autocorrelation of the onset-strength envelope (librosa's, onset.py),
normalised by its value at lag 0, at the beat period the estimate names (or half / twice it). A steady
beat repeats its onsets, so the envelope correlates with itself one beat later (0.3–0.9 on music with
drums); noise, speech, rain, a held drone and beatless ambient do not (under 0.2). Below
``PULSE_CLARITY_MIN`` the track gets no BPM and the reason says so, rather than a number nobody could
mix to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musictagger.essentia_loader import essentia_standard
from musictagger.onset import autocorrelate, onset_strength
from musictagger.signal_checks import unusable_reason

DEFAULT_RANGE = (70.0, 180.0)
# Chosen on ../shared/audio (music vs noise, speech, animal sounds; see bench/bench_tempo_key.py), not on
# the evaluation clips: every non-music recording there stays under 0.18, music with a beat above 0.3.
PULSE_CLARITY_MIN = 0.2
_ONSET_HOP = 256  # 16 ms at 16 kHz: fine enough for a 180 BPM beat period (333 ms) to be exact to ~2 %
# The onset envelope is a spectral flux in dB. A held note or drone varies it by a few hundredths of a dB,
# periodically (frame edges against the waveform's period), which a plain normalised autocorrelation
# would call a perfect beat; music varies it by 0.6-2 dB. Adding this floor to the variance makes an
# envelope with no real onsets score near 0 and leaves music's score as it is.
_ENVELOPE_FLOOR_DB = 0.1
# The onset envelope is computed in pieces of this many frames (~65 s), each with a margin of one FFT
# window either side, so a long mix never has its whole spectrogram in memory (a 20-minute track's would
# take about 1 GB).
_PIECE_FRAMES = 4096
_PIECE_MARGIN_FRAMES = 8  # 8 hops = librosa's 2048-sample window


@dataclass(frozen=True)
class TempoEstimate:
    """The tempo of one track, or why there is none."""

    bpm: float | None  # in the preferred range; None with a reason
    confidence: float  # pulse clarity, 0..1 (0 when nothing was measured)
    reason: str | None = None  # why bpm is None
    raw_bpm: float | None = None  # the estimator's own value, before folding


def fold_tempo(bpm: float, low: float, high: float) -> float:
    """``bpm`` doubled or halved until it lies in ``[low, high]`` (a value inside is kept as it is)."""
    check_range(low, high)
    if not bpm > 0:
        raise ValueError(f"a tempo must be positive, not {bpm}")
    while bpm < low:
        bpm *= 2.0
    while bpm > high:
        bpm /= 2.0
    return bpm


def check_range(low: float, high: float) -> None:
    """A preferred range must span an octave, or some tempi would fold past it both ways."""
    if not (low > 0 and high >= 2 * low):
        raise ValueError(
            f"a preferred tempo range must span at least an octave (high >= 2 x low), not {low}-{high} BPM"
        )


def pulse_clarity(signal: np.ndarray, sample_rate: int, bpm: float) -> float:
    """How strongly the onsets repeat at the beat period of ``bpm`` (or half / twice it), 0..1."""
    envelope = onset_envelope(signal, sample_rate)
    envelope = envelope - envelope.mean()
    correlation = autocorrelate(envelope)
    if not correlation.size:
        return 0.0
    correlation = correlation / (correlation[0] + len(envelope) * _ENVELOPE_FLOOR_DB**2)
    frames_per_second = sample_rate / _ONSET_HOP
    best = 0.0
    for multiple in (1.0, 2.0, 0.5):  # the estimator's metrical level may differ from the clearest one
        lag = round(60.0 * frames_per_second / (bpm * multiple))
        if 2 <= lag < len(correlation) - 1:
            best = max(best, float(correlation[lag - 1 : lag + 2].max()))
    return max(0.0, min(1.0, best))


def onset_envelope(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """librosa's onset strength (spectral flux of the log-mel spectrogram; onset.py) at ``_ONSET_HOP``,
    computed piece by piece with overlapping margins so memory stays bounded; one piece for a track under
    ~65 s."""
    piece, margin = _PIECE_FRAMES * _ONSET_HOP, _PIECE_MARGIN_FRAMES * _ONSET_HOP
    parts = []
    for start in range(0, len(signal), piece):
        lo, stop = max(0, start - margin), min(len(signal), start + piece)
        envelope = onset_strength(signal[lo : min(len(signal), stop + margin)], sample_rate, _ONSET_HOP)
        skip = (start - lo) // _ONSET_HOP
        frames = -(-(stop - start) // _ONSET_HOP) if stop < len(signal) else len(envelope) - skip
        parts.append(envelope[skip : skip + frames])
    return np.concatenate(parts)


def estimate_tempo(
    signal: np.ndarray, sample_rate: int, preferred: tuple[float, float] = DEFAULT_RANGE
) -> TempoEstimate:
    """The tempo of a mono float32 signal, folded into ``preferred``; no BPM for a signal too short,
    silent or without a clear beat (the reason says which)."""
    low, high = preferred
    check_range(low, high)
    reason = unusable_reason(signal, sample_rate)
    if reason is not None:
        return TempoEstimate(None, 0.0, reason)
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    es = essentia_standard()
    raw = float(es.PercivalBpmEstimator(sampleRate=int(sample_rate))(signal))
    if not raw > 0:
        return TempoEstimate(None, 0.0, "no beat found")
    clarity = pulse_clarity(signal, sample_rate, raw)
    if clarity < PULSE_CLARITY_MIN:
        return TempoEstimate(
            None, clarity, f"no steady beat (pulse clarity {clarity:.2f} < {PULSE_CLARITY_MIN})", raw
        )
    return TempoEstimate(round(fold_tempo(raw, low, high), 2), clarity, None, raw)
