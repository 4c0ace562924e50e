"""The explanation's building blocks without audio: patching, mel frequencies, label resolution, spans."""

import numpy as np
import pytest
import torch
import torchaudio

from musictagger.explain.describe import band_centres_hz, band_name, narrowest_band_range, strongest_span
from musictagger.explain.labels import ExplainError, resolve_label
from musictagger.explain.musicnn_cam import _spread_over_bands
from musictagger.explain.patches import cut_patches, stitch_maps

MSD_LABELS = ("rock", "pop", "metal", "heavy metal", "jazz")


def test_patches_cover_every_frame_including_a_partial_last_patch():
    spectrogram = np.arange(500 * 4, dtype=np.float32).reshape(500, 4)
    patches, starts = cut_patches(spectrogram, 187)
    assert starts == [0, 187, 313] and patches.shape == (3, 187, 4)
    assert np.array_equal(stitch_maps(patches, starts, 500), spectrogram)


def test_a_track_shorter_than_a_patch_is_padded_with_silence():
    spectrogram = np.ones((50, 4), dtype=np.float32)
    patches, starts = cut_patches(spectrogram, 187)
    assert patches.shape == (1, 187, 4) and patches[0, 50:].max() == 0.0
    assert stitch_maps(patches, starts, 50).shape == (50, 4)


def test_timbral_cam_spreads_over_the_filters_band_support_keeping_its_total():
    cam = torch.zeros(1, 1, 59)  # 96 - 38 + 1 positions of a 38-band filter
    cam[0, 0, 10] = 38.0
    spread = _spread_over_bands(cam, 96)
    assert spread.shape == (1, 1, 96)
    assert torch.equal(spread[0, 0].nonzero().flatten(), torch.arange(10, 48))
    assert float(spread.sum()) == pytest.approx(38.0)


def test_band_centres_are_the_slaney_filter_bank_peaks():
    bank = torchaudio.functional.melscale_fbanks(
        257, 0.0, 8000.0, 96, 16000, norm="slaney", mel_scale="slaney"
    )
    peaks_hz = np.linspace(0, 8000, 257)[bank.argmax(dim=0).numpy()]
    assert np.abs(peaks_hz - band_centres_hz(96, 0.0, 8000.0)).max() <= 8000 / 256  # one FFT bin
    assert band_name(40) == "sub-bass" and band_name(1000) == "mids" and band_name(7000) == "brilliance"


def test_labels_resolve_raw_tags_and_canonical_names():
    assert resolve_label("metal", "MSD_musicnn", MSD_LABELS) == ("metal", (2,))
    name, indices = resolve_label("Metal", "MSD_musicnn", MSD_LABELS)
    assert name == "Metal" and 2 in indices
    assert resolve_label("JAZZ", "MSD_musicnn", MSD_LABELS)[1] == (4,)
    with pytest.raises(ExplainError, match="not a label"):
        resolve_label("polka-step", "MSD_musicnn", MSD_LABELS)


def test_strongest_span_and_band_range():
    level = np.zeros(600)
    level[100:160] = 1.0
    level[400:420] = 0.9
    start, stop = strongest_span(level, 0.016)
    assert start <= 100 < 160 <= stop + 40 and stop < 400
    mass = np.zeros(96)
    mass[20:30] = 1.0
    assert narrowest_band_range(mass, 0.6) == (20, 25)
