"""librosa's onset strength and autocorrelation, in numpy alone, for the tempo/key worker process.

Why not librosa itself: importing librosa (numba, scipy, its lazy loaders) takes about 1.9 s, and the
tempo/key process pays it before its first track; on a 2-core machine that second is taken from the
taggers. These are the same computations (``librosa.onset.onset_strength`` with its defaults: a centred,
zero-padded Hann STFT, a 128-band Slaney mel power spectrogram up to Nyquist, dB with an 80 dB floor, the
positive first difference averaged over bands; ``librosa.autocorrelate``), checked against librosa in
tests/test_tempo_key.py.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_TOP_DB = 80.0
_AMIN = 1e-10


def onset_strength(y: np.ndarray, sample_rate: int, hop_length: int, n_fft: int = 2048) -> np.ndarray:
    """``librosa.onset.onset_strength(y=y, sr=sample_rate, hop_length=hop_length)``: one value per frame."""
    y = np.ascontiguousarray(y, dtype=np.float32)
    half = n_fft // 2
    padded = np.pad(y, (half, half))
    n_frames = 1 + (len(padded) - n_fft) // hop_length
    if n_frames < 1:
        return np.zeros(0, dtype=np.float32)
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n_fft), strides=(padded.strides[0] * hop_length, padded.strides[0])
    )
    spectrum = np.fft.rfft(frames * _hann(n_fft), axis=1)  # (frames, bins)
    power = spectrum.real**2 + spectrum.imag**2
    mel = _mel_filters(sample_rate, n_fft) @ power.T  # (bands, frames)
    db = 10.0 * np.log10(np.maximum(_AMIN, mel))
    db = np.maximum(db, db.max() - _TOP_DB)
    flux = np.maximum(0.0, db[:, 1:] - db[:, :-1]).mean(axis=0)
    # librosa shifts the envelope by the lag and half a window, so frame t is the onset at time t.
    envelope = np.concatenate([np.zeros(1 + n_fft // (2 * hop_length), dtype=flux.dtype), flux])
    return envelope[:n_frames]


def autocorrelate(y: np.ndarray) -> np.ndarray:
    """``librosa.autocorrelate(y)``: every lag from 0 to ``len(y) - 1``, through the FFT."""
    n = len(y)
    if n == 0:
        return np.zeros(0, dtype=y.dtype)
    size = 1 << int(np.ceil(np.log2(2 * n - 1)))
    spectrum = np.fft.rfft(y, n=size)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size)[:n].astype(y.dtype, copy=False)


@lru_cache(maxsize=4)
def _hann(n_fft: int) -> np.ndarray:
    """The periodic Hann window (scipy's ``get_window("hann", n, fftbins=True)``), float32."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


@lru_cache(maxsize=4)
def _mel_filters(sample_rate: int, n_fft: int, n_mels: int = 128) -> np.ndarray:
    """``librosa.filters.mel(sr, n_fft, n_mels, fmax=sr / 2)``: Slaney's mel scale and area norm."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_points = np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2)
    mel_freqs = _mel_to_hz(mel_points)
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz < _MIN_LOG_HZ:
        return hz / _F_SP
    return _MIN_LOG_MEL + float(np.log(hz / _MIN_LOG_HZ)) / _LOG_STEP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    hz = _F_SP * mels
    log_part = mels >= _MIN_LOG_MEL
    hz[log_part] = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mels[log_part] - _MIN_LOG_MEL))
    return hz
