"""The explanation cache on disk: a damaged entry is a cache miss (and is removed), never a crash."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from musictagger.explain.cache import ExplanationCache

KEY = "0123abcd" * 8


def _map(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((96, 300), dtype=np.float32)


def _entry(tmp_path: Path) -> Path:
    return tmp_path / f"{KEY}.npz"


def _stored_bytes(tmp_path) -> bytes:
    ExplanationCache(directory=tmp_path).put(KEY, _map())
    return _entry(tmp_path).read_bytes()


def test_an_entry_survives_a_restart(tmp_path):
    value = _map()
    ExplanationCache(directory=tmp_path).put(KEY, value)
    again = ExplanationCache(directory=tmp_path).get(KEY)  # a new cache: read from disk
    assert again is not None and again.dtype == np.float32
    np.testing.assert_array_equal(again, value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{KEY}.npz"]  # no temporary file left


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_a_truncated_entry_is_a_miss_and_is_removed(tmp_path, fraction):
    data = _stored_bytes(tmp_path)
    _entry(tmp_path).write_bytes(data[: int(len(data) * fraction)])  # e.g. a full disk, a power cut
    cache = ExplanationCache(directory=tmp_path)
    assert cache.get(KEY) is None  # zipfile.BadZipFile / EOFError inside: a miss, not a crash
    assert not _entry(tmp_path).exists()
    # Recomputed and stored again: the next reader gets it.
    cache.put(KEY, _map(1))
    np.testing.assert_array_equal(ExplanationCache(directory=tmp_path).get(KEY), _map(1))


def _compressed_npz_with_corrupt_data() -> bytes:
    """A zip whose member's deflate stream is invalid: reading it raises zlib.error, not BadZipFile."""
    buf = io.BytesIO()
    np.savez_compressed(buf, map=_map())
    data = bytearray(buf.getvalue())
    assert data[:4] == b"PK\x03\x04"
    name_len, extra_len = struct.unpack("<HH", data[26:30])
    start = 30 + name_len + extra_len
    data[start] = 0xFF  # block type 3: reserved, "invalid block type"
    return bytes(data)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a zip at all\n",
        b"PK\x03\x04" + b"\0" * 40,
        "compressed-corrupt",
        "no-map",
        "pickled",
    ],
)
def test_a_damaged_or_foreign_entry_is_a_miss_and_is_removed(tmp_path, content):
    if content == "compressed-corrupt":
        content = _compressed_npz_with_corrupt_data()
    elif content == "no-map":
        buf = io.BytesIO()
        np.savez(buf, other=np.zeros(3))
        content = buf.getvalue()
    elif content == "pickled":  # an object array: np.load refuses it without allow_pickle
        buf = io.BytesIO()
        np.savez(buf, map=np.array([{"a": 1}], dtype=object))
        content = buf.getvalue()
    _entry(tmp_path).write_bytes(content)
    assert ExplanationCache(directory=tmp_path).get(KEY) is None
    assert not _entry(tmp_path).exists()


def test_random_damage_never_raises(tmp_path):
    data = _stored_bytes(tmp_path)
    rng = np.random.default_rng(7)
    for _ in range(200):
        damaged = bytearray(data)
        for offset in rng.integers(0, len(damaged), size=int(rng.integers(1, 6))):
            damaged[offset] ^= 1 << int(rng.integers(0, 8))
        _entry(tmp_path).write_bytes(bytes(damaged))
        found = ExplanationCache(directory=tmp_path).get(KEY)
        assert found is None or found.shape == (96, 300)


def test_a_cache_that_cannot_write_stays_a_memory_cache(tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    cache = ExplanationCache(directory=blocked)
    cache.put(KEY, _map())  # logged, not raised
    np.testing.assert_array_equal(cache.get(KEY), _map())


def test_zip_error_types_are_what_the_cases_above_exercise(tmp_path):
    # Guard for the "compressed-corrupt" case: it must really be a decompression failure.
    path = tmp_path / "x.npz"
    path.write_bytes(_compressed_npz_with_corrupt_data())
    with pytest.raises(Exception) as info, np.load(path) as data:
        data["map"]
    assert not isinstance(info.value, zipfile.BadZipFile | OSError | ValueError | KeyError | EOFError)


def test_the_shared_cache_reader_treats_a_corrupt_compressed_entry_as_missing(tmp_path):
    """research.cache.read_arrays (the patch and embedding caches' reader) too: None, not zlib.error."""
    from musictagger.research.cache import read_arrays

    entry = tmp_path / "entry.npz"
    entry.write_bytes(_compressed_npz_with_corrupt_data())
    assert read_arrays(entry) is None
