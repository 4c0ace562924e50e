"""A track's musical key, with the estimator's confidence, or why it has none.

The estimate is essentia's ``KeyExtractor`` (HPCP chroma → key-profile correlation) with the ``edma``
profile (Faraldo et al. 2016, derived from electronic dance music), chosen among essentia's profiles
(edma, bgate, temperley, krumhansl) and librosa chroma with Krumhansl / Temperley profiles on GTZAN
(bench/bench_tempo_key.py; numbers in docs/tempo_key.md). It runs at the analysis' own 16 kHz: HPCP reads
25 Hz – 3.5 kHz, well under the 8 kHz Nyquist limit.

Confidence is the extractor's *strength*: the correlation of the track's chroma with the winning key's
profile (0..1). A key profile correlates with any chroma, noise's included (white noise scores 0.5–0.7),
so a strength threshold cannot tell noise from music. What does is the *tonal share*: the share of the
spectrum's energy (100 Hz – 4 kHz) in peaks standing out of their neighbourhood (over 4 × the local mean).
For noise that share is set by statistics, about 0.07 whatever the noise's colour; pitched music holds
0.15–0.8 (distorted metal guitars are the lowest). Below ``TONAL_SHARE_MIN`` a track gets no key.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musictagger.essentia_loader import essentia_standard
from musictagger.keys import Key, KeyParseError, parse_key
from musictagger.signal_checks import unusable_reason

KEY_PROFILE = "edma"
# Noise of any colour measures 0.06–0.09 (a Gaussian spectrum's power exceeds 4x its mean in e^-4 of the
# bins, holding 5e^-4 ~ 0.09 of the energy); the threshold leaves a margin above that. Set from that
# statistic and checked on ../shared/audio, not tuned on the evaluation clips.
TONAL_SHARE_MIN = 0.12
_FRAME = 4096  # 0.26 s at 16 kHz: 3.9 Hz bins resolve semitones down to ~70 Hz
_BAND_HZ = (100.0, 4000.0)
_NEIGHBOURHOOD_BINS = 31  # ~120 Hz at 16 kHz: wider than a harmonic peak, narrower than a spectral slope
_PEAK_FACTOR = 4.0
_BLOCK_FRAMES = 256  # frames transformed at once (~65 s, ~8 MB of spectrum): a 2-hour mix stays bounded


@dataclass(frozen=True)
class KeyEstimate:
    """The key of one track, or why there is none."""

    key: Key | None
    confidence: float  # the key profile's correlation with the track's chroma, 0..1 (0 when not measured)
    tonal_share: float  # share of the spectrum's energy in tonal peaks (noise ~0.07)
    reason: str | None = None  # why key is None


def tonal_share(signal: np.ndarray, sample_rate: int) -> float:
    """The energy-weighted share of spectral energy in peaks over 4x their neighbourhood's mean, 0..1."""
    from scipy.ndimage import uniform_filter1d  # scipy comes with librosa and scikit-learn

    n_frames = len(signal) // _FRAME
    if n_frames == 0:
        return 0.0
    window = np.hanning(_FRAME).astype(np.float32)
    freqs = np.fft.rfftfreq(_FRAME, 1.0 / sample_rate)
    band = (freqs >= _BAND_HZ[0]) & (freqs <= _BAND_HZ[1])
    energy = np.empty(n_frames)
    in_peaks = np.empty(n_frames)
    for first in range(0, n_frames, _BLOCK_FRAMES):
        last = min(first + _BLOCK_FRAMES, n_frames)
        frames = signal[first * _FRAME : last * _FRAME].reshape(last - first, _FRAME) * window
        power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2)[:, band]
        local_mean = uniform_filter1d(power, _NEIGHBOURHOOD_BINS, axis=1, mode="nearest")
        energy[first:last] = power.sum(axis=1)
        in_peaks[first:last] = np.where(power > _PEAK_FACTOR * local_mean, power, 0.0).sum(axis=1)
    if not energy.max() > 0:
        return 0.0
    audible = energy > energy.max() * 1e-3  # silent frames between songs say nothing either way
    share = in_peaks[audible] / energy[audible]
    return float(np.average(share, weights=energy[audible]))


def estimate_key(signal: np.ndarray, sample_rate: int) -> KeyEstimate:
    """The key of a mono float32 signal; no key for a signal too short, silent or without pitched
    content (the reason says which)."""
    reason = unusable_reason(signal, sample_rate)
    if reason is not None:
        return KeyEstimate(None, 0.0, 0.0, reason)
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    share = tonal_share(signal, sample_rate)
    if share < TONAL_SHARE_MIN:
        return KeyEstimate(
            None, 0.0, share, f"no pitched content (tonal share {share:.2f} < {TONAL_SHARE_MIN}: noise?)"
        )
    es = essentia_standard()
    tonic, scale, strength = es.KeyExtractor(sampleRate=int(sample_rate), profileType=KEY_PROFILE)(signal)
    try:
        key = parse_key(f"{tonic} {scale}")
    except KeyParseError:
        return KeyEstimate(None, float(strength), share, f"the key estimator answered {tonic!r} {scale!r}")
    return KeyEstimate(key, float(strength), share)
