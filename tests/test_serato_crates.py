"""Serato crates: the field layout, paths from the drive's root, crate file names, and the facet playlists
of a real library index (the Rekordbox tests' files under odd names) written into a ``_Serato_`` folder and
read back by an independent parser, serato-tools' ``Crate`` (library/serato_crates.py,
services/export.py, the CLI)."""

import os
import shutil
import struct
from pathlib import Path

import pytest
from serato_tools.crate import Crate
from test_rekordbox import GENRE_PLAYLISTS, MOOD_PLAYLISTS, index_crate, present, track

from musictagger.library.rekordbox import RekordboxDocument, RekordboxFormatError, RekordboxPlaylist
from musictagger.library.serato_crates import (
    VERSION,
    crate_bytes,
    crate_file_name,
    drive_root,
    read_crate,
    serato_path,
    write_serato_crates,
)
from musictagger.services.export import export_collection
from musictagger.settings import Settings


@pytest.fixture
def music(library, tmp_path):
    return index_crate(library, tmp_path)


# -- the file ----------------------------------------------------------------------------------------------

ODD = ["Music/House/Deep Night (Original Mix).mp3", "Music/日本/東京の夜.m4a", "🎧 party 🎉.ogg",
       "#1 hit 100% & more; ok.wav"]  # fmt: skip


def test_a_crate_starts_with_its_version_and_holds_its_tracks_in_order(tmp_path):
    data = crate_bytes(ODD)
    version = VERSION.encode("utf-16-be")
    assert data[:8] == b"vrsn" + struct.pack(">I", len(version)) and data[8 : 8 + len(version)] == version
    assert read_crate(data) == ODD
    # An independent reader (serato-tools) sees the same tracks and the columns the crate shows.
    file = tmp_path / "x.crate"
    file.write_bytes(data)
    crate = Crate(str(file))
    assert crate.tracks() == ODD
    columns = [dict(value)["tvcn"] for tag, value in crate.data if tag == "ovct"]
    assert columns[:4] == ["song", "artist", "bpm", "key"]
    assert read_crate(crate_bytes([])) == []


def test_bytes_that_are_not_a_crate_are_named():
    with pytest.raises(ValueError, match="cut short"):
        read_crate(crate_bytes(ODD)[:-1] + b"\x00" * 3 + b"vrsn")
    with pytest.raises(ValueError, match="runs past the end"):
        read_crate(crate_bytes(ODD)[:-2])


def test_a_path_is_written_from_the_root_of_its_drive():
    assert serato_path("/media/dj/DJ USB/Music/a b.mp3", "/media/dj/DJ USB") == "Music/a b.mp3"
    assert serato_path("/Users/dj/Music/a.mp3", "/") == "Users/dj/Music/a.mp3"
    assert serato_path("/home/dj/a.mp3", "/media/dj/DJ USB") is None


def test_the_drive_root_is_the_nearest_mount_point_above(tmp_path):
    root = drive_root(tmp_path / "not yet" / "_Serato_")
    assert os.path.ismount(root) and tmp_path.is_relative_to(root)


@pytest.mark.parametrize(
    ("platform", "folder", "root"),
    [("darwin", "/Users/dj/Music/_Serato_", "/"),  # the startup disk, though /Users is its own mount
     ("darwin", "/Volumes/DJ USB/_Serato_", "/Volumes/DJ USB"),
     ("win32", r"E:\_Serato_", "E:\\"), ("win32", r"C:\Users\dj\Music\_Serato_", "C:\\")],
)  # fmt: skip
def test_serato_counts_drives_as_each_system_names_them(platform, folder, root):
    assert str(drive_root(folder, platform=platform)) == root


@pytest.mark.parametrize(
    ("names", "file"),
    [(("musictagger", "Genre", "Electronic › House"), "musictagger%%Genre%%Electronic › House.crate"),
     (("AC/DC: live?",), "AC-DC- live-.crate"), (("a%%b", " "), "a-b%%-.crate")],
)  # fmt: skip
def test_a_crate_file_is_named_by_its_nesting(names, file):
    assert crate_file_name(names) == file


def test_two_playlists_that_would_be_one_crate_are_refused(tmp_path):
    document = RekordboxDocument(
        (track(1),), (RekordboxPlaylist((), "a/b", (1,)), RekordboxPlaylist((), "a-b", ()))
    )
    with pytest.raises(ValueError, match=r"the same crate 'a-b\.crate'"):
        write_serato_crates(document, tmp_path / "_Serato_", [])
    unknown = RekordboxDocument((track(1),), (RekordboxPlaylist((), "p", (1, 2)),))
    with pytest.raises(RekordboxFormatError, match=r"not in the collection: \[2\]"):
        write_serato_crates(unknown, tmp_path / "_Serato_", [])


# -- the export --------------------------------------------------------------------------------------------


def _crates(subcrates) -> dict[str, list[str]]:
    return {file.name: Crate(str(file)).tracks() for file in sorted(subcrates.glob("*.crate"))}


def test_an_export_writes_the_facets_as_nested_crates(library, music, vocabulary, tmp_path):
    folder, _ids = music
    serato = tmp_path / "Music" / "_Serato_"
    subcrates = serato / "Subcrates"
    subcrates.mkdir(parents=True)
    # Left from an earlier export, and the DJ's own crate: the first goes, the second stays as it was.
    (subcrates / "musictagger%%Mood%%Gone.crate").write_bytes(crate_bytes(["x.mp3"]))
    (subcrates / "Friday set.crate").write_bytes(crate_bytes(["Music/a.mp3"]))

    done = export_collection(library, vocabulary, Settings(), serato, software="serato")
    assert (done.path, done.tracks, done.playlists, done.notes) == (subcrates, 5, 10, ())
    root = drive_root(serato)

    def paths(names):
        return [serato_path(folder / name, root) for name in names]

    expected = {
        "Friday set.crate": ["Music/a.mp3"],
        "musictagger.crate": [],
        "musictagger%%All tracks.crate": paths(present(folder)),
        "musictagger%%Genre.crate": [],
        "musictagger%%Mood.crate": [],
        **{f"musictagger%%Genre%%{name}.crate": paths(tracks) for name, tracks in GENRE_PLAYLISTS.items()},
        **{f"musictagger%%Mood%%{name}.crate": paths(tracks) for name, tracks in MOOD_PLAYLISTS.items()},
    }
    assert _crates(subcrates) == expected
    assert all(
        p and not p.startswith("/") and "\\" not in p for p in expected["musictagger%%All tracks.crate"]
    )


def test_tracks_on_another_drive_are_left_out_and_named(library, music, vocabulary, tmp_path):
    other = "/dev/shm"
    if (
        not os.path.ismount(other)
        or not os.access(other, os.W_OK)
        or drive_root(tmp_path) == drive_root(other)
    ):
        pytest.skip("needs a second writable mount (/dev/shm) beside the test files' drive")
    holder = os.path.join(other, f"musictagger-test-{tmp_path.name}")  # a USB drive's root, say
    try:
        done = export_collection(library, vocabulary, Settings(), holder, software="serato")
        assert done.path == Path(holder) / "_Serato_" / "Subcrates" and len(done.notes) == 5
        assert all(
            "not on the drive of" in note and "_Serato_ folder at its root" in note for note in done.notes
        )
        assert all(tracks == [] for tracks in _crates(done.path).values())
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def test_export_format_serato_on_the_command_line(library_url, music, tmp_path, capsys):
    from musictagger.cli import main

    folder, _ids = music
    serato = tmp_path / "_Serato_"
    assert (
        main(["export", str(serato), "--format", "serato", "--genre", "House", "--db", str(library_url)]) == 0
    )
    assert "2 tracks and 4 crates written to" in capsys.readouterr().err
    house = Crate(str(serato / "Subcrates" / "musictagger%%Genre%%Electronic › House.crate")).tracks()
    root = drive_root(serato)
    assert house == [serato_path(folder / name, root) for name in GENRE_PLAYLISTS["Electronic › House"]]
