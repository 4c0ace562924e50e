"""LogMelSpectrogram reproduces musicnn's librosa front end (the models' training input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musictagger.audio import iter_audio_blocks, load_audio
from musictagger.spectrogram import LogMelSpectrogram

DATA = Path(__file__).parent / "data" / "audio"
JAZZ = DATA / "tagged.ogg"  # 20 s of "Vibe Ace", 44.1 kHz stereo Vorbis
JAZZ_REFERENCE = DATA / "tagged.ogg.npz"  # the original musicnn pipeline's output for it
PATCH = 187

MUSICNN = {
    "n_fft": 512,
    "hop_length": 256,
    "n_mels": 96,
    "f_min": 0.0,
    "f_max": 8000.0,
    "mel_scale": "slaney",
    "norm": "slaney",
    "power": 2.0,
    "center": True,
    "pad_mode": "constant",
}


@pytest.fixture(scope="module")
def jazz() -> np.ndarray:
    return load_audio(JAZZ)


@pytest.fixture(scope="module")
def spec() -> LogMelSpectrogram:
    return LogMelSpectrogram()


def _librosa_logmel(y: np.ndarray, **kw) -> np.ndarray:
    librosa = pytest.importorskip("librosa")
    s = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96, **kw).T
    return np.log10(10000 * s + 1).astype(np.float32)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["tagged.ogg", "vibe_ace.mp3", "vibe_ace_aac.m4a"])
def test_matches_librosa_on_real_music(spec, name):
    y = load_audio(DATA / name)
    ours = spec(torch.from_numpy(y)).numpy()
    expected = _librosa_logmel(y)
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 1e-4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_reflect_padding_matches_old_librosa(jazz):
    ours = LogMelSpectrogram(pad_mode="reflect")(torch.from_numpy(jazz)).numpy()
    assert np.abs(ours - _librosa_logmel(jazz, pad_mode="reflect")).max() < 1e-4


def test_reproduces_the_original_musicnn_input(spec, jazz):
    """load_audio + LogMelSpectrogram on the file give the reference model input (made with
    librosa.load's soxr_hq resampling and librosa's melspectrogram)."""
    ref = np.load(JAZZ_REFERENCE)
    assert len(jazz) == int(ref["n_samples_16k"])
    logmel = spec(torch.from_numpy(jazz)).numpy()
    n = logmel.shape[0] // PATCH
    patches = logmel[: n * PATCH].reshape(n, PATCH, 96)
    expected = ref["patches"]
    assert patches.shape == expected.shape == (6, PATCH, 96)
    diff = np.abs(patches - expected)
    assert diff.max() < 1e-4, diff.max()  # measured: 1.2e-05 max, 6.3e-07 mean
    assert diff.mean() < 2e-6
    # the reference zero-pads the signal's start (librosa >= 0.10); "reflect" would differ here
    reflect = LogMelSpectrogram(pad_mode="reflect")(torch.from_numpy(jazz)).numpy()
    assert np.abs(reflect[0] - expected[0, 0]).max() > 0.1


def test_shapes_and_dtypes(spec):
    x = torch.randn(2, 16000 * 3 + 77)
    out = spec(x)
    n_frames = 1 + x.shape[1] // 256
    assert out.shape == (2, n_frames, 96) and out.dtype == torch.float32
    assert spec.num_frames(x.shape[1]) == n_frames
    single = spec(x[1])
    assert single.shape == (n_frames, 96)
    torch.testing.assert_close(out[1], single, atol=1e-5, rtol=0)
    # float64 and numpy inputs are accepted; the output stays float32
    assert spec(x[0].double()).dtype == torch.float32
    torch.testing.assert_close(spec(x[0].numpy()), out[0], atol=1e-5, rtol=0)
    assert spec(torch.zeros(5000)).abs().max() == 0  # silence: log10(1) = 0
    for bad in (torch.zeros(1, 1, 100), torch.zeros(())):
        with pytest.raises(ValueError):
            spec(bad)
    with pytest.raises(ValueError):
        spec(torch.zeros(0))


def test_from_settings():
    a = LogMelSpectrogram.from_settings(MUSICNN, sample_rate=16000)
    b = LogMelSpectrogram()
    for (name, x), (_, y) in zip(a.named_buffers(), b.named_buffers(), strict=True):
        torch.testing.assert_close(x, y, atol=0, rtol=0, msg=name)
    x = torch.randn(8000)
    torch.testing.assert_close(a(x), b(x), atol=0, rtol=0)
    other = LogMelSpectrogram.from_settings({**MUSICNN, "n_mels": 128, "hop_length": 160}, sample_rate=16000)
    assert other(x).shape == (1 + 8000 // 160, 128)
    with_log = LogMelSpectrogram.from_settings({**MUSICNN, "log": "log10(10000*x+1)"}, sample_rate=16000)
    torch.testing.assert_close(with_log(x), b(x), atol=0, rtol=0)
    with pytest.raises(ValueError, match="log compression"):
        LogMelSpectrogram.from_settings({**MUSICNN, "log": "log(1+x)"}, sample_rate=16000)
    with pytest.raises(ValueError, match="unknown"):
        LogMelSpectrogram.from_settings({**MUSICNN, "nmels": 96}, sample_rate=16000)
    with pytest.raises(ValueError):
        LogMelSpectrogram(pad_mode="circular")


def test_buffers_move_with_the_module():
    m = LogMelSpectrogram()
    names = {name for name, _ in m.named_buffers()}
    assert {"mel.spectrogram.window", "mel.mel_scale.fb"} <= names
    m.to("meta")
    assert all(b.device.type == "meta" for b in m.buffers())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(spec, jazz):
    cpu = spec(torch.from_numpy(jazz))
    gpu = LogMelSpectrogram().cuda()(torch.from_numpy(jazz).cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("sizes", [[1, 1, 300, 5000], [100], [256], [512], [12345]])
def test_stream_equals_whole_signal(jazz, pad_mode, sizes):
    m = LogMelSpectrogram(pad_mode=pad_mode)
    y = jazz[: 16000 * 4 + 123]
    whole = m(torch.from_numpy(y))
    blocks, i, k = [], 0, 0
    while i < len(y):
        blocks.append(y[i : i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    pieces = list(m.stream(blocks))
    assert all(p.dtype == torch.float32 and p.shape[1] == 96 for p in pieces)
    torch.testing.assert_close(torch.cat(pieces), whole, atol=1e-5, rtol=0)


def test_stream_from_the_decoder(spec, jazz):
    """The way to tag a 2-hour mix: decode in blocks, log-mel in blocks, same result."""
    whole = spec(torch.from_numpy(jazz))
    streamed = torch.cat(list(spec.stream(iter_audio_blocks(JAZZ, block_seconds=1.7))))
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=0)


def test_stream_of_tiny_signals():
    m = LogMelSpectrogram()
    for n in (1, 100, 257, 600):
        x = torch.randn(n)
        torch.testing.assert_close(
            torch.cat(list(m.stream([x[: n // 2], x[n // 2 :]]))), m(x), atol=1e-5, rtol=0
        )
    assert list(m.stream([])) == []
