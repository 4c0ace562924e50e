"""Hand-made per-patch features (the parallel CNN's audio branch input) on real and synthetic audio."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musictagger.audio import load_audio
from musictagger.research.features import (
    FEATURE_HOP,
    FEATURE_NAMES,
    FRAMES_PER_PATCH,
    N_FEATURES,
    patch_features,
)

METAL = Path(__file__).parent / "data" / "music" / "muldjord-chaos_god-0m30s-12s.ogg"
SR = 16000
PATCH = 187 * 256


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)


def decoded(tmp_path: Path, name: str, samples: np.ndarray) -> np.ndarray:
    """Write a WAV and decode it the way the app does, so the features see what a user's file gives."""
    path = tmp_path / f"{name}.wav"
    sf.write(path, samples.astype(np.float32), SR, subtype="FLOAT")
    return load_audio(path, SR)


def sine(freq: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)


def click_track(bpm: float, seconds: float) -> np.ndarray:
    """Short 2 kHz tone bursts, one per beat."""
    y = np.zeros(int(seconds * SR))
    burst = np.hanning(160) * np.sin(2 * np.pi * 2000 * np.arange(160) / SR)
    for start in np.arange(0, seconds - 0.01, 60.0 / bpm):
        i = int(start * SR)
        y[i : i + 160] += burst
    return y


@pytest.fixture(scope="module")
def metal():
    return load_audio(METAL, SR)


def test_layout_constants_agree():
    assert N_FEATURES == len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == 45
    assert FRAMES_PER_PATCH == 1 + PATCH // FEATURE_HOP == 94
    assert FEATURE_NAMES[-1] == "tempo" and "chroma_A" in FEATURE_NAMES and "mfcc_20" in FEATURE_NAMES


def test_real_music_gives_one_finite_row_per_frame_and_is_deterministic(metal):
    features = patch_features(metal, SR)
    assert features.shape == (len(metal) // PATCH, FRAMES_PER_PATCH, N_FEATURES) == (4, 94, 45)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert np.array_equal(features, patch_features(metal, SR))
    # Death metal is loud, bright and dense: every frame has energy and a centroid well above 1 kHz.
    assert (features[..., column("rms")] > 0.01).all()
    assert np.median(features[..., column("centroid_khz")]) > 1.0
    assert (features[..., column("rolloff_khz")] <= SR / 2000).all()
    # Tempo is the clip's, the same in every frame of every patch.
    tempo = features[..., column("tempo")]
    assert np.all(tempo == tempo[0, 0]) and 0.2 < tempo[0, 0] < 1.6  # 40..320 BPM


def test_each_patch_describes_only_its_own_samples(metal):
    whole = patch_features(metal, SR)
    alone = patch_features(metal[PATCH : 2 * PATCH], SR)
    no_tempo = [i for i, name in enumerate(FEATURE_NAMES) if name != "tempo"]
    np.testing.assert_allclose(alone[0][:, no_tempo], whole[1][:, no_tempo], rtol=1e-5, atol=1e-4)


def test_patches_past_the_end_are_silent(metal):
    features = patch_features(metal, SR, n_patches=6)
    assert features.shape == (6, 94, 45) and np.isfinite(features).all()
    assert (features[5, :, column("rms")] == 0).all()
    assert (features[0, :, column("rms")] > 0).all()


def test_a_tone_at_a440_peaks_at_chroma_a_and_is_darker_than_noise(tmp_path):
    tone = patch_features(decoded(tmp_path, "a440", sine(440.0, 3.0)), SR)[0]
    noise = patch_features(
        decoded(tmp_path, "noise", 0.3 * np.random.default_rng(0).standard_normal(3 * SR)), SR
    )[0]
    chroma = [
        column(f"chroma_{n}") for n in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    ]
    inner = slice(2, -2)  # the centred first and last frames straddle the zero padding
    assert (np.argmax(tone[inner][:, chroma], axis=1) == 9).all()  # 9 = A
    assert np.median(tone[inner, column("centroid_khz")]) < 0.6
    assert np.median(noise[inner, column("centroid_khz")]) > 3.0
    # 440 Hz crosses zero 880 times a second; white noise about every other sample
    assert np.median(tone[inner, column("zcr")]) == pytest.approx(880 / SR, rel=0.1)
    assert np.median(noise[inner, column("zcr")]) > 0.4
    # contrast_4 is the 400-800 Hz octave: a peak over its valleys for the tone, flat for noise
    assert np.median(tone[inner, column("contrast_4")]) > 35
    assert np.median(noise[inner, column("contrast_4")]) < 25


def test_quieter_audio_has_proportionally_lower_rms(tmp_path):
    loud = patch_features(decoded(tmp_path, "loud", sine(330.0, 3.0, 0.5)), SR)[0, 2:-2, column("rms")]
    quiet = patch_features(decoded(tmp_path, "quiet", sine(330.0, 3.0, 0.125)), SR)[0, 2:-2, column("rms")]
    np.testing.assert_allclose(quiet / loud, 0.25, rtol=1e-3)


@pytest.mark.parametrize("bpm", [90, 150])
def test_click_track_tempo(tmp_path, bpm):
    features = patch_features(decoded(tmp_path, f"clicks{bpm}", click_track(bpm, 12.0)), SR)
    # 4 BPM: the onset envelope's lag resolution is ~1.5 % near these tempi; no octave errors allowed
    assert features[..., column("tempo")] == pytest.approx(np.full((4, 94), bpm / 200), abs=4 / 200)


@pytest.mark.parametrize("samples", [0, 1, 100, 2 * SR])
def test_silence_and_very_short_input_are_finite(samples):
    features = patch_features(np.zeros(samples, dtype=np.float32), SR)
    assert features.shape == (1, 94, 45)
    assert np.isfinite(features).all()
    assert (features[..., column("tempo")] == 0).all()  # no beats, not librosa's 120 BPM prior
    assert (features[..., column("rms")] == 0).all()


def test_broken_samples_do_not_poison_the_features(metal):
    y = metal[:PATCH].copy()
    y[1000:1010] = np.nan
    assert np.isfinite(patch_features(y, SR)).all()


def test_stereo_input_is_refused():
    with pytest.raises(ValueError, match="mono"):
        patch_features(np.zeros((2, PATCH), dtype=np.float32))
