"""Rekordbox XML export: a real library index of real files whose names hold spaces, accents, Japanese,
emoji, '#', '%', '&' and ';', written as DJ_PLAYLISTS, checked against the published structure and read
back field by field (library/rekordbox.py, rekordbox_reader.py, services/export.py, the CLI)."""

import os
import re
import shutil
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import track_row

from musictagger.library import Track, TrackLabel
from musictagger.library.rekordbox import (
    RekordboxDocument,
    RekordboxFormatError,
    RekordboxPlaylist,
    RekordboxTrack,
    kind_of,
    location_of,
    path_of_location,
    rekordbox_xml_bytes,
    write_rekordbox_xml,
)
from musictagger.library.rekordbox_reader import read_rekordbox_xml
from musictagger.library.review import set_review
from musictagger.library.scanner import utc_now
from musictagger.services.export import export_collection, export_collection_tracks
from musictagger.services.search import TrackQuery
from musictagger.settings import Settings

AUDIO = Path(__file__).parent / "data" / "audio"
SOURCES = {".mp3": "vibe_ace.mp3", ".flac": "vibe_ace.flac", ".m4a": "vibe_ace_aac.m4a",
           ".ogg": "vibe_ace.ogg", ".wav": "vibe_ace.wav"}  # fmt: skip

# name in the library folder: (Track columns, [(category, label, score, confident)])
TRACKS = {
    "House Music/Deep Night (Original Mix).mp3": (
        dict(title="Deep Night", artist="DJ Ünïcödé", album="Nights & Days", duration_s=412.4, energy=6.4,
             bpm=124.0, key="A minor", file_tags={"genre": ["Deep House"], "comment": ["8A - Energy 6"]}),
        [("genre", "Electronic", 0.9, True), ("style", "House", 0.6, True), ("mood", "Chill", 0.8, True),
         ("mood", "Dark", 0.2, False)],
    ),
    "Beyoncé/Beyoncé – Halo.flac": (
        dict(title="Halo", artist="Beyoncé", duration_s=261.0, bpm=79.456, key="F# major", file_tags={}),
        [("genre", "Pop", 0.7, True), ("genre", "R&B", 0.6, True), ("mood", "Romantic", 0.5, True),
         ("mood", "Happy", 0.45, True), ("mood", "Party", 0.4, True)],
    ),
    "日本/東京の夜.m4a": (
        dict(duration_s=30.5, file_tags={"comment": ['Tokyo <live> "rare" & \'raw\'\nsecond line']}),
        [],
    ),
    "🎧 party 🎉.ogg": (
        dict(title="Party & <Bullshit>", artist='Rave "Crew"', duration_s=199.6, energy=8.6, bpm=128.0,
             key="Eb minor", file_tags={}),
        [("genre", "Electronic", 0.5, True), ("style", "House", 0.4, True), ("style", "Techno", 0.35, False)],
    ),
    "#1 hit 100% & more; ok.wav": (
        dict(title="#1 Hit", artist="A;B", duration_s=20.0, file_tags={"genre": ["Techno"]}),
        [("mood", "Aggressive", 0.9, True)],
    ),
}  # fmt: skip
GONE = "Gone/old.mp3"  # in the index, marked missing: never exported

# What each present track's TRACK carries besides the file's own facts: the tags a write with the default
# settings would leave (fill keeps a file's genre; the comment block holds the moods, genres and energy).
EXPECTED = {
    "House Music/Deep Night (Original Mix).mp3": dict(
        name="Deep Night", artist="DJ Ünïcödé", album="Nights & Days", genre="Deep House", kind="MP3 File",
        total_time=412, average_bpm=124.0, tonality="Am",
        comments="8A - Energy 6 [mood: Chill | genre: Electronic | energy: 6]"),
    "Beyoncé/Beyoncé – Halo.flac": dict(
        name="Halo", artist="Beyoncé", album="", genre="Pop; R&B", kind="FLAC File", total_time=261,
        average_bpm=79.46, tonality="F#", comments="[mood: Romantic; Happy | genre: Pop; R&B]"),
    "日本/東京の夜.m4a": dict(
        name="東京の夜", artist="", album="", genre="", kind="M4A File", total_time=30,
        average_bpm=None, tonality=None, comments='Tokyo <live> "rare" & \'raw\'\nsecond line'),
    "🎧 party 🎉.ogg": dict(
        name="Party & <Bullshit>", artist='Rave "Crew"', album="", genre="Electronic", kind="OGG File",
        total_time=200, average_bpm=128.0, tonality="Ebm", comments="[genre: Electronic | energy: 9]"),
    "#1 hit 100% & more; ok.wav": dict(
        name="#1 Hit", artist="A;B", album="", genre="Techno", kind="WAV File", total_time=20,
        average_bpm=None, tonality=None, comments="[mood: Aggressive]"),
}  # fmt: skip
# The facets' playlists: every confident label (a style under Genre too), not only what a write takes.
GENRE_PLAYLISTS = {
    "Electronic": ["House Music/Deep Night (Original Mix).mp3", "🎧 party 🎉.ogg"],
    "Electronic › House": ["House Music/Deep Night (Original Mix).mp3", "🎧 party 🎉.ogg"],  # a style
    "Pop": ["Beyoncé/Beyoncé – Halo.flac"],
    "R&B": ["Beyoncé/Beyoncé – Halo.flac"],
}
MOOD_PLAYLISTS = {
    "Aggressive": ["#1 hit 100% & more; ok.wav"],
    "Chill": ["House Music/Deep Night (Original Mix).mp3"],
    "Happy": ["Beyoncé/Beyoncé – Halo.flac"],
    "Party": ["Beyoncé/Beyoncé – Halo.flac"],
    "Romantic": ["Beyoncé/Beyoncé – Halo.flac"],
}


@pytest.fixture
def music(library, tmp_path):
    return index_crate(library, tmp_path)


def index_crate(library, tmp_path):
    """Real files under odd names, indexed as the scanner would, labelled by hand: (their folder,
    {name: Track id}). The Traktor tests export the same crate."""
    folder = tmp_path / "Music"
    ids = {}
    with library.session() as session:
        for name, (columns, labels) in [*TRACKS.items(), (GONE, (dict(file_tags={}), []))]:
            file = folder / name
            file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(AUDIO / SOURCES[file.suffix], file)
            track = track_row(file, **columns)
            for rank, (category, label, score, confident) in enumerate(labels, start=1):
                track.labels.append(
                    TrackLabel(category=category, label=label, score=score, rank=rank, confident=confident)
                )
            if name == GONE:
                track.missing_since = utc_now()
                track.labels.append(
                    TrackLabel(category="mood", label="Chill", score=0.9, rank=1, confident=True)
                )
            session.add(track)
            session.flush()
            ids[name] = track.id
        session.commit()
    return folder, ids


def present(folder: Path) -> list[str]:
    """The exported names in the export's order (find's: by path)."""
    return sorted(TRACKS, key=lambda name: str(folder / name))


# -- Location ---------------------------------------------------------------------------------------------

ODD_PATHS = [
    "/Music/Deep Night (Original Mix).mp3",
    "/Music/Beyoncé/Mötley Crüe – Kickstart.flac",
    "/Music/日本/東京の夜.m4a",
    "/Music/🎧 party 🎉.ogg",
    "/Music/#1 hit 100% & more; ok.wav",
    "/Music/a+b=c?d@e$f!g'h*i,j[k]l.mp3",
    "/Music/back\\slash.mp3",
]


@pytest.mark.parametrize("path", ODD_PATHS)
def test_a_location_is_a_percent_encoded_file_uri_that_decodes_to_the_same_path(path):
    location = location_of(path, windows=False)
    assert location.startswith("file://localhost/Music/")
    # Only unreserved characters, '/', ':', '(', ')' and lower-case %xx escapes, as Rekordbox writes.
    assert re.fullmatch(r"file://localhost(/|[A-Za-z0-9\-._~:()]|%[0-9a-f]{2})+", location), location
    assert path_of_location(location, windows=False) == path
    assert unquote(location.removeprefix("file://localhost"), errors="strict") == path  # any URI decoder


def test_locations_match_what_rekordbox_writes_and_read_what_it_wrote():
    # From a Rekordbox collection export (macOS): spaces %20, UTF-8 bytes as lower-case %xx.
    written = (
        "file://localhost/Volumes/ZVP-MUSIC/DJing/"
        "haircuts%20for%20men%20-%20%e8%8a%b1%e3%81%a8%e9%b3%a5%e3%81%a8%e5%b1%b1.aiff"
    )
    path = "/Volumes/ZVP-MUSIC/DJing/haircuts for men - 花と鳥と山.aiff"
    assert path_of_location(written, windows=False) == path
    assert location_of(path, windows=False) == written
    # Windows: drive letter, backslashes; '&' as %26 as Rekordbox writes it there.
    windows = r"D:\DJ Music\Bass\Architek & Visceral - Broken.mp3"
    location = "file://localhost/D:/DJ%20Music/Bass/Architek%20%26%20Visceral%20-%20Broken.mp3"
    assert location_of(windows, windows=True) == location
    assert path_of_location(location, windows=True) == windows
    # Older Rekordbox versions leave '#' unescaped; upper-case escapes and file:/// read the same.
    assert (
        path_of_location("file://localhost/Music/Name%20with%20#.mp3", windows=False)
        == "/Music/Name with #.mp3"
    )
    assert path_of_location("file:///Music/caf%C3%A9.mp3", windows=False) == "/Music/café.mp3"
    # A POSIX name that is not UTF-8 keeps its bytes.
    assert location_of(b"/music/caf\xe9.mp3", windows=False) == "file://localhost/music/caf%e9.mp3"
    assert (
        os.fsencode(path_of_location("file://localhost/music/caf%e9.mp3", windows=False))
        == b"/music/caf\xe9.mp3"
    )
    with pytest.raises(ValueError, match="absolute"):
        location_of("Music/relative.mp3", windows=False)
    with pytest.raises(ValueError, match="not a file://localhost/"):
        path_of_location("soundcloud:tracks:12345")


def test_kind_is_named_by_extension_as_rekordbox_names_it():
    assert [kind_of(p) for p in ("a.mp3", "b.FLAC", "c.aif", "d.aiff", "e.m4a", "f")] == [
        "MP3 File", "FLAC File", "AIFF File", "AIFF File", "M4A File", ""]  # fmt: skip


# -- the export, read back ---------------------------------------------------------------------------------


def test_an_export_round_trips_every_field(library, music, vocabulary, tmp_path):
    folder, ids = music
    out = tmp_path / "export" / "rekordbox.xml"
    done = export_collection(library, vocabulary, Settings(), out)
    assert (done.path, done.tracks, done.playlists, done.notes) == (out, 5, 10, ())
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 and os.listdir(out.parent) == ["rekordbox.xml"]

    document = read_rekordbox_xml(out)
    assert (document.product.name, document.product.company) == ("musictagger", "musictagger")
    order = present(folder)
    assert [t.track_id for t in document.tracks] == [ids[name] for name in order]
    for name, track in zip(order, document.tracks, strict=True):
        file = folder / name
        assert track.path == str(file)
        assert track.size == file.stat().st_size
        fields = {key: getattr(track, key) for key in EXPECTED[name]}
        assert fields == EXPECTED[name], name

    def names(track_ids):
        by_id = {i: name for name, i in ids.items()}
        return [by_id[i] for i in track_ids]

    playlists = {(p.folders, p.name): names(p.track_ids) for p in document.playlists}
    assert list(playlists) == [
        (("musictagger",), "All tracks"),
        *((("musictagger", "Genre"), name) for name in GENRE_PLAYLISTS),
        *((("musictagger", "Mood"), name) for name in MOOD_PLAYLISTS),
    ]
    assert playlists[("musictagger",), "All tracks"] == order
    for name, members in GENRE_PLAYLISTS.items():
        assert playlists[("musictagger", "Genre"), name] == members
    for name, members in MOOD_PLAYLISTS.items():
        assert playlists[("musictagger", "Mood"), name] == members


def test_the_file_has_the_published_structure(library, music, vocabulary, tmp_path):
    out = tmp_path / "rekordbox.xml"
    export_collection(library, vocabulary, Settings(), out)
    data = out.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<DJ_PLAYLISTS Version="1.0.0">')
    root = ET.fromstring(data)
    assert [child.tag for child in root] == ["PRODUCT", "COLLECTION", "PLAYLISTS"]
    assert root.find("PRODUCT").attrib["Name"] == "musictagger"

    collection = root.find("COLLECTION")
    tracks = collection.findall("TRACK")
    assert int(collection.get("Entries")) == len(tracks) == len(collection) == 5
    track_ids = [t.get("TrackID") for t in tracks]
    assert len(set(track_ids)) == len(track_ids) and all(i.isdigit() for i in track_ids)
    for track in tracks:
        assert track.get("Location").startswith("file://localhost/")
        assert int(track.get("Size")) > 0 and int(track.get("TotalTime")) > 0
    # Tempo and key where the analysis found them (two decimals, the musical short form), else left out.
    assert [(t.get("AverageBpm"), t.get("Tonality")) for t in tracks] == [
        (None, None), ("79.46", "F#"), ("124.00", "Am"), (None, None), ("128.00", "Ebm")]  # fmt: skip
    # XML-special characters are escaped by the writer, and parse back as themselves.
    assert b"Party &amp; &lt;Bullshit&gt;" in data and b"Rave &quot;Crew&quot;" in data
    assert b"&#10;second line" in data  # a line break inside an attribute

    (top,) = root.find("PLAYLISTS")
    assert (top.tag, top.get("Type"), top.get("Name")) == ("NODE", "0", "ROOT")
    nodes = list(top.iter("NODE"))
    for node in nodes:
        children = node.findall("NODE")
        names = [c.get("Name") for c in children]
        assert len(names) == len(set(names))  # no two nodes of one name in one folder
        if node.get("Type") == "0":
            assert int(node.get("Count")) == len(children) == len(node)
            assert "Entries" not in node.attrib
        else:
            assert node.get("Type") == "1" and node.get("KeyType") == "0" and not children
            keys = [t.get("Key") for t in node.findall("TRACK")]
            assert int(node.get("Entries")) == len(keys) == len(node) > 0
            assert set(keys) <= set(track_ids)
    assert sum(node.get("Type") == "1" for node in nodes) == 10


def test_reviews_and_the_write_settings_decide_genre_and_comment(library, music, vocabulary, tmp_path):
    _, ids = music
    halo, night = ids["Beyoncé/Beyoncé – Halo.flac"], ids["House Music/Deep Night (Original Mix).mp3"]
    out = tmp_path / "r.xml"
    merge = Settings().replace(write={"genre_mode": "merge", "max_moods": 1})
    export_collection(library, vocabulary, merge, out)
    by_id = {t.track_id: t for t in read_rekordbox_xml(out).tracks}
    assert by_id[night].genre == "Deep House; Electronic"  # the file's genre, the suggestion added
    assert by_id[halo].comments == "[mood: Romantic | genre: Pop; R&B]"  # one mood at most

    with library.session() as session:
        set_review(session, [halo], "mood", None, "rejected")
        set_review(session, [night], "genre", ["Techno"], "edited")
        session.commit()
    export_collection(library, vocabulary, Settings(), out)
    by_id = {t.track_id: t for t in read_rekordbox_xml(out).tracks}
    assert by_id[halo].comments == "[genre: Pop; R&B]"  # the rejected moods are not written
    assert by_id[night].genre == "Techno"  # an edited field is replaced, whatever the file had
    assert by_id[night].comments == "8A - Energy 6 [mood: Chill | genre: Techno | energy: 6]"


def test_the_filters_are_the_list_commands(library, music, vocabulary, tmp_path):
    _, ids = music
    out = tmp_path / "r.xml"
    done = export_collection(
        library, vocabulary, Settings(), out, TrackQuery(genres=("electronic",), moods=("Chill",))
    )
    document = read_rekordbox_xml(out)
    assert done.tracks == 1 and [t.track_id for t in document.tracks] == [
        ids["House Music/Deep Night (Original Mix).mp3"]
    ]
    # The playlists hold only what was exported.
    assert {p.name for p in document.playlists} == {"All tracks", "Electronic", "Electronic › House", "Chill"}
    export_collection(
        library, vocabulary, Settings(), out, TrackQuery(text="TOKYO")
    )  # comments are not searched
    assert read_rekordbox_xml(out).tracks == ()
    export_collection(library, vocabulary, Settings(), out, TrackQuery(text="beyonce"))
    assert [t.name for t in read_rekordbox_xml(out).tracks] == ["Halo"]


def test_a_selection_is_exported_in_its_order_and_what_cannot_be_is_named(
    library, music, vocabulary, tmp_path
):
    _, ids = music
    wanted = [ids["🎧 party 🎉.ogg"], 999_999, ids[GONE], ids["日本/東京の夜.m4a"], ids["🎧 party 🎉.ogg"]]
    out = tmp_path / "selection.xml"
    done = export_collection_tracks(library, vocabulary, Settings(), out, wanted)
    assert done.tracks == 2 and len(done.notes) == 2
    assert "999999" in done.notes[0] and done.notes[1].endswith("file missing since the last scan")
    document = read_rekordbox_xml(out)
    assert [t.track_id for t in document.tracks] == [ids["🎧 party 🎉.ogg"], ids["日本/東京の夜.m4a"]]
    assert [(p.name, len(p.track_ids)) for p in document.playlists] == [
        ("All tracks", 2), ("Electronic", 1), ("Electronic › House", 1)]  # fmt: skip

    done = export_collection_tracks(library, vocabulary, Settings(), out, [])
    assert (done.tracks, done.playlists) == (0, 1)
    assert ET.parse(out).getroot().find("COLLECTION").get("Entries") == "0"


# -- the writer and the reader on their own -----------------------------------------------------------------


def track(track_id: int, name: str = "t", **fields) -> RekordboxTrack:
    return RekordboxTrack(track_id, location_of(f"/m/{name}.mp3", windows=False), name=name, **fields)


def test_every_field_survives_a_round_trip_and_text_xml_cannot_hold_is_replaced(tmp_path):
    full = track(
        3, "Ünïcödé & <x>", artist="A \"B\" 'C'", album="日本", genre="House; R&B", kind="MP3 File",
        size=123456789012, total_time=412, average_bpm=123.45, tonality="F#m",
        comments="line\r\nline\ttab [mood: Chill | genre: House]",
    )  # fmt: skip
    document = RekordboxDocument(
        (full, track(1), track(2, "bell\x07 ring\udce9")),
        (
            RekordboxPlaylist(("a", "b"), "deep", (3, 1)),
            RekordboxPlaylist(("a",), "flat", (2,)),
            RekordboxPlaylist((), "top", ()),
        ),
    )
    out = write_rekordbox_xml(document, tmp_path / "x.xml")
    back = read_rekordbox_xml(out)
    assert back.tracks[:2] == document.tracks[:2] and back.playlists == document.playlists
    assert back.tracks[2].name == "bell\ufffd ring\ufffd"  # control character and lone surrogate
    assert back.tracks[0].average_bpm == 123.45 and b'AverageBpm="123.45"' in out.read_bytes()


def test_the_writer_refuses_what_rekordbox_would_refuse(tmp_path):
    with pytest.raises(RekordboxFormatError, match="TrackID 1 appears twice"):
        rekordbox_xml_bytes(RekordboxDocument((track(1), track(1))))
    with pytest.raises(RekordboxFormatError, match=r"not in the collection: \[2\]"):
        rekordbox_xml_bytes(RekordboxDocument((track(1),), (RekordboxPlaylist((), "p", (1, 2)),)))
    for clash in (
        [RekordboxPlaylist(("a",), "p", ()), RekordboxPlaylist(("a",), "p", ())],
        [RekordboxPlaylist((), "a", ()), RekordboxPlaylist(("a",), "p", ())],
        [RekordboxPlaylist(("a",), "p", ()), RekordboxPlaylist((), "a", ())],
    ):
        with pytest.raises(RekordboxFormatError, match=r"two playlists or folders named '[ap]'"):
            rekordbox_xml_bytes(RekordboxDocument((), tuple(clash)))


def test_a_new_export_replaces_the_old_atomically(tmp_path, monkeypatch):
    out = tmp_path / "rekordbox.xml"
    out.write_text("old")
    out.chmod(0o600)
    write_rekordbox_xml(RekordboxDocument((track(1),)), out)
    assert len(read_rekordbox_xml(out).tracks) == 1 and stat.S_IMODE(out.stat().st_mode) == 0o600

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        write_rekordbox_xml(RekordboxDocument(()), out)
    assert len(read_rekordbox_xml(out).tracks) == 1 and os.listdir(tmp_path) == ["rekordbox.xml"]


REKORDBOX_WRITTEN = """<?xml version="1.0" encoding="UTF-8"?>
<DJ_PLAYLISTS Version="1.0.0">
  <PRODUCT Name="rekordbox" Version="6.8.5" Company="AlphaTheta"/>
  <COLLECTION Entries="2">
    <TRACK TrackID="84760521" Name="NOISE" Artist="" Composer="" Album="" Grouping="" Genre="" Kind="WAV File"
           Size="1382226" TotalTime="5" DiscNumber="0" TrackNumber="0" Year="0" AverageBpm="0.00"
           DateAdded="2017-09-07" BitRate="2116" SampleRate="44100" Comments="" PlayCount="0" Rating="0"
           Location="file://localhost/C:/Music/PRESET%20ONESHOT/NOISE.wav"
           Remixer="" Tonality="" Label="" Mix=""/>
    <TRACK TrackID="12" Name="Demo" Kind="MP3 File" AverageBpm="128.00" Tonality="8A"
           Location="file://localhost/C:/Music/Demo%20Track%201.mp3">
      <TEMPO Inizio="0.025" Bpm="128.00" Metro="4/4" Battito="1"/>
    </TRACK>
  </COLLECTION>
  <PLAYLISTS>
    <NODE Type="0" Name="ROOT" Count="2">
      <NODE Name="By location" Type="1" KeyType="1" Entries="2">
        <TRACK Key="file://localhost/C:/Music/Demo%20Track%201.mp3"/>
        <TRACK Key="file://localhost/C:/Music/elsewhere.mp3"/>
      </NODE>
      <NODE Name="Folder" Type="0" Count="1">
        <NODE Name="By id" Type="1" KeyType="0" Entries="3">
          <TRACK Key="12"/><TRACK Key="84760521"/><TRACK Key="5"/>
        </NODE>
      </NODE>
    </NODE>
  </PLAYLISTS>
</DJ_PLAYLISTS>
"""


def test_the_reader_takes_a_collection_rekordbox_wrote(tmp_path):
    file = tmp_path / "rekordbox.xml"
    file.write_text(REKORDBOX_WRITTEN, encoding="utf-8")
    document = read_rekordbox_xml(file)
    noise, demo = document.tracks
    assert (noise.track_id, noise.kind, noise.size, noise.total_time) == (84760521, "WAV File", 1382226, 5)
    assert noise.average_bpm is None and noise.tonality is None  # "0.00" and "": not analysed
    assert (demo.average_bpm, demo.tonality) == (128.0, "8A")
    assert path_of_location(demo.location, windows=True) == r"C:\Music\Demo Track 1.mp3"
    assert document.playlists == (
        RekordboxPlaylist((), "By location", (12,)),  # a key naming no track is dropped
        RekordboxPlaylist(("Folder",), "By id", (12, 84760521)),
    )
    assert (document.product.name, document.product.version) == ("rekordbox", "6.8.5")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<playlist/>", "root element is playlist"),
        ("<DJ_PLAYLISTS><COLLECTION", "not well-formed"),
        ('<DJ_PLAYLISTS><COLLECTION><TRACK TrackID="x"/></COLLECTION></DJ_PLAYLISTS>', "TrackID='x'"),
        (
            '<DJ_PLAYLISTS><COLLECTION><TRACK TrackID="1" Size="big"/></COLLECTION></DJ_PLAYLISTS>',
            "Size='big'",
        ),
        ('<DJ_PLAYLISTS><COLLECTION><TRACK Name="n"/></COLLECTION></DJ_PLAYLISTS>', "without a TrackID"),
    ],
)
def test_the_reader_names_what_is_wrong(tmp_path, text, message):
    file = tmp_path / "bad.xml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(RekordboxFormatError, match=message):
        read_rekordbox_xml(file)


def test_the_reader_refuses_entity_bombs_and_external_entities(tmp_path):
    # Ten levels of ten: 10**10 characters if expanded; expat stops it at its amplification limit.
    entities = '<!ENTITY a0 "xxxxxxxxxx">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 11)
    )
    external = '<!ENTITY x SYSTEM "file:///etc/hostname">'
    for dtd, value in ((entities, "&a10;"), (external, "&x;")):
        file = tmp_path / "hostile.xml"
        file.write_text(
            f'<?xml version="1.0"?><!DOCTYPE DJ_PLAYLISTS [{dtd}]>'
            f'<DJ_PLAYLISTS><PRODUCT Name="{value}"/></DJ_PLAYLISTS>',
            encoding="utf-8",
        )
        with pytest.raises(RekordboxFormatError, match="not well-formed XML"):
            read_rekordbox_xml(file)


# -- the command line -------------------------------------------------------------------------------------


def test_export_format_rekordbox_on_the_command_line(library, library_url, music, tmp_path, capsys):
    from musictagger.cli import main

    folder, ids = music
    db = library_url
    out = tmp_path / "set.xml"
    assert main(["export", str(out), "--format", "rekordbox", "--genre", "House", "--db", str(db)]) == 0
    assert "2 tracks and 4 playlists written to" in capsys.readouterr().err
    assert [t.path for t in read_rekordbox_xml(out).tracks] == [
        str(folder / name) for name in present(folder) if name in GENRE_PLAYLISTS["Electronic › House"]
    ]
    playlist = tmp_path / "set.m3u8"  # M3U8 stays the default
    assert main(["export", str(playlist), "--genre", "House", "--db", str(db)]) == 0
    assert playlist.read_text(encoding="utf-8").startswith("#EXTM3U\n")
    with library.session() as session:
        assert session.get(Track, ids[GONE]).missing_since is not None
