"""Hand-made audio features per 3-second patch: the input of the parallel CNN's audio branch.

Work 2 (Liu, Wang, Zha 2021) feeds its audio branch timbral, tonal and rhythmic descriptors beside the
mel spectrogram. Here they are computed with librosa on the same 3-s patches the mel branch sees (patch
``i`` = samples ``[i*patch_samples, (i+1)*patch_samples)`` of 16 kHz mono audio, the last one zero-padded),
as a sequence of :data:`FRAMES_PER_PATCH` frames, one row per frame, one column per :data:`FEATURE_NAMES`
entry:

=====================  ========================================================================
``mfcc_1..mfcc_20``     MFCCs of a 64-band Slaney mel spectrogram in dB (librosa's usual recipe)
``centroid_khz``        spectral centroid, kHz
``bandwidth_khz``       spectral bandwidth (2nd order), kHz
``rolloff_khz``         85 % spectral roll-off, kHz
``contrast_1..7``       spectral contrast (dB) in 6 octave bands from 100 Hz plus the rest
``zcr``                 zero-crossing rate (fraction of samples)
``chroma_C..chroma_B``  12 chroma bins (C, C#, ..., B), each frame scaled so its maximum is 1
``rms``                 root-mean-square amplitude
``tempo``               the whole waveform's tempo in BPM / 200, the same in every frame and patch
=====================  ========================================================================

Frames: FFT 1024 (64 ms, fine enough for chroma at 16 kHz), hop :data:`FEATURE_HOP` = 512, centred with
zero padding, so a 47,872-sample patch (187 mel frames x 256) has ``1 + 47872 // 512 = 94`` frames spanning
the same 3 s as the mel patch. Units are raw (dB, kHz, ...): the network normalises its input.

Everything is deterministic and finite, silence and clips shorter than a patch included.
"""

from __future__ import annotations

import librosa
import numpy as np

__all__ = ["FEATURE_HOP", "FEATURE_NAMES", "FRAMES_PER_PATCH", "N_FEATURES", "patch_features"]

_N_MFCC = 20
_N_CONTRAST_BANDS = 6  # librosa returns n_bands + 1 rows: the octave bands and everything above them
_CHROMA = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"mfcc_{i + 1}" for i in range(_N_MFCC)),
    "centroid_khz",
    "bandwidth_khz",
    "rolloff_khz",
    *(f"contrast_{i + 1}" for i in range(_N_CONTRAST_BANDS + 1)),
    "zcr",
    *(f"chroma_{name}" for name in _CHROMA),
    "rms",
    "tempo",
)
N_FEATURES = len(FEATURE_NAMES)
FEATURE_HOP = 512
#: Frames per musicnn patch of 187 x 256 samples: 1 + 47872 // 512.
FRAMES_PER_PATCH = 94

_PATCH_SAMPLES = 187 * 256
_N_FFT = 1024
_N_MELS_MFCC = 64
# Octave bands from 100 Hz: 100 * 2**6 = 6.4 kHz stays below the 8 kHz Nyquist of 16 kHz audio (librosa's
# default 200 Hz start would put the top band edge at 12.8 kHz and fail).
_CONTRAST_FMIN = 100.0
# The onset envelope for the tempo uses a finer hop than the frames: tempo comes from integer lags of its
# autocorrelation, and at hop 512 / 16 kHz neighbouring lags near 120 BPM are 117 and 125 BPM apart; at
# hop 128 they are 119 and 121.
_TEMPO_HOP = 128
_TEMPO_SCALE = 200.0


def patch_features(
    waveform: np.ndarray,
    sample_rate: int = 16000,
    patch_samples: int = _PATCH_SAMPLES,
    n_patches: int | None = None,
) -> np.ndarray:
    """Features of each patch of a mono waveform: float32 ``(n_patches, frames, N_FEATURES)``.

    ``frames`` is ``1 + patch_samples // FEATURE_HOP`` (:data:`FRAMES_PER_PATCH` for the default patch).
    ``n_patches`` defaults to the number of whole patches, at least 1; patches past the end of the audio
    are zero-padded.
    """
    y = np.asarray(waveform, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"expected a mono waveform (samples,), got shape {y.shape}")
    if patch_samples <= 0:
        raise ValueError(f"patch_samples must be positive, got {patch_samples}")
    if n_patches is None:
        n_patches = max(1, len(y) // patch_samples)
    if n_patches < 1:
        raise ValueError(f"n_patches must be at least 1, got {n_patches}")
    # Non-finite samples (a broken decoder) would turn every column into NaN.
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)

    patches = np.zeros((n_patches, patch_samples), dtype=np.float32)
    used = y[: n_patches * patch_samples]
    patches.reshape(-1)[: len(used)] = used

    # librosa works on the leading axes in one go, so all patches share one call per feature.
    spectrum = np.abs(librosa.stft(patches, n_fft=_N_FFT, hop_length=FEATURE_HOP, center=True))
    power = spectrum**2
    mel_db = librosa.power_to_db(
        librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=_N_MELS_MFCC), ref=1.0
    )
    columns = [
        librosa.feature.mfcc(S=mel_db, n_mfcc=_N_MFCC),
        librosa.feature.spectral_centroid(S=spectrum, sr=sample_rate, n_fft=_N_FFT) / 1000.0,
        librosa.feature.spectral_bandwidth(S=spectrum, sr=sample_rate, n_fft=_N_FFT) / 1000.0,
        librosa.feature.spectral_rolloff(S=spectrum, sr=sample_rate, n_fft=_N_FFT) / 1000.0,
        librosa.feature.spectral_contrast(
            S=spectrum, sr=sample_rate, n_fft=_N_FFT, fmin=_CONTRAST_FMIN, n_bands=_N_CONTRAST_BANDS
        ),
        librosa.feature.zero_crossing_rate(patches, frame_length=_N_FFT, hop_length=FEATURE_HOP, center=True),
        # tuning=0: A4 = 440 Hz. Estimating the tuning per patch is slow and moves bins between patches.
        librosa.feature.chroma_stft(S=power, sr=sample_rate, n_fft=_N_FFT, tuning=0.0),
        librosa.feature.rms(S=spectrum, frame_length=_N_FFT),
    ]
    frames = spectrum.shape[-1]
    tempo = np.full((n_patches, 1, frames), _tempo(y, sample_rate, patch_samples) / _TEMPO_SCALE)
    out = np.concatenate([*columns, tempo], axis=1)  # (n_patches, N_FEATURES, frames)
    # librosa guards its divisions, but a zero spectrum must never leak a NaN into training.
    out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(out.transpose(0, 2, 1), dtype=np.float32)


def _tempo(y: np.ndarray, sample_rate: int, min_samples: int) -> float:
    """The tempo (BPM) of the whole waveform; 0 when it has no onsets at all (silence)."""
    if len(y) < min_samples:  # librosa's onset detector warns on, and mis-sizes, very short input
        y = np.pad(y, (0, min_samples - len(y)))
    envelope = librosa.onset.onset_strength(y=y, sr=sample_rate, hop_length=_TEMPO_HOP)
    if not np.any(envelope > 0):
        # Without onsets librosa still returns its prior's peak (about 120 BPM): report no tempo instead.
        return 0.0
    bpm = librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate, hop_length=_TEMPO_HOP)
    return float(np.nan_to_num(bpm[0]))
