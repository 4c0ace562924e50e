"""Regressions found by bench/bench_fuzz.py: damaged files that crashed, hung, ate memory or gave raw errors.

Each test rebuilds its damaged file from a fixture in tests/data/formats, the way the fuzz run made it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from musictagger.audio import load_audio, probe_audio
from musictagger.errors import AudioLoadError
from musictagger.library.scanner import scan
from musictagger.library.store import analyse_pending
from musictagger.tags import TagReadError, TagWriteError, read_tags, write_tags
from musictagger.tags.audio_payload import audio_payload_digest

FORMATS = Path(__file__).parent / "data" / "formats"
RAW_EXCEPTION = ("error:", "Error:", "Exception:", "Traceback")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damaged(tmp_path: Path, fixture: str, name: str, change) -> Path:
    data = bytearray((FORMATS / fixture).read_bytes())
    change(data)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def _clean(cause: str) -> bool:
    return "\n" not in cause and not any(marker in cause for marker in RAW_EXCEPTION)


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def _absurd_frame_count(data: bytearray) -> None:
    """The MP3's Xing/Info header says 2^31 frames: 56 million seconds for a 30 KB file."""
    at = data.find(b"Info")
    assert at > 0 and struct.unpack(">I", data[at + 4 : at + 8])[0] & 1  # the frames field is present
    data[at + 8 : at + 12] = struct.pack(">I", 0x7FFFFFFF)


def test_a_header_claiming_years_of_audio_does_not_size_the_decode_buffer(tmp_path, monkeypatch):
    # Was: load_audio reserved np.empty(ceil(duration * 16000)) = 3.6 TB -> MemoryError (a raw
    # numpy._ArrayMemoryError, not an AudioLoadError); with less, gigabytes for a file of kilobytes.
    path = _damaged(tmp_path, "untagged.mp3", "years.mp3", _absurd_frame_count)
    assert probe_audio(path).duration_s is None  # not believed: the file cannot hold that much audio
    sizes = []
    empty = np.empty

    def spy(shape, *args, **kwargs):
        sizes.append(int(np.prod(shape)))
        return empty(shape, *args, **kwargs)

    monkeypatch.setattr(np, "empty", spy)
    audio = load_audio(path)
    monkeypatch.undo()
    assert 3.0 < len(audio) / 16000 < 4.0  # the real length, counted by decoding
    assert max(sizes) < 16000 * 60  # nothing like the header's claim was ever reserved
    # An honest header is still believed (and sizes the buffer in one go).
    assert probe_audio(FORMATS / "untagged.mp3").duration_s == pytest.approx(3.5, abs=0.1)


def test_a_wav_whose_header_says_1_hz_is_a_clean_error_not_a_day_of_audio(tmp_path):
    # Was: decoded at "1 Hz" and resampled to 16 kHz, 350 KB became 1.4 billion samples (5.6 GB, 80 s)
    # and then a 24-hour analysis.
    def one_hertz(data: bytearray) -> None:
        at = data.find(b"fmt ")
        data[at + 12 : at + 16] = struct.pack("<I", 1)

    path = _damaged(tmp_path, "untagged.wav", "slow.wav", one_hertz)
    started = time.monotonic()
    with pytest.raises(AudioLoadError, match="sample rate of 1 Hz") as info:
        load_audio(path)
    assert time.monotonic() - started < 10
    assert _clean(info.value.cause)
    with pytest.raises(AudioLoadError):
        probe_audio(path)


# --------------------------------------------------------------------------------------------------
# Writing tags
# --------------------------------------------------------------------------------------------------


def _latin1_title(path: Path) -> None:
    """A Vorbis comment that is not UTF-8 (an old tagger's Latin-1), as real libraries have."""
    from mutagen.flac import FLAC

    f = FLAC(path)
    f["title"] = ["cafQQ marker"]
    f.save()
    data = path.read_bytes()
    assert data.count(b"cafQQ") == 1
    path.write_bytes(data.replace(b"cafQQ", b"caf\xe9\xe9"))  # same length: FLAC metadata has no checksum


def test_a_non_utf8_vorbis_comment_does_not_block_writing(tmp_path):
    # Was: PyAV decoded FFmpeg's metadata strictly, so the audio payload digest raised UnicodeDecodeError:
    # the scan stored no fingerprint (no move detection) and every write was refused ("FFmpeg cannot
    # read the audio").
    path = tmp_path / "latin1.flac"
    shutil.copyfile(FORMATS / "tagged.flac", path)
    _latin1_title(path)
    before = read_tags(path)
    payload = audio_payload_digest(path)
    change = write_tags(path, {"genre": ["House"], "mood": ["Chill"]})
    assert change.written
    after = read_tags(path)
    assert after["genre"] == ["House"] and after["mood"] == ["Chill"]
    assert {k: v for k, v in after.items() if k not in ("genre", "mood")} == {
        k: v for k, v in before.items() if k not in ("genre", "mood")
    }
    assert audio_payload_digest(path) == payload


def test_a_wav_whose_riff_size_overflows_is_refused_in_words(tmp_path):
    # Was: "error: 'I' format requires 0 <= number <= 4294967295" (mutagen's struct.error, raw).
    def huge_riff(data: bytearray) -> None:
        data[4:8] = struct.pack("<I", 0xFFFFFFF0)

    path = _damaged(tmp_path, "untagged.wav", "riff.wav", huge_riff)
    before = _sha(path)
    with pytest.raises(TagWriteError) as info:
        write_tags(path, {"genre": ["House"]})
    assert "looks damaged" in info.value.cause and _clean(info.value.cause)
    assert _sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["riff.wav"]  # no temporary copy left


@pytest.mark.parametrize(("fixture", "cut"), [("untagged.wav", 136_554), ("tagged.aiff", 200_000)])
def test_a_truncated_wav_or_aiff_is_refused_as_truncated(tmp_path, fixture, cut):
    # Was: "verification of the written copy failed: the written copy has no tag" -- the tag appended at
    # the end landed inside the data chunk that claims more bytes than the file has.
    path = _damaged(
        tmp_path, fixture, "cut" + Path(fixture).suffix, lambda data: data.__delitem__(slice(cut, None))
    )
    before = _sha(path)
    with pytest.raises(TagWriteError, match="truncated or damaged") as info:
        write_tags(path, {"genre": ["House"]})
    assert "chunk claims" in info.value.cause and _clean(info.value.cause)
    assert _sha(path) == before


def test_a_parser_message_does_not_repeat_the_path(tmp_path):
    # Was: "cannot parse as FLAC with Vorbis comments: '/the/path/x.flac' is not a valid FLAC file": the
    # path twice, the second time with Python's quoting (and lone surrogates for non-UTF-8 names).
    path = tmp_path / "not really.flac"
    path.write_bytes(b"ID3" + b"\0" * 7 + b"\xff\xfb" + bytes(range(256)) * 4)
    with pytest.raises(TagReadError) as info:
        read_tags(path)
    assert str(path) not in info.value.cause and _clean(info.value.cause)
    assert str(info.value).startswith(f"{path}: cannot parse as FLAC")


# --------------------------------------------------------------------------------------------------
# The library's reports: one line per file, whatever its name
# --------------------------------------------------------------------------------------------------

ODD = "broken\nline\ttab.mp3"


def test_a_scan_error_for_a_name_with_a_line_break_is_one_line(library, tmp_path):
    # Was: the report showed display_path() as is, so "  PATH: cause" printed over two lines.
    music = tmp_path / "music"
    music.mkdir()
    (music / ODD).write_text("not audio\n" * 20)
    report = scan(library, [music])
    assert len(report.errors) == 1
    shown, cause = report.errors[0]
    assert shown.isprintable() and shown.endswith("broken\\nline\\ttab.mp3")
    assert cause == "not an audio file (it is text)"


def test_an_analysis_error_for_a_name_with_a_line_break_is_one_line(library, tmp_path, analyzer, vocabulary):
    music = tmp_path / "music"
    music.mkdir()
    path = music / ODD
    shutil.copyfile(FORMATS / "untagged.mp3", path)
    assert scan(library, [music]).errors == []
    path.write_text("not audio any more\n" * 20)  # after the scan, before the analysis
    report = analyse_pending(library, analyzer, vocabulary)
    assert len(report.errors) == 1
    shown, cause = report.errors[0]
    assert shown.isprintable() and shown == os.fsdecode(path).replace("\n", "\\n").replace("\t", "\\t")
    assert cause == "not an audio file (it is text)"


def test_running_out_of_memory_on_one_file_is_reported_in_words(tmp_path):
    # Was: "MemoryError: Unable to allocate 6.53 GiB for an array with shape (1753096983,) ..." (numpy's
    # message, as the fuzz run's oversized MP3 gave it before the decoder stopped believing its header).
    from types import SimpleNamespace

    from musictagger.analysis import AnalysisError, analyse_files

    def decode(path):
        if "long" in os.fspath(path):
            raise MemoryError("Unable to allocate 6.53 GiB for an array with shape (1753096983,)")
        return {16000: np.zeros(16000, np.float32)}

    stub = SimpleNamespace(decode=decode, analyse_decoded=lambda path, audio: SimpleNamespace(path=path))
    results = list(analyse_files(stub, ["long.mp3", "short.mp3"], decode_workers=1))
    assert [r.path for r in results] == ["long.mp3", "short.mp3"]  # the batch went on
    error = results[0].error
    assert isinstance(error, AnalysisError) and _clean(error.cause) and "memory" in error.cause
    assert "numpy" not in error.cause and "GiB" not in error.cause
    assert results[1].error is None


def test_a_chunk_with_a_garbage_header_is_named_by_position_not_by_its_bytes(tmp_path):
    # Was: "its '\x00\n\x85\x01' chunk claims ..." -- the garbage ID printed as text, line break included.
    def junk_chunk_before_the_tag(data: bytearray) -> None:
        at = data.find(b"ID3 ")
        data[at:at] = b"\x00\n\x85\x01" + struct.pack(">I", 0xED43ED3E) + b"\0" * 100

    path = _damaged(tmp_path, "tagged.aiff", "junk.aiff", junk_chunk_before_the_tag)
    before = _sha(path)
    with pytest.raises(TagWriteError, match="truncated or damaged") as info:
        write_tags(path, {"genre": ["House"]})
    assert "damaged header" in info.value.cause and info.value.cause.isprintable()
    assert _sha(path) == before
