"""Research datasets and the patch cache, on real audio files written into each test's folder.

Readers: the folder layout, CSVs like shared/eval's (gtzan_mini ``file,genre``, mer4q
``file,quadrant,artist,...``), a CAL500-style tag table and FMA's ``tracks.csv`` with its real header shape.
Splits: stratified, artist-disjoint, deterministic, official split honoured, clear errors. Cache: the same
patches the Analyzer's front end computes, read back without decoding, recomputed when the file changes or
the entry is damaged.
"""

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musictagger.audio import load_audio
from musictagger.errors import AudioLoadError
from musictagger.research.cache import PatchCache
from musictagger.research.datasets import (
    DatasetError,
    Example,
    LabelledSet,
    cross_validation_folds,
    describe_split,
    open_dataset,
    read_csv,
    read_fma,
    read_multilabel_csv,
    train_val_test_split,
)
from musictagger.spectrogram import LogMelSpectrogram

DATA = Path(__file__).parent / "data"
MP3 = DATA / "audio" / "vibe_ace.mp3"
SR = 16000


def write_tone(path: Path, seconds: float = 0.05, freq: float = 440.0, seed: int = 0) -> Path:
    """A short real audio file: a tone plus a little noise (so no two files are identical)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).normal(0, 0.01, len(t))
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32), SR)
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture(scope="module")
def artist_set(tmp_path_factory) -> LabelledSet:
    """3 classes x 8 artists x 2 clips, mer4q's CSV layout; artists keep to one class, as in mer4q.
    Shared by the tests of this module, which only read it."""
    tmp_path = tmp_path_factory.mktemp("artist_set")
    rows = [["file", "quadrant", "artist", "title", "moods", "genres"]]
    for c, quadrant in enumerate(("Q1", "Q2", "Q3")):
        for a in range(8):
            for clip in range(2):
                name = f"audio/{quadrant}_{a}_{clip}.wav"
                write_tone(tmp_path / name, freq=200 + 100 * c + 7 * a, seed=100 * c + 10 * a + clip)
                rows.append([name, quadrant, f"Artist {c}-{a}", f"t{clip}", "Happy; Bright", "Pop/Rock"])
    return read_csv(write_csv(tmp_path / "labels.csv", rows))


# ------------------------------------------------------------------------------------------------ readers


def test_folder_layout_gives_one_label_per_subfolder_and_ignores_non_audio(tmp_path):
    root = tmp_path / "genres"
    for genre in ("blues", "rock"):
        for i in range(3):
            write_tone(root / genre / f"{genre}.{i:05d}.wav", seed=i)
    write_tone(root / "rock" / "live" / "encore.wav")  # nested folders belong to their label
    (root / "rock" / "notes.txt").write_text("not audio")
    (root / ".hidden").mkdir()
    write_tone(root / ".hidden" / "x.wav")

    ds = open_dataset(f"folder:{root}")
    assert ds.name == "genres" and ds.labels == ("blues", "rock") and not ds.multilabel
    assert ds.label_counts() == {"blues": 3, "rock": 4}
    assert all(os.path.isabs(e.path) and os.path.isfile(e.path) for e in ds.examples)
    assert list(ds.targets()) == [0, 0, 0, 1, 1, 1, 1]
    assert open_dataset(str(root)).examples == ds.examples  # a bare folder path is the folder layout


def test_csv_in_gtzan_mini_layout(tmp_path):
    rows = [["file", "genre"]]
    for genre in ("blues", "metal"):
        for i in range(2):
            write_tone(tmp_path / "gtzan_mini" / "audio" / f"{genre}.{i}.opus.wav", seed=i)
            rows.append([f"audio/{genre}.{i}.opus.wav", genre])
    ds = open_dataset(str(write_csv(tmp_path / "gtzan_mini" / "labels.csv", rows)))
    assert ds.name == "gtzan_mini"  # labels.csv is named by its folder
    assert ds.labels == ("blues", "metal") and len(ds) == 4 and not ds.multilabel
    assert ds.examples[0].path == str(tmp_path / "gtzan_mini" / "audio" / "blues.0.opus.wav")
    assert ds.examples[0].artist is None and ds.examples[0].split is None


def test_csv_in_mer4q_layout_reads_quadrant_and_artist(artist_set):
    ds = artist_set
    assert ds.labels == ("Q1", "Q2", "Q3") and len(ds) == 48
    # the "moods" column has ';'-lists, but the label column is the quadrant: still single-label
    assert not ds.multilabel and ds.label_counts() == {"Q1": 16, "Q2": 16, "Q3": 16}
    assert ds.examples[0].artist == "Artist 0-0"
    assert ds.subset([47, 0]).examples == (ds.examples[47], ds.examples[0])


def test_csv_without_header_and_with_label_lists_is_multilabel(tmp_path):
    for name in ("a", "b", "c"):
        write_tone(tmp_path / f"{name}.wav")
    ds = read_csv(
        write_csv(tmp_path / "tags.csv", [["a.wav", "rock;pop"], ["b.wav", "pop"], ["c.wav", " jazz "]])
    )
    assert ds.multilabel and ds.labels == ("jazz", "pop", "rock")
    assert ds.targets().tolist() == [[0, 1, 1], [0, 1, 0], [1, 0, 0]]
    assert ds.label_counts() == {"jazz": 1, "pop": 2, "rock": 1}


def test_csv_explicit_columns_and_audio_root(tmp_path):
    write_tone(tmp_path / "music" / "x.wav")
    write_tone(tmp_path / "music" / "y.wav")
    rows = [["path", "style", "band"], ["x.wav", "a", "B1"], ["y.wav", "b", "B2"]]
    ds = read_csv(
        write_csv(tmp_path / "meta.csv", rows),
        label_column="style",
        artist_column="band",
        audio_root=tmp_path / "music",
    )
    assert ds.labels == ("a", "b") and [e.artist for e in ds.examples] == ["B1", "B2"]


def test_csv_errors_name_the_problem(tmp_path):
    write_tone(tmp_path / "a.wav")
    write_tone(tmp_path / "b.wav")
    with pytest.raises(DatasetError, match=r"no file column.*song, genre"):
        read_csv(write_csv(tmp_path / "nofile.csv", [["song", "genre"], ["a.wav", "rock"]]))
    with pytest.raises(DatasetError, match="no such file"):
        read_csv(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetError, match="empty"):
        read_csv(tmp_path / "empty.csv")
    with pytest.raises(DatasetError, match="empty"):
        read_csv(write_csv(tmp_path / "header_only.csv", [["file", "label"]]))

    bad = write_csv(
        tmp_path / "bad.csv", [["file", "label"], ["a.wav", "rock"], ["b.wav", ""], ["c.wav"], ["a.wav", "x"]]
    )
    with pytest.raises(DatasetError) as info:
        read_csv(bad)
    message = str(info.value)
    assert "3 bad row(s)" in message
    assert "line 3: no label for b.wav" in message and "line 4: 1 column(s)" in message
    assert "line 5:" in message and "listed twice (first at line 2)" in message

    rows = [["file", "label"]] + [[f"{n}.wav", "rock" if n in "ab" else "pop"] for n in "abcdefghijklmn"]
    with pytest.raises(DatasetError) as info:
        read_csv(write_csv(tmp_path / "missing.csv", rows))
    message = str(info.value)
    assert "12 of 14 audio files do not exist" in message
    assert str(tmp_path / "c.wav") in message and "and 2 more" in message  # 10 listed, the rest counted
    assert len(info.value.problems) == 12


def test_one_label_only_is_an_error(tmp_path):
    write_tone(tmp_path / "a.wav")
    with pytest.raises(DatasetError, match="only one label"):
        read_csv(write_csv(tmp_path / "one.csv", [["file", "genre"], ["a.wav", "rock"]]))


def test_multilabel_table_thresholds_numbers_and_ignores_text_columns(tmp_path):
    rows = [["file", "artist", "title", "happy", "sad", "calm"]]
    for i, (h, s, c) in enumerate([("1", "0", "0.7"), ("0", "1", "0.2"), ("0.5", "0.49", "0")]):
        write_tone(tmp_path / f"{i}.wav", seed=i)
        rows.append([f"{i}.wav", f"A{i}", f"song {i}", h, s, c])
    ds = open_dataset(f"multilabel:{write_csv(tmp_path / 'cal500.csv', rows)}")
    assert ds.multilabel and ds.labels == ("happy", "sad", "calm")  # column order, title not a tag
    assert [e.labels for e in ds.examples] == [("happy", "calm"), ("sad",), ("happy",)]
    assert [e.artist for e in ds.examples] == ["A0", "A1", "A2"]
    assert ds.targets().tolist() == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
    with pytest.raises(DatasetError, match="no tag columns"):
        read_multilabel_csv(write_csv(tmp_path / "notags.csv", [["file", "title"], ["0.wav", "x"]]))


def _group(name: str, fields: str) -> list[tuple[str, str]]:
    return [(name, field) for field in fields.split()]


# FMA's tracks.csv: a two-level header (group, field), then a "track_id" row, then one row per track. The
# columns below are the real file's, in its order; values are shortened.
_FMA_COLUMNS = (
    _group("album", "comments date_created date_released engineer favorites id information listens producer "
                    "tags title tracks type")
    + _group("artist", "active_year_begin active_year_end associated_labels bio comments date_created "
                       "favorites id latitude location longitude members name related_projects tags website "
                       "wikipedia_page")
    + _group("set", "split subset")
    + _group("track", "bit_rate comments composer date_created date_recorded duration favorites genre_top "
                      "genres genres_all information interest language_code license listens lyricist number "
                      "publisher tags title")
)  # fmt: skip


def write_fma(tmp_path: Path, tracks: list[tuple[int, str, str, str, int]]) -> tuple[Path, Path]:
    """fma_metadata/tracks.csv and fma_<subset>/XXX/XXXXXX.mp3 (real mp3s) for (id, genre, split, subset,
    artist id) rows."""
    meta, audio = tmp_path / "fma_metadata", tmp_path / "fma_small"
    meta.mkdir()
    rows = [
        [""] + [g for g, _ in _FMA_COLUMNS],
        [""] + [f for _, f in _FMA_COLUMNS],
        ["track_id"] + [""] * len(_FMA_COLUMNS),
    ]
    where = {col: i + 1 for i, col in enumerate(_FMA_COLUMNS)}
    for track_id, genre, split, subset, artist in tracks:
        row = [str(track_id)] + ["0"] * len(_FMA_COLUMNS)
        row[where["album", "title"]] = "An album, with a comma"
        row[where["artist", "bio"]] = '<p>Multi-line\nbio with "quotes"</p>'
        row[where["artist", "id"]] = str(artist)
        row[where["set", "split"]] = split
        row[where["set", "subset"]] = subset
        row[where["track", "genre_top"]] = genre
        row[where["track", "genres"]] = "[21]"
        rows.append(row)
        mp3 = audio / f"{track_id:06d}"[:3] / f"{track_id:06d}.mp3"
        mp3.parent.mkdir(parents=True, exist_ok=True)
        try:
            mp3.symlink_to(MP3)
        except OSError:
            shutil.copy(MP3, mp3)
    write_csv(meta / "tracks.csv", rows)
    return meta, audio


FMA_TRACKS = [
    (2, "Hip-Hop", "training", "small", 1),
    (5, "Hip-Hop", "training", "small", 1),
    (10, "Pop", "training", "small", 6),
    (140, "Folk", "validation", "small", 54),
    (141, "Folk", "test", "small", 60),
    (1482, "Rock", "test", "medium", 7),
    (2012, "Pop", "training", "large", 9),
    (3000, "", "training", "large", 10),  # the large set has tracks without a top genre
]


def test_fma_reader_keeps_the_subset_and_honours_the_official_split(tmp_path):
    meta, audio = write_fma(tmp_path, FMA_TRACKS)
    ds = read_fma(meta, audio, subset="small")
    assert ds.name == "fma_small" and ds.labels == ("Folk", "Hip-Hop", "Pop")
    assert [Path(e.path).relative_to(audio).as_posix() for e in ds.examples] == [
        "000/000002.mp3", "000/000005.mp3", "000/000010.mp3", "000/000140.mp3", "000/000141.mp3"
    ]  # fmt: skip
    assert [e.split for e in ds.examples] == ["train", "train", "train", "validation", "test"]
    assert [e.artist for e in ds.examples] == ["1", "1", "6", "54", "60"]

    train, val, test = train_val_test_split(ds, seed=3)
    assert train.tolist() == [0, 1, 2] and val.tolist() == [3] and test.tolist() == [4]
    assert describe_split(ds, (train, val, test)).startswith("official split of fma_small, artist-disjoint")

    medium = open_dataset(f"fma:{meta},{audio}")  # the spec form; subsets nest: medium includes small
    assert len(medium) == 5
    medium = read_fma(meta, audio, subset="medium")
    assert len(medium) == 6 and medium.examples[-1].labels == ("Rock",)
    assert len(read_fma(meta, audio, subset="large")) == 7  # the track without a genre is left out
    assert open_dataset(str(meta)).examples == ds.examples  # a folder with tracks.csv; audio beside it


def test_fma_errors(tmp_path):
    meta, audio = write_fma(tmp_path, FMA_TRACKS)
    (audio / "000" / "000010.mp3").unlink()
    with pytest.raises(DatasetError, match=r"1 of 5 audio files do not exist\n.*000010\.mp3"):
        read_fma(meta, audio)
    with pytest.raises(DatasetError, match="unknown FMA subset"):
        read_fma(meta, audio, subset="tiny")
    write_csv(tmp_path / "plain.csv", [["track_id", "genre"], ["2", "Pop"]])
    with pytest.raises(DatasetError, match=r"not FMA's tracks\.csv"):
        read_fma(tmp_path / "plain.csv", audio)


def test_open_dataset_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        open_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="no path after"):
        open_dataset("csv:")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DatasetError, match="cannot tell"):
        open_dataset(str(tmp_path / "x.json"))


# ------------------------------------------------------------------------------------------------- splits


def _artists(ds, idx):
    return {ds.examples[i].artist for i in idx}


def test_cross_validation_folds_are_artist_disjoint_stratified_and_cover_everything(artist_set):
    ds = artist_set
    folds = cross_validation_folds(ds, k=4, seed=0)
    assert len(folds) == 4
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(ds)))  # every clip tested exactly once
    y = ds.targets()
    for train, test in folds:
        assert train.dtype == np.int64 and not set(train) & set(test)
        assert len(train) + len(test) == len(ds)
        assert not _artists(ds, train) & _artists(ds, test)
        # 8 artists per class over 4 folds: 2 artists = 4 clips of each class in every test fold
        assert np.bincount(y[test], minlength=3).tolist() == [4, 4, 4]
    assert describe_split(ds, folds, seed=0) == (
        "stratified 4-fold cross-validation, artist-disjoint (24 artists), seed 0 (48 examples)"
    )


def test_splits_are_deterministic_by_seed(artist_set):
    first = cross_validation_folds(artist_set, k=4, seed=1)
    again = cross_validation_folds(artist_set, k=4, seed=1)
    other = cross_validation_folds(artist_set, k=4, seed=2)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))
    split = train_val_test_split(artist_set, seed=5)
    assert all(
        np.array_equal(a, b) for a, b in zip(split, train_val_test_split(artist_set, seed=5), strict=True)
    )
    assert any(
        not np.array_equal(a, b) for a, b in zip(split, train_val_test_split(artist_set, seed=6), strict=True)
    )


def test_train_val_test_split_is_stratified_and_artist_disjoint(artist_set):
    ds = artist_set
    train, val, test = train_val_test_split(ds, val=0.25, test=0.25, seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(ds)))
    parts = [_artists(ds, p) for p in (train, val, test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    y = ds.targets()
    for part in (val, test):  # every class in every part, in about the overall proportion
        counts = np.bincount(y[part], minlength=3)
        assert counts.min() >= 2 and counts.max() - counts.min() <= 2
    assert 0.15 < len(test) / len(ds) < 0.35 and 0.15 < len(val) / len(ds) < 0.35
    text = describe_split(ds, (train, val, test), seed=0)
    assert text.startswith("stratified train/validation/test split, artist-disjoint (24 artists), seed 0")


def test_without_artists_the_split_is_by_clip(tmp_path):
    rows = [["file", "genre"]]
    for i in range(20):
        write_tone(tmp_path / f"{i}.wav", seed=i)
        rows.append([f"{i}.wav", "rock" if i % 4 else "jazz"])  # 15 rock, 5 jazz
    ds = read_csv(write_csv(tmp_path / "clips.csv", rows))
    folds = cross_validation_folds(ds, k=5, seed=0)
    y = ds.targets()
    assert all(np.bincount(y[test], minlength=2).tolist() == [1, 3] for _, test in folds)
    assert describe_split(ds, folds) == "stratified 5-fold cross-validation (20 examples)"


def test_too_few_examples_or_artists_is_a_clear_error(artist_set, tmp_path):
    ds = artist_set
    few = ds.subset([i for i in range(len(ds)) if ds.examples[i].labels != ("Q3",)] + [32, 33, 34])
    with pytest.raises(DatasetError) as info:
        cross_validation_folds(few, k=5)
    assert "5-fold cross-validation needs at least 5 examples per class" in str(info.value)
    assert "class 'Q3' has only 3 example(s)" in str(info.value)
    with pytest.raises(DatasetError, match="class 'Q3' has only 2 example"):
        train_val_test_split(ds.subset([*range(34)]))
    four_artists = LabelledSet(
        "tiny",
        tuple(Example(f"/x/{i}", ("ab"[i % 2],), f"artist {i % 4}") for i in range(12)),
        ("a", "b"),
        False,
    )
    with pytest.raises(DatasetError, match="only 4 artists; an artist-disjoint split into 5 parts"):
        cross_validation_folds(four_artists, k=5)


def test_multilabel_folds_stratify_on_the_rarest_tag(tmp_path):
    rows = [["file", "labels"]]
    for i in range(30):
        write_tone(tmp_path / f"{i}.wav", seed=i)
        tags = ["common"] + (["rare"] if i % 6 == 0 else [])  # 5 clips carry the rare tag
        rows.append([f"{i}.wav", ";".join(tags)])
    ds = read_csv(write_csv(tmp_path / "tags.csv", rows))
    assert ds.multilabel
    folds = cross_validation_folds(ds, k=5, seed=0)
    rare = ds.targets()[:, ds.labels.index("rare")]
    assert [int(rare[test].sum()) for _, test in folds] == [1, 1, 1, 1, 1]  # one rare clip per fold
    assert "rarest tag" in describe_split(ds, folds)


# ------------------------------------------------------------------------------------------------- cache


def direct_patches(path, first: int = 0, count: int | None = None) -> np.ndarray:
    """The reference: the whole file through load_audio + LogMelSpectrogram, cut on the 187-frame grid."""
    with torch.no_grad():
        mel = LogMelSpectrogram()(torch.from_numpy(load_audio(path, sample_rate=SR))).numpy()
    n = max(1, mel.shape[0] // 187)
    mel = np.pad(mel, ((0, max(0, 187 - mel.shape[0])), (0, 0)))[: n * 187].reshape(n, 187, 96)
    return mel[first : None if count is None else first + count]


def assert_float16_close(cached: np.ndarray, reference: np.ndarray) -> None:
    # stored as float16: 10 mantissa bits, so each value is within 2**-11 of itself relatively
    assert cached.shape == reference.shape and cached.dtype == np.float32
    assert np.all(np.abs(cached - reference) <= np.abs(reference) * 2.0**-11 + 1e-5)


def write_chirp(path: Path, seconds: float, f0: float = 100.0, f1: float = 4000.0) -> Path:
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * seconds))
    sf.write(path, (0.4 * np.sin(phase)).astype(np.float32), SR)
    return path


def test_cache_gives_the_analyzers_patches_and_reads_them_back_without_decoding(tmp_path):
    audio = write_chirp(tmp_path / "clip.wav", 7.0)  # 438 frames: 2 whole patches, a partial one dropped
    cache = PatchCache(tmp_path / "cache")
    first = cache.get(audio)
    assert first.mel.shape == (2, 187, 96) and first.features is None
    assert_float16_close(first.mel, direct_patches(audio))
    entry = cache.entry_path(audio)
    assert (
        entry.is_file() and entry.is_relative_to(tmp_path / "cache") and (cache.hits, cache.misses) == (0, 1)
    )
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # written via a temporary file, renamed into place

    # Replace the audio by noise of the same size and put the old mtime back: the key is unchanged, so a
    # hit must return the stored patches without decoding the (now different) file.
    stat = audio.stat()
    data = audio.read_bytes()
    audio.write_bytes(data[:44] + np.random.default_rng(0).bytes(len(data) - 44))
    os.utime(audio, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    entry_mtime = entry.stat().st_mtime_ns
    second = cache.get(audio)
    assert (cache.hits, cache.misses) == (1, 1) and entry.stat().st_mtime_ns == entry_mtime
    assert np.array_equal(second.mel, first.mel)  # a miss returns what a hit will: float16-rounded

    os.utime(audio, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the file changed: recomputed
    changed = cache.get(audio)
    assert (cache.hits, cache.misses) == (1, 2) and cache.entry_path(audio) != entry
    assert_float16_close(changed.mel, direct_patches(audio))
    assert not np.allclose(changed.mel, first.mel)


def test_cache_recomputes_a_damaged_entry(tmp_path):
    audio = write_chirp(tmp_path / "clip.wav", 4.0)
    cache = PatchCache(tmp_path / "cache")
    good = cache.get(audio)
    entry = cache.entry_path(audio)
    for damage in (b"not a zip file", entry.read_bytes()[: entry.stat().st_size // 2]):
        entry.write_bytes(damage)
        misses = cache.misses
        again = cache.get(audio)
        assert cache.misses == misses + 1 and np.array_equal(again.mel, good.mel)
        assert np.array_equal(np.load(entry)["mel"].astype(np.float32), good.mel)  # rewritten whole


def test_cache_short_clip_long_clip_and_settings(tmp_path):
    short = write_chirp(tmp_path / "short.wav", 1.0)
    cache = PatchCache(tmp_path / "cache", max_patches=3)
    mel = cache.get(short).mel
    assert mel.shape == (1, 187, 96)
    assert_float16_close(mel[:, :63], direct_patches(short)[:, :63])
    assert np.all(mel[0, 63:] == 0)  # padded with silence (log-mel 0) like the Analyzer

    long = write_chirp(tmp_path / "long.wav", 27.0)  # 1688 frames: 9 whole patches
    kept = cache.get(long).mel
    assert kept.shape == (3, 187, 96)
    assert_float16_close(kept, direct_patches(long, first=3, count=3))  # the 3 central patches of 9
    everything = PatchCache(tmp_path / "cache", max_patches=None)
    assert everything.entry_path(long) != cache.entry_path(long)  # settings are part of the key
    assert_float16_close(everything.get(long).mel, direct_patches(long))


def test_cache_on_real_music_and_errors(tmp_path):
    cache = PatchCache(tmp_path / "cache")
    metal = DATA / "music" / "muldjord-chaos_god-0m30s-12s.ogg"
    assert_float16_close(cache.get(metal).mel, direct_patches(metal))
    with pytest.raises(AudioLoadError, match="not found"):
        cache.get(tmp_path / "missing.ogg")
    (tmp_path / "fake.mp3").write_bytes(b"this is not audio" * 100)
    with pytest.raises(AudioLoadError):
        cache.get(tmp_path / "fake.mp3")
    assert cache.misses == 1 and not list((tmp_path / "cache").rglob("*.tmp"))


def test_cache_default_folder_is_under_the_cache_dir():
    from musictagger.paths import cache_dir

    assert PatchCache().root == cache_dir() / "patches"


def test_cache_with_features(tmp_path):
    from musictagger.research.features import N_FEATURES, patch_features

    audio = write_chirp(tmp_path / "clip.wav", 7.0)
    cache = PatchCache(tmp_path / "cache", with_features=True)
    first = cache.get(audio)
    assert first.mel.shape == (2, 187, 96) and first.features.shape == (2, 94, N_FEATURES)
    waveform = load_audio(audio, sample_rate=SR)
    np.testing.assert_allclose(
        first.features, patch_features(waveform[: 2 * 187 * 256], SR), rtol=1e-5, atol=1e-6
    )
    again = cache.get(audio)
    assert cache.hits == 1 and np.array_equal(again.features, first.features)
    # a mel-only cache and a features cache keep separate entries
    assert PatchCache(tmp_path / "cache").entry_path(audio) != cache.entry_path(audio)
