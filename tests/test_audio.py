"""musictagger.audio: every container a DJ library holds decodes to the same 16 kHz mono signal, and every
bad input is one AudioLoadError naming the file."""

from __future__ import annotations

import logging
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from helpers import deny_opening

from musictagger import audio
from musictagger.audio import AUDIO_EXTENSIONS, AudioInfo, iter_audio_blocks, load_audio, probe_audio
from musictagger.errors import AudioLoadError

DATA = Path(__file__).parent / "data" / "audio"
SECONDS = 3.5  # the fixtures' length (tools/make_audio_fixtures.py)
SR = 16000

LOSSLESS = ["vibe_ace.wav", "vibe_ace.aiff", "vibe_ace.flac", "vibe_ace_alac.m4a"]
LOSSY = ["vibe_ace.mp3", "vibe_ace.ogg", "vibe_ace.opus", "vibe_ace_aac.m4a", "vibe_ace.wma"]
ALL = LOSSLESS + LOSSY

# (file, sample_rate, codec, container) as probe_audio reports them
PROBES = [
    ("vibe_ace.wav", 44100, "pcm_s16", "wav"),
    ("vibe_ace.aiff", 44100, "pcm_s16", "aiff"),
    ("vibe_ace.flac", 44100, "flac", "flac"),
    ("vibe_ace_alac.m4a", 44100, "alac", "mp4"),
    ("vibe_ace.mp3", 44100, "mp3", "mp3"),
    ("vibe_ace.ogg", 44100, "vorbis", "ogg"),
    ("vibe_ace.opus", 48000, "opus", "ogg"),
    ("vibe_ace_aac.m4a", 44100, "aac", "mp4"),
    ("vibe_ace.wma", 44100, "wmav2", "asf"),
]


@pytest.fixture(scope="module")
def decoded() -> dict[str, np.ndarray]:
    return {name: load_audio(DATA / name) for name in ALL}


def _aligned_correlation(ref: np.ndarray, y: np.ndarray, max_lag: int = 2000) -> tuple[float, int]:
    """Pearson correlation of ``y`` with ``ref`` at the lag (within +-max_lag samples) that aligns them
    best. Codecs shift the signal: FFmpeg does not remove the WMA encoder's delay, and removes AAC's
    priming only in part."""
    n = min(len(ref), len(y))
    a = ref[:n].astype(np.float64) - ref[:n].mean()
    b = y[:n].astype(np.float64) - y[:n].mean()
    xc = np.fft.irfft(
        np.fft.rfft(b, 2 * n) * np.conj(np.fft.rfft(a, 2 * n)), 2 * n
    )  # xc[k] = sum a[i] b[i+k]
    lags = np.r_[0 : max_lag + 1, -max_lag:0]
    lag = int(lags[np.argmax(xc[lags])])
    x, z = (ref[: n - lag], y[lag:n]) if lag >= 0 else (ref[-lag:n], y[: n + lag])
    return float(np.corrcoef(x, z)[0, 1]), lag


# ------------------------------------------------------------------------------------------------
# Every container decodes, and they agree
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_container_decodes_to_16k_mono_float32(decoded, name):
    y = decoded[name]
    assert y.dtype == np.float32 and y.ndim == 1 and y.flags.c_contiguous
    assert abs(len(y) / SR - SECONDS) < 0.05, f"{name}: {len(y) / SR:.3f} s"
    assert np.isfinite(y).all()
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert 0.02 < rms < 0.5 and np.abs(y).max() <= 1.2  # music, at a sane level, not noise or silence


def test_lossless_containers_give_identical_samples(decoded):
    ref = decoded["vibe_ace.wav"]
    assert len(ref) == math.ceil(round(SECONDS * 44100) * SR / 44100)
    for name in LOSSLESS[1:]:
        np.testing.assert_array_equal(decoded[name], ref, err_msg=name)


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_containers_agree_with_the_lossless_one(decoded, name):
    corr, lag = _aligned_correlation(decoded["vibe_ace.wav"], decoded[name])
    assert corr > 0.99, f"{name}: correlation {corr:.4f} at lag {lag}"
    assert abs(lag) < 800  # at most a codec delay (WMA: 2048 samples at 44.1 kHz = 743 here)


def test_decoding_matches_reference_pipeline_bit_for_bit(decoded):
    """Mono = mean of channels, then libsoxr HQ: exactly what librosa.load(sr=16000) computes."""
    pcm, rate = sf.read(DATA / "vibe_ace.wav", dtype="float32", always_2d=True)
    expected = soxr.resample(pcm.mean(axis=1), rate, SR, quality="soxr_hq")
    np.testing.assert_array_equal(decoded["vibe_ace.wav"], expected)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_librosa_load():
    librosa = pytest.importorskip("librosa")
    for name in ("vibe_ace.flac", "vibe_ace.mp3", "tagged.ogg"):
        expected, _ = librosa.load(DATA / name, sr=SR)
        np.testing.assert_array_equal(load_audio(DATA / name), expected, err_msg=name)


def test_stereo_is_mixed_to_the_mean_of_its_channels(tmp_path):
    t = np.arange(SR, dtype=np.float64) / SR
    channels = np.stack(
        [
            0.5 * np.sin(2 * np.pi * 440 * t),
            0.25 * np.sin(2 * np.pi * 660 * t),
            -0.5 * np.sin(2 * np.pi * 440 * t),
        ],
        axis=1,
    ).astype(np.float32)
    for n_ch in (1, 2, 3):
        path = tmp_path / f"{n_ch}ch.wav"
        sf.write(path, channels[:, :n_ch], SR, subtype="FLOAT")
        y = load_audio(path)  # already at 16 kHz: no resampling, so exact
        np.testing.assert_allclose(y, channels[:, :n_ch].mean(axis=1), atol=1e-7)
    # left and inverted right cancel: a mono mix, not "take the left channel"
    sf.write(tmp_path / "cancel.wav", channels[:, [0, 2]], SR, subtype="FLOAT")
    assert np.abs(load_audio(tmp_path / "cancel.wav")).max() == 0.0


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_target_rates(rate):
    y = load_audio(DATA / "vibe_ace.flac", sample_rate=rate)
    assert y.dtype == np.float32
    assert len(y) == math.ceil(round(SECONDS * 44100) * rate / 44100)


# ------------------------------------------------------------------------------------------------
# Streaming
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["vibe_ace.wav", "vibe_ace.mp3", "vibe_ace.opus", "vibe_ace_aac.m4a", "vibe_ace.wma"]
)
@pytest.mark.parametrize("block_seconds", [0.1, 1.0, 60.0])
def test_blocks_concatenate_to_load_audio(decoded, name, block_seconds):
    blocks = list(iter_audio_blocks(DATA / name, block_seconds=block_seconds))
    size = round(block_seconds * SR)
    assert all(len(b) == size for b in blocks[:-1]) and 0 < len(blocks[-1]) <= size
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), decoded[name])


def test_streaming_decodes_in_small_source_blocks(monkeypatch, decoded):
    """The source is read in bounded blocks (so a 2-hour file is never held at 44.1 kHz) and the
    streamed resampler gives the same samples as resampling the whole signal at once."""
    monkeypatch.setattr(audio, "_SF_BLOCK_FRAMES", 1000)
    seen = []
    real = audio._sf_read_mono

    def spy(f):
        out = real(f)
        seen.append(len(out))
        return out

    monkeypatch.setattr(audio, "_sf_read_mono", spy)
    np.testing.assert_array_equal(load_audio(DATA / "vibe_ace.wav"), decoded["vibe_ace.wav"])
    assert max(seen) == 1000 and len(seen) > 100


def test_block_iterator_opens_eagerly_and_rejects_bad_block_size(tmp_path):
    with pytest.raises(AudioLoadError):
        iter_audio_blocks(tmp_path / "missing.mp3")  # raised by the call, not by next()
    with pytest.raises(ValueError):
        iter_audio_blocks(DATA / "vibe_ace.wav", block_seconds=0)
    blocks = iter_audio_blocks(DATA / "vibe_ace.wav", block_seconds=0.5)
    assert len(next(blocks)) == 8000
    blocks.close()  # releases the file without reading on


# ------------------------------------------------------------------------------------------------
# probe_audio and AUDIO_EXTENSIONS
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "rate", "codec", "container"), PROBES)
def test_probe(name, rate, codec, container):
    info = probe_audio(DATA / name)
    assert isinstance(info, AudioInfo)
    assert (info.sample_rate, info.channels, info.codec, info.container) == (rate, 2, codec, container)
    assert info.duration_s is not None and abs(info.duration_s - SECONDS) < 0.05
    with pytest.raises(AttributeError):
        info.channels = 1  # frozen


def test_audio_extensions():
    wanted = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".wave", ".aif", ".aiff", ".aifc"}
    wanted |= {".m4a", ".mp4", ".aac", ".alac", ".wma", ".wv", ".ape"}
    assert wanted <= AUDIO_EXTENSIONS
    assert all(e.startswith(".") and e == e.lower() for e in AUDIO_EXTENSIONS)
    assert {Path(n).suffix for n in ALL} <= AUDIO_EXTENSIONS
    assert not {".txt", ".jpg", ".png", ".pdf", ".cue", ".nfo", ".m3u"} & AUDIO_EXTENSIONS


# ------------------------------------------------------------------------------------------------
# Odd file names
# ------------------------------------------------------------------------------------------------


def test_unicode_names_with_spaces(tmp_path, decoded):
    for name in ("vibe_ace.mp3", "vibe_ace_aac.m4a"):
        ext = Path(name).suffix
        target = tmp_path / "Müsik & Ünïcødé" / f"Björk — 日本語 'quoted' (feat. Sigur Rós) [1A - 6]{ext}"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(DATA / name, target)
        np.testing.assert_array_equal(load_audio(target), decoded[name])
        assert probe_audio(str(target)).channels == 2


def test_very_long_path(tmp_path, decoded):
    d = tmp_path
    for i in range(6):
        d = d / (f"{i} Ünïcødé folder " * 10)[:200]
    d.mkdir(parents=True)
    for name in ("vibe_ace.flac", "vibe_ace.wma"):
        target = d / (("é" * 120) + Path(name).suffix)  # 245 bytes: near the 255-byte name limit
        shutil.copyfile(DATA / name, target)
        assert len(os.fsencode(target)) > 1300
        np.testing.assert_array_equal(load_audio(target), decoded[name])


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names are bytes")
def test_name_that_is_not_utf8(tmp_path, decoded):
    raw = os.fsencode(tmp_path) + b"/caf\xe9 latin-1 \xff.flac"
    try:
        shutil.copyfile(os.fsencode(DATA / "vibe_ace.flac"), raw)
    except OSError:
        pytest.skip("this file system refuses non-UTF-8 names")
    path = os.fsdecode(raw)  # 'caf\udce9 ...' (surrogateescape), as os.listdir returns it
    np.testing.assert_array_equal(load_audio(path), decoded["vibe_ace.flac"])
    for name in ("vibe_ace.opus", "vibe_ace.wma"):  # FFmpeg path too
        raw2 = raw.replace(b".flac", Path(name).suffix.encode())
        shutil.copyfile(os.fsencode(DATA / name), raw2)
        np.testing.assert_array_equal(load_audio(os.fsdecode(raw2)), decoded[name])


# ------------------------------------------------------------------------------------------------
# Bad inputs: one AudioLoadError naming the file, with a short cause
# ------------------------------------------------------------------------------------------------


def _assert_load_error(path, *cause_words: str) -> AudioLoadError:
    for fn in (load_audio, probe_audio, iter_audio_blocks):
        with pytest.raises(AudioLoadError) as info:
            fn(path)
        err = info.value
        assert err.path == os.fspath(path) and str(err).startswith(os.fspath(path))
        assert "\n" not in err.cause and len(err.cause) < 120
        assert any(w in err.cause for w in cause_words), f"{fn.__name__}: {err.cause!r}"
    return err


def test_missing_file(tmp_path):
    _assert_load_error(tmp_path / "gone.mp3", "not found")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp3").write_bytes(b"")
    _assert_load_error(tmp_path / "empty.mp3", "file is empty")


def test_directory(tmp_path):
    (tmp_path / "album.flac").mkdir()
    _assert_load_error(tmp_path / "album.flac", "directory")


@pytest.mark.parametrize("name", ["notes.mp3", "download.m4a", "readme.flac", "x.wma"])
def test_text_named_like_audio(tmp_path, name):
    path = tmp_path / name
    path.write_text("<!DOCTYPE html><html><body>404 – page not found</body></html>\n" * 10, encoding="utf-8")
    _assert_load_error(path, "not an audio file")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    _assert_load_error(path, "not an audio file", "truncated or corrupt")


def test_random_bytes_print_nothing_of_their_own(tmp_path, capfd):
    # Over 64 KB of junk: libsndfile's MP3 decoder would give up on it with a line on the process's stderr
    # that no user can tie to a file. The one message is the error, which names the file.
    path = tmp_path / "download.mp3"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    _assert_load_error(path, "not an audio file")
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_image_without_audio_stream(tmp_path):
    path = tmp_path / "cover.mp3"  # a PNG that FFmpeg opens as an image: no audio stream
    import av

    with av.open(str(tmp_path / "cover.png"), "w") as out:
        stream = out.add_stream("png", rate=1)
        stream.width = stream.height = 16
        stream.pix_fmt = "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    shutil.copyfile(tmp_path / "cover.png", path)
    _assert_load_error(path, "not an audio file")


def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.flac"
    shutil.copyfile(DATA / "vibe_ace.flac", path)
    path.chmod(0)
    try:
        try:
            with open(path, "rb"):
                pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not stop reads")
        except PermissionError:
            pass
        _assert_load_error(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_permission_error_from_the_os_is_reported(tmp_path, monkeypatch):
    """The same as above, simulated, so that it runs as root too."""
    path = tmp_path / "locked.mp3"
    shutil.copyfile(DATA / "vibe_ace.mp3", path)
    deny_opening(monkeypatch, path)
    _assert_load_error(path, "permission denied")


@pytest.mark.parametrize("name", ALL)
def test_header_only_file_is_an_error(tmp_path, name):
    """The first bytes of a file and nothing else (an aborted copy) give no usable audio."""
    path = tmp_path / f"cut_{name}"
    data = (DATA / name).read_bytes()
    keep = 40 if name.endswith((".wav", ".aiff")) else 300  # WAV/AIFF: not even the whole header
    path.write_bytes(data[:keep])
    _assert_load_error(path, "truncated or corrupt", "not an audio file")


# Truncated at half: the decodable part comes back (as players do), except in MP4, whose index (moov)
# is written at the end, so nothing can be located without it.
@pytest.mark.parametrize("name", ALL)
def test_file_truncated_at_half(tmp_path, name, decoded, caplog):
    path = tmp_path / f"half_{name}"
    data = (DATA / name).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    if name.endswith(".m4a"):
        _assert_load_error(path, "truncated or corrupt")
        return
    with caplog.at_level(logging.INFO, logger="musictagger.audio"):
        y = load_audio(path)
    full = decoded[name]
    assert 0.2 * len(full) < len(y) < 0.75 * len(full), f"{name}: kept {len(y) / len(full):.2f}"
    # what is kept is the start of the real signal (compare away from the cut and the codec's edge)
    k = min(len(y), len(full)) - 2000
    assert np.corrcoef(y[1000:k], full[1000:k])[0, 1] > 0.999
    np.testing.assert_array_equal(np.concatenate(list(iter_audio_blocks(path, block_seconds=0.25))), y)


def test_corrupt_middle_still_decodes_most(tmp_path, decoded):
    for name in ("vibe_ace.mp3", "vibe_ace.flac", "vibe_ace_aac.m4a"):
        data = bytearray((DATA / name).read_bytes())
        mid = len(data) // 2
        data[mid : mid + 2000] = bytes(2000)
        path = tmp_path / f"damaged_{name}"
        path.write_bytes(bytes(data))
        y = load_audio(path)
        assert len(y) > 0.9 * len(decoded[name]), name


def test_libsndfile_failing_midway_continues_with_ffmpeg(monkeypatch, decoded, caplog):
    """libsndfile stops on some valid files part-way (shared/audio/formats/tagged.opus, for one): the
    decode goes on with FFmpeg from the same sample, seamlessly."""
    monkeypatch.setattr(audio, "_SF_BLOCK_FRAMES", 10_000)
    real = audio._sf_read_mono
    calls = []

    def flaky(f):
        calls.append(1)
        if len(calls) == 5:
            raise sf.LibsndfileError(0, prefix="Supported file format but file is malformed.")
        return real(f)

    monkeypatch.setattr(audio, "_sf_read_mono", flaky)
    for name in ("vibe_ace.wav", "vibe_ace.flac"):  # lossless: FFmpeg's samples are the same
        calls.clear()
        with caplog.at_level(logging.INFO, logger="musictagger.audio"):
            y = load_audio(DATA / name)
        assert "continuing with FFmpeg" in caplog.text
        np.testing.assert_array_equal(y, decoded[name])


def test_both_decoders_failing_midway_keep_the_start(monkeypatch, decoded, caplog):
    monkeypatch.setattr(audio, "_SF_BLOCK_FRAMES", 10_000)
    real = audio._sf_read_mono
    calls = []

    def flaky(f):
        calls.append(1)
        if len(calls) == 5:
            raise sf.LibsndfileError(0, prefix="boom")
        return real(f)

    def no_ffmpeg(path):
        raise OSError("ffmpeg unavailable")

    monkeypatch.setattr(audio, "_sf_read_mono", flaky)
    monkeypatch.setattr(audio._PyAVDecoder, "open", classmethod(lambda cls, path: no_ffmpeg(path)))
    with caplog.at_level(logging.WARNING, logger="musictagger.audio"):
        y = load_audio(DATA / "vibe_ace.wav")
    assert "decoding stopped early" in caplog.text
    n = math.ceil(40_000 * SR / 44100)  # the 4 blocks that were read
    assert len(y) == n
    np.testing.assert_allclose(y[: n - 200], decoded["vibe_ace.wav"][: n - 200], atol=1e-6)
