"""Per-container contract of musictagger.tags (Picard style: one test base, one small subclass per file).

Every test works on a copy of a fixture from tests/data/formats/ (made by tools/make_tag_fixtures.py).
The oracles are independent of the code under test: audio is compared by decoding with soundfile (or PyAV
for M4A/WMA, which libsndfile cannot read), covers are read through FFmpeg's attached-picture streams,
and raw tag storage is inspected with plain mutagen.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import av
import mutagen
import numpy as np
import pytest
import soundfile as sf

from musictagger.tags import container_of, read_tags, write_tags

FORMATS = Path(__file__).parent / "data" / "formats"

MIK = "1A - Energy 6"
UNDERSCORED = {"title": ["Vibe_Ace_excerpt"], "artist": ["Kevin_MacLeod"], "album": ["Jazz_Sampler"]}
SPACED = {"title": ["Vibe Ace"], "artist": ["Kevin MacLeod"], "album": ["Jazz Sampler"]}
TAGGED = {"genre": ["Jazz"], "comment": [MIK], "bpm": ["130"], "key": ["1A"], **UNDERSCORED}
TAGGED_OGG = {"genre": ["Jazz"], "comment": [MIK], "bpm": ["130.000000"], "key": ["1A"], **SPACED}
TAGGED_WMA = {**TAGGED, "artist": ["Kevin_MacLeod", "Kevin_MacLeod"]}  # ffmpeg wrote Author twice
NOTHING: dict[str, list[str]] = {}
NEW = {
    "genre": ["Deep House", "Techno"],
    "mood": ["dark", "driving"],
    "comment": [f"{MIK} [mood: dark; driving | genre: techno]"],
    "grouping": ["Peak time"],
}


def decode(path: Path) -> np.ndarray:
    """All samples as an integer array, decoded by a library the code under test does not use for this."""
    try:
        data, _ = sf.read(str(path), dtype="int32", always_2d=True)
        return data
    except sf.LibsndfileError:
        pass
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.audio[0]):
            chunks.append(frame.to_ndarray().reshape(-1))
    return np.concatenate(chunks)


def cover_bytes(path: Path) -> bytes | None:
    """The embedded front cover as FFmpeg sees it (an attached-picture stream), or None."""
    with av.open(str(path)) as container:
        for stream in container.streams.video:
            if stream.disposition & av.stream.Disposition.attached_pic:
                return bytes(next(container.demux(stream)))
    return None


def raw_tag_lines(path: Path) -> list[str]:
    """mutagen's own one-line-per-value dump of the whole tag, sorted; [] without a tag."""
    audio = mutagen.File(str(path))
    if audio is None or audio.tags is None:
        return []
    return sorted(audio.tags.pprint().splitlines())


def raw_entries(path: Path, key: str) -> list:
    """What is physically stored under `key`, one list item per stored value (plain mutagen)."""
    audio = mutagen.File(str(path))
    tags = audio.tags
    if isinstance(tags, mutagen.id3.ID3):
        return list(tags[key].text) if key in tags else []
    if isinstance(tags, mutagen.asf.ASFTags):
        return [str(value) for value in tags.get(key, [])]
    if isinstance(tags, mutagen.mp4.MP4Tags):
        return [bytes(v).decode() if isinstance(v, bytes) else v for v in tags.get(key, [])]
    return list(tags.get(key, []))


class FormatContract:
    """The tests every container must pass. Subclasses name their fixture and what it holds."""

    fixture: str
    container: str
    expected: dict[str, list[str]]  # read_tags() of the fixture
    has_cover: bool = True
    genre_key: str  # where genre and mood are physically stored, for raw checks
    mood_key: str
    id3v23_joiner: str | None = None  # ID3v2.3 stores several values as one joined string

    @pytest.fixture
    def path(self, tmp_path: Path) -> Path:
        copy = tmp_path / self.fixture
        shutil.copyfile(FORMATS / self.fixture, copy)
        return copy

    def test_container_detected(self, path):
        assert container_of(path).name == self.container

    def test_reads_existing_tags(self, path):
        assert read_tags(path) == self.expected

    def test_cover_present(self, path):
        assert (cover_bytes(path) is not None) == self.has_cover
        if self.has_cover:
            assert cover_bytes(path).startswith(b"\x89PNG")

    def test_write_reads_back(self, path):
        change = write_tags(path, NEW)
        assert change.written
        assert dict(change.new) == {name: tuple(values) for name, values in NEW.items()}
        assert change.old == {name: tuple(self.expected.get(name, [])) for name in NEW}
        tags = read_tags(path)
        for name, values in NEW.items():
            assert tags[name] == values
        for name in ("title", "artist", "album", "bpm", "key"):
            assert tags.get(name) == self.expected.get(name)

    def test_multi_values_are_stored_as_the_format_stores_them(self, path):
        write_tags(path, {"genre": NEW["genre"], "mood": NEW["mood"]})
        joiner = self.id3v23_joiner
        assert raw_entries(path, self.genre_key) == ([joiner.join(NEW["genre"])] if joiner else NEW["genre"])
        assert raw_entries(path, self.mood_key) == ([joiner.join(NEW["mood"])] if joiner else NEW["mood"])

    def test_genre_only_keeps_everything_else(self, path):
        lines_before = raw_tag_lines(path)
        cover_before = cover_bytes(path)
        write_tags(path, {"genre": ["Techno"]})
        tags = read_tags(path)
        assert tags["genre"] == ["Techno"]
        assert {k: v for k, v in tags.items() if k != "genre"} == {
            k: v for k, v in self.expected.items() if k != "genre"
        }
        if "comment" in self.expected:
            assert tags["comment"] == [MIK]  # the Mixed In Key comment, byte for byte
        assert cover_bytes(path) == cover_before
        changed = set(lines_before) ^ set(raw_tag_lines(path))
        assert changed, "genre must have changed"
        assert all(line.lower().startswith(self.genre_key.lower() + "=") for line in changed), changed

    def test_audio_payload_identical(self, path):
        original = decode(path)
        write_tags(path, NEW)
        after_write = decode(path)
        assert after_write.shape == original.shape
        assert np.array_equal(after_write, original)

    def test_undo_restores_the_tag_state(self, path):
        lines_before = raw_tag_lines(path)
        tags_before = read_tags(path)
        cover_before = cover_bytes(path)
        change = write_tags(path, NEW)
        assert read_tags(path) != tags_before
        undo = write_tags(path, change.undo_changes())
        assert undo.old == change.new
        assert read_tags(path) == tags_before
        assert raw_tag_lines(path) == lines_before
        assert cover_bytes(path) == cover_before

    def test_delete_fields(self, path):
        write_tags(path, NEW)
        change = write_tags(path, {"comment": None, "grouping": []})
        assert change.new == {"comment": (), "grouping": ()}
        tags = read_tags(path)
        assert "comment" not in tags and "grouping" not in tags
        assert tags["genre"] == NEW["genre"] and tags["mood"] == NEW["mood"]
        assert tags.get("title") == self.expected.get("title")

    def test_rewriting_same_values_leaves_file_alone(self, path):
        write_tags(path, NEW)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        mtime = path.stat().st_mtime_ns
        change = write_tags(path, NEW)
        assert not change.written and change.changed_fields == ()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert path.stat().st_mtime_ns == mtime

    def test_no_temporary_file_left(self, path):
        write_tags(path, NEW)
        assert sorted(p.name for p in path.parent.iterdir()) == [self.fixture]


class ID3Contract(FormatContract):
    genre_key = "TCON"
    mood_key = "TMOO"

    def test_keeps_foreign_id3_frames_when_writing_comment(self, path):
        before = mutagen.File(str(path)).tags
        write_tags(path, {"comment": ["new comment"]})
        after = mutagen.File(str(path)).tags
        for key in ("COMM:iTunNORM:eng", "GEOB:Serato Markers2", "TXXX:REPLAYGAIN_TRACK_GAIN", "APIC:cover"):
            assert after[key] == before[key], key
            assert getattr(after[key], "data", None) == getattr(before[key], "data", None)
        assert after["COMM::eng"].text == ["new comment"]


class TestMP3ID3v24(ID3Contract):
    fixture = "tagged_id3v24.mp3"
    container = "mp3"
    expected = TAGGED

    def test_stays_v24_with_real_multi_values(self, path):
        write_tags(path, NEW)
        tags = mutagen.File(str(path)).tags
        assert tags.version == (2, 4, 0)
        assert tags["TCON"].text == NEW["genre"]  # one TCON frame, two strings
        assert tags["TMOO"].text == NEW["mood"]
        assert tags["TIT1"].text == NEW["grouping"]


class TestMP3ID3v23(ID3Contract):
    fixture = "tagged_id3v23.mp3"
    container = "mp3"
    expected = TAGGED
    mood_key = "TXXX:mood"
    id3v23_joiner = "; "

    def test_stays_v23_and_joins_multi_values(self, path):
        write_tags(path, NEW)
        raw = mutagen.id3.ID3(str(path), translate=False)
        assert raw.version == (2, 3, 0)
        assert raw["TCON"].text == ["Deep House; Techno"]
        assert raw["TXXX:mood"].text == ["dark; driving"]
        assert "TMOO" not in raw  # TMOO does not exist in ID3v2.3
        assert read_tags(path)["genre"] == NEW["genre"]  # split again on read

    def test_custom_separator(self, path):
        write_tags(path, {"genre": ["House", "Techno"]}, id3v23_separator=" / ")
        assert mutagen.id3.ID3(str(path))["TCON"].text == ["House / Techno"]
        assert read_tags(path, id3v23_separator=" / ")["genre"] == ["House", "Techno"]
        assert read_tags(path)["genre"] == ["House / Techno"]


class TestMP3Untagged(FormatContract):
    fixture = "untagged.mp3"
    container = "mp3"
    expected = NOTHING
    has_cover = False
    genre_key = "TCON"
    mood_key = "TMOO"

    def test_new_tag_is_v24_by_default_and_v23_on_request(self, path):
        write_tags(path, {"genre": ["A", "B"]})
        assert mutagen.File(str(path)).tags.version == (2, 4, 0)
        write_tags(path, {"genre": None})
        write_tags(path, {"genre": ["A", "B"]}, new_id3_version=3)
        assert mutagen.File(str(path)).tags.version == (2, 3, 0)
        assert read_tags(path)["genre"] == ["A", "B"]

    def test_undo_gives_back_the_original_bytes(self, path):
        original = path.read_bytes()
        change = write_tags(path, NEW)
        write_tags(path, change.undo_changes())
        assert path.read_bytes() == original


class TestWAVUntagged(TestMP3Untagged):
    fixture = "untagged.wav"
    container = "wav"


class TestAIFF(ID3Contract):
    fixture = "tagged.aiff"
    container = "aiff"
    expected = TAGGED

    def test_ffmpeg_txxx_comment_is_not_ours(self, path):
        write_tags(path, {"comment": None})
        tags = mutagen.File(str(path)).tags
        assert "COMM::eng" not in tags
        assert tags["TXXX:comment"].text == ["1A_-_Energy_6"]


class VorbisContract(FormatContract):
    genre_key = "genre"
    mood_key = "mood"

    def test_several_genre_comments(self, path):
        write_tags(path, {"genre": ["House", "Techno"]})
        audio = mutagen.File(str(path))
        assert [value for key, value in audio.tags if key.lower() == "genre"] == ["House", "Techno"]

    def test_keeps_foreign_comments(self, path):
        before = mutagen.File(str(path)).tags
        write_tags(path, NEW)
        after = mutagen.File(str(path)).tags
        for key in ("replaygain_track_gain", "serato_markers_v2", "description", "metadata_block_picture"):
            assert after.get(key) == before.get(key), key

    def test_undo_keeps_key_spelling_and_order(self, path):
        before = list(mutagen.File(str(path)).tags)
        change = write_tags(path, {"genre": ["House", "Techno"], "mood": ["dark"]})
        write_tags(path, change.undo_changes())
        assert list(mutagen.File(str(path)).tags) == before


class TestFLAC(VorbisContract):
    fixture = "tagged.flac"
    container = "flac"
    expected = TAGGED

    def test_picture_block_kept(self, path):
        before = [p.write() for p in mutagen.flac.FLAC(str(path)).pictures]
        write_tags(path, NEW)
        assert [p.write() for p in mutagen.flac.FLAC(str(path)).pictures] == before


class TestOggVorbis(VorbisContract):
    fixture = "tagged.ogg"
    container = "ogg"
    expected = TAGGED_OGG


class TestOpus(VorbisContract):
    fixture = "tagged.opus"
    container = "opus"
    expected = TAGGED_OGG


class MP4Contract(FormatContract):
    container = "m4a"
    expected = TAGGED
    genre_key = "©gen"
    mood_key = "----:com.apple.iTunes:MOOD"

    def test_keeps_foreign_atoms(self, path):
        before = mutagen.File(str(path)).tags
        write_tags(path, NEW)
        after = mutagen.File(str(path)).tags
        for key in (
            "covr",
            "tmpo",
            "----:com.apple.iTunes:REPLAYGAIN_TRACK_GAIN",
            "----:com.serato.dj:markersv2",
        ):
            assert after[key] == before[key], key


class TestM4AAAC(MP4Contract):
    fixture = "tagged_aac.m4a"


class TestM4AALAC(MP4Contract):
    fixture = "tagged_alac.m4a"


class TestWMA(FormatContract):
    fixture = "tagged.wma"
    container = "wma"
    expected = TAGGED_WMA
    genre_key = "WM/Genre"
    mood_key = "WM/Mood"

    def test_keeps_foreign_attributes(self, path):
        before = mutagen.File(str(path)).tags
        write_tags(path, NEW)
        after = mutagen.File(str(path)).tags
        for key in ("WM/Picture", "REPLAYGAIN_TRACK_GAIN", "SERATO_MARKERS_V2", "Author"):
            assert after[key] == before[key], key
