"""Walking a user's folders: everything audio is found, nothing stops the walk."""

import os

from musictagger.files import AudioFolder, WalkError, iter_audio_files, iter_audio_folders


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_walk_finds_audio_recursively_in_stable_order_and_skips_other_files(tmp_path):
    touch(tmp_path / "b" / "02 Song.FLAC")
    touch(tmp_path / "b" / "01 Song.mp3")
    touch(tmp_path / "a.ogg")
    touch(tmp_path / "cover.jpg")
    touch(tmp_path / ".hidden" / "x.mp3")
    found = list(iter_audio_files([tmp_path]))
    assert found == [
        str(tmp_path / "a.ogg"),
        str(tmp_path / "b" / "01 Song.mp3"),
        str(tmp_path / "b" / "02 Song.FLAC"),
    ]


def test_a_named_file_is_taken_whatever_its_extension_and_missing_paths_are_reported(tmp_path):
    notes = touch(tmp_path / "notes.txt")
    found = list(iter_audio_files([notes, tmp_path / "gone.mp3"]))
    assert found[0] == str(notes)
    assert isinstance(found[1], WalkError) and "no such file" in found[1].cause


def test_symlink_loops_are_visited_once_and_odd_names_survive(tmp_path):
    odd = touch(tmp_path / "Ünïcödé — 曲 ♫" / ("long name " * 20 + ".opus"))
    os.symlink(tmp_path, tmp_path / "Ünïcödé — 曲 ♫" / "loop")
    found = list(iter_audio_files([tmp_path]))
    assert found == [str(odd)]


def test_non_utf8_file_names_are_found(tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.mp3"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    found = list(iter_audio_files([tmp_path]))
    assert len(found) == 1 and os.fsencode(found[0]) == raw


def test_folders_come_whole_with_their_files_before_their_subfolders(tmp_path):
    touch(tmp_path / "b.mp3")
    touch(tmp_path / "a" / "x.flac")
    touch(tmp_path / "c.ogg")
    touch(tmp_path / "empty" / "notes.txt")
    found = list(iter_audio_folders([tmp_path, tmp_path / "a" / "x.flac"]))
    assert found == [
        AudioFolder(str(tmp_path), [str(tmp_path / "b.mp3"), str(tmp_path / "c.ogg")], complete=True),
        AudioFolder(str(tmp_path / "a"), [str(tmp_path / "a" / "x.flac")], complete=True),
        # a file named alone is not its whole folder
        AudioFolder(str(tmp_path / "a"), [str(tmp_path / "a" / "x.flac")], complete=False),
    ]
