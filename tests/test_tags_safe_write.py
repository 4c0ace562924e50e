"""Failure paths of the safe writer: whatever goes wrong, the original stays byte-identical."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
import types
from pathlib import Path

import av
import mutagen
import pytest

from musictagger.errors import MusictaggerError
from musictagger.tags import (
    TagReadError,
    TagWriteError,
    find_stale_temp_files,
    read_tags,
    safe_write,
    write_tags,
)
from musictagger.tags.styles import ID3CommentStyle, ID3TextStyle, VorbisStyle

FORMATS = Path(__file__).parent / "data" / "formats"


def copy_fixture(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "library"
    folder.mkdir(exist_ok=True)
    path = folder / name
    shutil.copyfile(FORMATS / name, path)
    return path


def assert_untouched(path: Path, original: bytes) -> None:
    assert path.read_bytes() == original
    assert find_stale_temp_files(path.parent) == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.fixture
def mp3(tmp_path: Path) -> Path:
    return copy_fixture(tmp_path, "tagged_id3v24.mp3")


def test_errors_are_musictagger_errors():
    assert issubclass(TagWriteError, MusictaggerError)
    assert issubclass(TagReadError, MusictaggerError)
    err = TagWriteError("/x/a.mp3", "boom")
    assert err.path == "/x/a.mp3" and err.cause == "boom" and "/x/a.mp3" in str(err)


def test_text_named_flac_is_refused(tmp_path):
    path = tmp_path / "library" / "not_audio.flac"
    path.parent.mkdir()
    path.write_text("this is not a FLAC file\n" * 10)
    original = path.read_bytes()
    with pytest.raises(TagWriteError, match=r"not_audio\.flac"):
        write_tags(path, {"genre": ["Techno"]})
    assert_untouched(path, original)
    with pytest.raises(TagReadError):
        read_tags(path)


def test_missing_file(tmp_path):
    with pytest.raises(TagWriteError, match="No such file"):
        write_tags(tmp_path / "gone.mp3", {"genre": ["Techno"]})
    with pytest.raises(TagReadError):
        read_tags(tmp_path / "gone.mp3")


def test_read_only_folder(mp3):
    original = mp3.read_bytes()
    folder_mode = mp3.parent.stat().st_mode
    os.chmod(mp3.parent, 0o555)
    try:
        with pytest.raises(TagWriteError, match="read-only"):
            write_tags(mp3, {"genre": ["Techno"]})
    finally:
        os.chmod(mp3.parent, folder_mode)
    assert_untouched(mp3, original)


def test_read_only_file(mp3):
    original = mp3.read_bytes()
    os.chmod(mp3, 0o444)
    with pytest.raises(TagWriteError, match="read-only"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert stat.S_IMODE(mp3.stat().st_mode) == 0o444
    assert_untouched(mp3, original)


def test_failed_audio_verification_keeps_original(mp3, monkeypatch):
    original = mp3.read_bytes()
    digests = iter(["digest-of-original", "digest-of-copy"])
    monkeypatch.setattr(safe_write, "audio_payload_digest", lambda path: next(digests))
    with pytest.raises(TagWriteError, match="audio payload differs"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert_untouched(mp3, original)


def test_lost_cover_is_detected(mp3, monkeypatch):
    """A style that clobbers another frame (here: the cover) must fail verification (c)."""
    original = mp3.read_bytes()
    real_set = ID3TextStyle.set

    def clumsy_set(self, tags, values, options):
        real_set(self, tags, values, options)
        tags.delall("APIC")

    monkeypatch.setattr(ID3TextStyle, "set", clumsy_set)
    with pytest.raises(TagWriteError, match="fields we did not write changed: APIC:cover"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert_untouched(mp3, original)


def test_wrong_read_back_is_detected(mp3, monkeypatch):
    original = mp3.read_bytes()
    real_set = ID3CommentStyle.set
    monkeypatch.setattr(
        ID3CommentStyle, "set", lambda self, tags, values, options: real_set(self, tags, ["garbled"], options)
    )
    with pytest.raises(TagWriteError, match="comment reads back as"):
        write_tags(mp3, {"comment": ["fine"]})
    assert_untouched(mp3, original)


def test_failing_vorbis_save_keeps_original(tmp_path, monkeypatch):
    flac = copy_fixture(tmp_path, "tagged.flac")
    original = flac.read_bytes()

    def failing_set(self, tags, values, options):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(VorbisStyle, "set", failing_set)
    with pytest.raises(TagWriteError, match="No space left on device"):
        write_tags(flac, {"mood": ["dark"]})
    assert_untouched(flac, original)


def test_failing_replace_keeps_original(mp3, monkeypatch):
    original = mp3.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(safe_write.os, "replace", failing_replace)
    with pytest.raises(TagWriteError, match="Permission denied"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert_untouched(mp3, original)


def test_interrupt_removes_temporary_copy(mp3, monkeypatch):
    original = mp3.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safe_write, "_verify", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_tags(mp3, {"genre": ["Techno"]})
    assert_untouched(mp3, original)


def test_concurrent_change_is_not_overwritten(mp3, monkeypatch):
    real_copy_attributes = safe_write._copy_file_attributes

    def someone_else_writes(source, temp, source_stat):
        real_copy_attributes(source, temp, source_stat)
        with open(source, "ab") as f:
            f.write(b"\x00")

    monkeypatch.setattr(safe_write, "_copy_file_attributes", someone_else_writes)
    expected = mp3.read_bytes() + b"\x00"
    with pytest.raises(TagWriteError, match="changed the file meanwhile"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert_untouched(mp3, expected)


def test_id3v23_value_containing_the_separator_is_refused(tmp_path):
    path = copy_fixture(tmp_path, "tagged_id3v23.mp3")
    original = path.read_bytes()
    with pytest.raises(TagWriteError, match="already occurs"):
        write_tags(path, {"genre": ["Drum; Bass"]})
    assert_untouched(path, original)


def id3v22_tag(title: str) -> bytes:
    """A minimal ID3v2.2 tag (mutagen reads v2.2 but cannot write it): one TT2 title frame."""
    body = b"\x00" + title.encode("latin-1")
    frame = b"TT2" + len(body).to_bytes(3, "big") + body
    size = len(frame)
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x02\x00\x00" + syncsafe + frame


def test_id3v22_is_read_but_not_written(tmp_path):
    path = tmp_path / "library" / "old_itunes.mp3"
    path.parent.mkdir()
    path.write_bytes(id3v22_tag("Old Title") + (FORMATS / "untagged.mp3").read_bytes())
    original = path.read_bytes()
    assert read_tags(path) == {"title": ["Old Title"]}
    with pytest.raises(TagWriteError, match=r"ID3v2\.2"):
        write_tags(path, {"genre": ["Techno"]})
    assert_untouched(path, original)


def test_invalid_requests_raise_before_any_io(mp3):
    original = mp3.read_bytes()
    with pytest.raises(ValueError, match="unknown field"):
        write_tags(mp3, {"colour": ["blue"]})
    with pytest.raises(ValueError, match="does not write 'title'"):
        write_tags(mp3, {"title": ["x"]})
    with pytest.raises(TypeError, match="bare string"):
        write_tags(mp3, {"genre": "Techno"})
    with pytest.raises(TypeError, match="strings"):
        write_tags(mp3, {"genre": [1]})
    with pytest.raises(TagWriteError, match="NUL"):
        write_tags(mp3, {"genre": ["a\x00b"]})
    assert_untouched(mp3, original)


def test_empty_request_does_nothing(mp3):
    original = mp3.read_bytes()
    change = write_tags(mp3, {})
    assert not change.written and change.old == {} and change.new == {}
    assert_untouched(mp3, original)


def test_permissions_are_kept_and_mtime_moves(mp3):
    os.chmod(mp3, 0o640)
    os.utime(mp3, ns=(1_000_000_000, 1_000_000_000))
    write_tags(mp3, {"genre": ["Techno"]})
    assert stat.S_IMODE(mp3.stat().st_mode) == 0o640
    assert mp3.stat().st_mtime_ns > 1_000_000_000


def test_symlink_stays_a_link_and_its_target_is_written(mp3):
    link = mp3.parent / "link.mp3"
    link.symlink_to(mp3.name)
    write_tags(link, {"genre": ["Techno"]})
    assert link.is_symlink()
    assert read_tags(mp3)["genre"] == ["Techno"]


def test_hard_linked_file_is_refused(mp3, tmp_path):
    other = tmp_path / "other_name.mp3"
    os.link(mp3, other)
    original = mp3.read_bytes()
    with pytest.raises(TagWriteError, match="hard links"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert mp3.read_bytes() == original and other.read_bytes() == original


def test_off_spec_v24_frame_in_v23_tag_survives(tmp_path):
    """A TMOO frame some tool put into a v2.3 tag must not be dropped by a v2.3 save."""
    path = copy_fixture(tmp_path, "tagged_id3v23.mp3")
    tags = mutagen.id3.ID3(str(path), translate=False)
    tags.add(mutagen.id3.TMOO(encoding=1, text=["off spec"]))
    tags.save(str(path), v2_version=3, v23_sep=None)
    write_tags(path, {"genre": ["Techno"]})
    raw = mutagen.id3.ID3(str(path), translate=False)
    assert raw.version == (2, 3, 0)
    assert raw["TMOO"].text == ["off spec"]


def test_temporary_copy_is_hidden_and_keeps_the_suffix(mp3, monkeypatch):
    seen = []
    real_apply = safe_write._apply

    def spy(container, temp, *args):
        seen.append(temp)
        return real_apply(container, temp, *args)

    monkeypatch.setattr(safe_write, "_apply", spy)
    write_tags(mp3, {"genre": ["Techno"]})
    (temp,) = seen
    assert temp.parent == mp3.parent
    assert temp.name.startswith(".") and temp.suffix == ".mp3"
    assert not temp.exists()


def test_stale_temporary_copies_are_found(tmp_path):
    (tmp_path / ".song.musictagger-abcd1234.mp3").write_bytes(b"x")
    (tmp_path / "song.mp3").write_bytes(b"x")
    assert [p.name for p in find_stale_temp_files(tmp_path)] == [".song.musictagger-abcd1234.mp3"]


def test_unreadable_audio_is_refused(mp3, monkeypatch):
    original = mp3.read_bytes()

    def ffmpeg_fails(path):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(safe_write, "audio_payload_digest", ffmpeg_fails)
    with pytest.raises(TagWriteError, match="could not be verified"):
        write_tags(mp3, {"genre": ["Techno"]})
    assert_untouched(mp3, original)


def test_tag_change_serialises_for_a_journal(mp3):
    change = write_tags(mp3, {"genre": ["House", "Techno"], "mood": ["dark"]})
    record = json.loads(json.dumps(dataclasses.asdict(change)))
    assert record["old"] == {"genre": ["Jazz"], "mood": []}
    assert change.changed_fields == ("genre", "mood")
    write_tags(record["path"], record["old"])
    assert read_tags(mp3)["genre"] == ["Jazz"] and "mood" not in read_tags(mp3)


def test_asf_value_moved_between_header_objects_is_not_a_change():
    """mutagen stores a second same-named ASF value in the Metadata Library (language 0, stream 0)."""
    from mutagen.asf import ASFTags, ASFUnicodeAttribute

    from musictagger.tags.containers import ASF_FORMAT

    def snapshot(language, stream):
        tags = ASFTags()
        tags.append(("Author", ASFUnicodeAttribute("A")))
        tags.append(("Author", ASFUnicodeAttribute("A", language=language, stream=stream)))
        return ASF_FORMAT.snapshot(types.SimpleNamespace(tags=tags))

    assert snapshot(None, None) == snapshot(0, 0)
    assert snapshot(None, None) != snapshot(1, 0)
