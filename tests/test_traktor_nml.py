"""Traktor NML export: where Traktor finds a file on each system, the key numbers it sorts by, and the
collection and playlists of a real library index (the Rekordbox tests' files under odd names) written as
NML, read back with ElementTree and checked element by element (library/traktor_nml.py,
services/export.py, the CLI)."""

import os
import xml.etree.ElementTree as ET

import pytest
from test_rekordbox import EXPECTED, GENRE_PLAYLISTS, MOOD_PLAYLISTS, index_crate, present, track

from musictagger.keys import parse_key
from musictagger.library.rekordbox import RekordboxDocument, RekordboxFormatError, RekordboxPlaylist
from musictagger.library.traktor_nml import (
    NmlLocation,
    musical_key_value,
    nml_location,
    startup_volume,
    traktor_nml_bytes,
)
from musictagger.services.export import export_collection, export_collection_tracks
from musictagger.settings import Settings


@pytest.fixture
def music(library, tmp_path):
    return index_crate(library, tmp_path)


# -- where a file lies, as Traktor names it ------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "path", "location"),
    [
        ("win32", r"C:\Music\House\Deep Night (Original Mix).mp3",
         NmlLocation("C:", "/:Music/:House/:", "Deep Night (Original Mix).mp3")),
        ("win32", r"E:\a.flac", NmlLocation("E:", "/:", "a.flac")),
        ("darwin", "/Volumes/DJ USB/Crates/Ünï & co/a b.mp3",
         NmlLocation("DJ USB", "/:Crates/:Ünï & co/:", "a b.mp3")),
        ("linux", "/media/dj/DJ USB/Crates/a.mp3", NmlLocation("DJ USB", "/:Crates/:", "a.mp3")),
        ("linux", "/run/media/dj/STICK/a.mp3", NmlLocation("STICK", "/:", "a.mp3")),
        ("linux", "/mnt/music/House/a.mp3", NmlLocation("music", "/:House/:", "a.mp3")),
        ("linux", "/home/dj/Music/日本/東京の夜.m4a",
         NmlLocation("", "/:home/:dj/:Music/:日本/:", "東京の夜.m4a")),
    ],
)  # fmt: skip
def test_a_file_is_named_by_its_volume_its_folders_and_its_name(platform, path, location):
    assert nml_location(path, platform=platform) == location
    assert location.primary_key == location.volume + location.directory + location.file


def test_on_macos_the_startup_disk_is_named_as_volumes_names_it(tmp_path):
    volumes = tmp_path / "Volumes"
    volumes.mkdir()
    assert startup_volume(volumes) == "Macintosh HD"  # nothing links to /: the name macOS gives it
    (volumes / "Backup").mkdir()  # another disk: a folder, not the startup disk
    os.symlink("/", volumes / "Studio SSD")
    assert startup_volume(volumes) == "Studio SSD"
    startup = startup_volume(volumes)
    assert nml_location("/Users/dj/Music/a.mp3", platform="darwin", startup_disk=startup) == NmlLocation(
        "Studio SSD", "/:Users/:dj/:Music/:", "a.mp3"
    )
    document = RekordboxDocument((track(1, "a"),), (RekordboxPlaylist((), "p", (1,)),))
    data = traktor_nml_bytes(document, platform="darwin", startup_disk=startup)
    assert b'KEY="Studio SSD/:m/:a.mp3"' in data and b'VOLUME="Studio SSD"' in data
    assert startup_volume(tmp_path / "absent") == "Macintosh HD"


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_a_relative_path_has_no_location(platform):
    with pytest.raises(ValueError, match="absolute path"):
        nml_location("Music/a.mp3", platform=platform)


@pytest.mark.parametrize(
    ("key", "value", "open_key"),
    # 10m / 12: what Traktor itself wrote for a C minor track (Open Key in INFO KEY, the number beside it)
    [("C minor", 12, "10m"), ("C major", 0, "1d"), ("A minor", 21, "1m"), ("F# major", 6, "7d"),
     ("Eb minor", 15, "7m"), ("B major", 11, "6d"), ("B minor", 23, "3m")],
)  # fmt: skip
def test_musical_key_numbers_majors_then_minors_from_c(key, value, open_key):
    parsed = parse_key(key)
    assert (musical_key_value(parsed), parsed.open_key) == (value, open_key)


# -- the export, read back ---------------------------------------------------------------------------------


def _path_of(entry: ET.Element) -> str:
    """The file an ENTRY names, on this (Linux) machine: an empty volume keeps the whole path in DIR."""
    location = entry.find("LOCATION")
    assert location.get("VOLUME") == location.get("VOLUMEID") == ""
    return location.get("DIR").replace("/:", "/") + location.get("FILE")


def _key_of(entry: ET.Element) -> str:
    location = entry.find("LOCATION")
    return location.get("VOLUME") + location.get("DIR") + location.get("FILE")


def _playlists(node: ET.Element, folders: tuple[str, ...] = ()) -> dict:
    """{(folders, name): [PRIMARYKEY KEY, …]} under a FOLDER node, checking every COUNT and ENTRIES."""
    subnodes = node.find("SUBNODES")
    assert int(subnodes.get("COUNT")) == len(subnodes)
    found = {}
    for child in subnodes:
        assert child.tag == "NODE"
        if child.get("TYPE") == "FOLDER":
            found.update(_playlists(child, (*folders, child.get("NAME"))))
            continue
        assert child.get("TYPE") == "PLAYLIST"
        (playlist,) = child
        assert (playlist.tag, playlist.get("TYPE")) == ("PLAYLIST", "LIST")
        assert int(playlist.get("ENTRIES")) == len(playlist) and len(playlist.get("UUID")) == 32
        keys = []
        for entry in playlist:
            (primary,) = entry
            assert (entry.tag, primary.tag, primary.get("TYPE")) == ("ENTRY", "PRIMARYKEY", "TRACK")
            keys.append(primary.get("KEY"))
        found[(folders, child.get("NAME"))] = keys
    return found


def test_an_export_carries_every_field_and_the_facets_as_playlists(library, music, vocabulary, tmp_path):
    folder, _ids = music
    out = tmp_path / "export" / "collection.nml"
    done = export_collection(library, vocabulary, Settings(), out, software="traktor")
    assert (done.path, done.tracks, done.playlists, done.notes) == (out, 5, 10, ())
    data = out.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n<NML VERSION="19">')
    root = ET.fromstring(data)
    assert [child.tag for child in root] == ["HEAD", "MUSICFOLDERS", "COLLECTION", "SETS", "PLAYLISTS"]
    assert root.find("HEAD").attrib == {"COMPANY": "www.native-instruments.com", "PROGRAM": "Traktor"}

    collection = root.find("COLLECTION")
    order = present(folder)
    assert int(collection.get("ENTRIES")) == len(collection) == len(order)
    key_of_name = {}
    for name, entry in zip(order, collection, strict=True):
        file, expected = folder / name, EXPECTED[name]
        assert _path_of(entry) == str(file)
        key_of_name[name] = _key_of(entry)
        assert entry.get("TITLE") == expected["name"]
        assert entry.get("ARTIST") == (expected["artist"] or None)
        album = entry.find("ALBUM")
        assert (album.get("TITLE") if album is not None else "") == expected["album"]
        info = entry.find("INFO").attrib
        assert info.get("GENRE", "") == expected["genre"] and info.get("COMMENT", "") == expected["comments"]
        assert info["PLAYTIME"] == str(expected["total_time"])
        assert info["FILESIZE"] == str(round(file.stat().st_size / 1024))
        tempo, key = entry.find("TEMPO"), entry.find("MUSICAL_KEY")
        if expected["average_bpm"] is None:
            assert tempo is None
        else:
            assert float(tempo.get("BPM")) == pytest.approx(expected["average_bpm"])
        if expected["tonality"] is None:
            assert key is None and "KEY" not in info
        else:
            parsed = parse_key(expected["tonality"])
            assert (key.get("VALUE"), info["KEY"]) == (str(musical_key_value(parsed)), parsed.open_key)

    (top,) = root.find("PLAYLISTS")
    assert (top.get("TYPE"), top.get("NAME")) == ("FOLDER", "$ROOT")
    playlists = _playlists(top)
    assert list(playlists) == [
        (("musictagger",), "All tracks"),
        *((("musictagger", "Genre"), name) for name in GENRE_PLAYLISTS),
        *((("musictagger", "Mood"), name) for name in MOOD_PLAYLISTS),
    ]
    assert playlists[("musictagger",), "All tracks"] == [key_of_name[name] for name in order]
    for folder_name, members in (("Genre", GENRE_PLAYLISTS), ("Mood", MOOD_PLAYLISTS)):
        for name, tracks in members.items():
            assert playlists[("musictagger", folder_name), name] == [key_of_name[t] for t in tracks]

    # A new export of the same crate: the same playlists under the same UUIDs, so Traktor sees them again.
    again = export_collection(library, vocabulary, Settings(), tmp_path / "again.nml", software="traktor")
    assert again.path.read_bytes() == data


def test_a_selection_is_exported_in_its_order_and_what_cannot_be_is_named(
    library, music, vocabulary, tmp_path
):
    folder, ids = music
    chosen = ["🎧 party 🎉.ogg", "Beyoncé/Beyoncé – Halo.flac"]
    wanted = [ids[n] for n in chosen] + [999_999]
    done = export_collection_tracks(
        library, vocabulary, Settings(), tmp_path / "set.nml", wanted, software="traktor"
    )
    assert (done.tracks, done.notes) == (2, ("track 999999: not in the library index",))
    collection = ET.parse(done.path).getroot().find("COLLECTION")
    assert [_path_of(entry) for entry in collection] == [str(folder / n) for n in chosen]


def test_the_writer_refuses_what_the_rekordbox_writer_refuses():
    with pytest.raises(RekordboxFormatError, match="track 1 appears twice"):
        traktor_nml_bytes(RekordboxDocument((track(1), track(1))))
    with pytest.raises(RekordboxFormatError, match=r"not in the collection: \[2\]"):
        traktor_nml_bytes(RekordboxDocument((track(1),), (RekordboxPlaylist((), "p", (1, 2)),)))
    with pytest.raises(RekordboxFormatError, match=r"two playlists or folders named 'a' in \$ROOT"):
        traktor_nml_bytes(
            RekordboxDocument((), (RekordboxPlaylist((), "a", ()), RekordboxPlaylist(("a",), "p", ())))
        )


def test_text_xml_cannot_hold_is_replaced_and_the_rest_survives():
    odd = track(1, 'bell\x07 <&> "q"', artist="日本", genre="House; R&B", comments="a\r\nb\tc")
    data = traktor_nml_bytes(RekordboxDocument((odd,), (RekordboxPlaylist(("x & y",), "<p>", (1,)),)))
    root = ET.fromstring(data)
    entry = root.find("COLLECTION/ENTRY")
    assert (entry.get("TITLE"), entry.get("ARTIST")) == ('bell\ufffd <&> "q"', "日本")
    assert entry.find("INFO").attrib == {"GENRE": "House; R&B", "COMMENT": "a\r\nb\tc"}
    # The file name too: XML cannot carry the bell, so the KEY (and FILE) hold U+FFFD in its place.
    assert _playlists(root.find("PLAYLISTS/NODE")) == {(("x & y",), "<p>"): ['/:m/:bell\ufffd <&> "q".mp3']}


# -- the command line -------------------------------------------------------------------------------------


def test_export_format_traktor_on_the_command_line(library_url, music, tmp_path, capsys):
    from musictagger.cli import main

    folder, _ids = music
    out = tmp_path / "set.nml"
    assert (
        main(["export", str(out), "--format", "traktor", "--genre", "House", "--db", str(library_url)]) == 0
    )
    assert "2 tracks and 4 playlists written to" in capsys.readouterr().err
    collection = ET.parse(out).getroot().find("COLLECTION")
    assert [_path_of(entry) for entry in collection] == [
        str(folder / name) for name in present(folder) if name in GENRE_PLAYLISTS["Electronic › House"]
    ]
