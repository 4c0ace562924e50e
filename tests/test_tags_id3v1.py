"""MP3s whose only tag is an ID3v1 tag: written with a new ID3v2 tag that keeps every v1 field, the v1 tag
kept, updated or removed as the ``[write] id3v1`` setting says, and undone byte for byte.

The fixture is made here, not shipped: tests/data/formats/untagged.mp3 (no ID3v2 tag, no v1 tag) with a
hand-built 128-byte ID3v1.1 tag appended. Oracles are independent of the code under test: the v1 tag is
built and read with struct, the v2 tag with mutagen (without its v1 merging), audio by decoding.
"""

from __future__ import annotations

import logging
import shutil
import struct
from pathlib import Path

import mutagen.id3
import pytest
from helpers import audio_digest, track_row
from mutagen.id3 import APIC
from mutagen.mp3 import MP3

from musictagger.library import Track, TrackLabel, WriteEntry
from musictagger.library.policy import WritePolicy
from musictagger.library.writing import apply_writes, plan_writes, undo_batch
from musictagger.settings import Settings, SettingsValueError, WriteSettings, load_settings, save_settings
from musictagger.tags import TagWriteError, find_stale_temp_files, read_tags, write_tags
from musictagger.tags.safe_write import RESTORE_KEY
from musictagger.tags.styles import ID3TextStyle

FORMATS = Path(__file__).parent / "data" / "formats"
V1_LAYOUT = "3s30s30s30s4s28sBBB"  # ID3v1.1: "TAG", title, artist, album, year, comment, 0, track, genre
GENRES = {"Blues": 0, "Jazz": 8, "Electronic": 52}
V1_FIELDS = {
    "TIT2": ["Vibe Ace"],
    "TPE1": ["Kevin MacLeod"],
    "TALB": ["Jazz Sampler"],
    "COMM:ID3v1 Comment:eng": ["ripped in 1999"],
    "TRCK": ["3"],
}


def id3v1_tag(genre: int = GENRES["Jazz"]) -> bytes:
    tag = struct.pack(
        V1_LAYOUT,
        b"TAG",
        b"Vibe Ace",
        b"Kevin MacLeod",
        b"Jazz Sampler",
        b"2010",
        b"ripped in 1999",
        0,
        3,
        genre,
    )
    assert len(tag) == 128
    return tag


def parse_v1(tag: bytes) -> dict[str, object]:
    _, title, artist, album, year, comment, zero, track, genre = struct.unpack(V1_LAYOUT, tag)
    fields = {"title": title, "artist": artist, "album": album, "year": year, "comment": comment}
    text = {name: value.rstrip(b"\0").decode("latin-1") for name, value in fields.items()}
    return {**text, "track": track if zero == 0 else None, "genre": genre}


@pytest.fixture
def v1_mp3(tmp_path: Path) -> Path:
    """An MP3 whose only tag is an ID3v1.1 tag."""
    folder = tmp_path / "music"
    folder.mkdir()
    path = folder / "old_rip.mp3"
    shutil.copyfile(FORMATS / "untagged.mp3", path)
    mutagen.id3.delete(str(path))  # no ID3v2 tag (the fixture has none; made sure)
    with open(path, "ab") as f:
        f.write(id3v1_tag())
    assert MP3(str(path)).tags.version == (1, 1)  # how mutagen reports a file with only an ID3v1 tag
    return path


def id3v2_alone(path: Path) -> mutagen.id3.ID3:
    """The file's ID3v2 tag as stored, without the v1 fields mutagen would fill in."""
    return mutagen.id3.ID3(str(path), translate=False, load_v1=False)


def texts(tag: mutagen.id3.ID3) -> dict[str, list[str]]:
    return {key: [str(t) for t in frame.text] for key, frame in tag.items() if hasattr(frame, "text")}


def without_v1(data: bytes) -> bytes:
    assert data[-128:-125] == b"TAG"
    return data[:-128]


# --- the new ID3v2 tag --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 3])
def test_v1_only_file_gets_an_id3v2_tag_with_every_v1_field(v1_mp3, version):
    original = v1_mp3.read_bytes()
    audio_before = audio_digest(v1_mp3)

    change = write_tags(v1_mp3, {"mood": ["Chill"]}, new_id3_version=version)

    assert change.written and change.old == {"mood": ()}
    tag = id3v2_alone(v1_mp3)
    assert tag.version == (2, version, 0)
    frames = texts(tag)
    for key, values in V1_FIELDS.items():
        assert frames[key] == values, key
    assert frames["TCON"] == ["Jazz"]  # the v1 genre number, by name
    assert frames["TDRC" if version == 4 else "TYER"] == ["2010"]
    assert frames["TMOO" if version == 4 else "TXXX:mood"] == ["Chill"]
    assert read_tags(v1_mp3)["mood"] == ["Chill"]
    # The audio frames themselves are untouched: same decoded samples, same bytes between the tags.
    assert audio_digest(v1_mp3) == audio_before
    written = v1_mp3.read_bytes()
    assert without_v1(written)[tag.size :] == without_v1(original)


def test_verification_catches_a_v1_field_the_new_tag_lost(v1_mp3, monkeypatch):
    """With `keep`, the v1 tag still holds the title: only reading the v2 tag alone shows it was dropped."""
    original = v1_mp3.read_bytes()
    real_set = ID3TextStyle.set

    def clumsy_set(self, tags, values, options):
        real_set(self, tags, values, options)
        tags.delall("TIT2")

    monkeypatch.setattr(ID3TextStyle, "set", clumsy_set)
    with pytest.raises(TagWriteError, match="fields we did not write changed: TIT2"):
        write_tags(v1_mp3, {"mood": ["Chill"]}, id3v1="keep")
    assert v1_mp3.read_bytes() == original
    assert find_stale_temp_files(v1_mp3.parent) == []


# --- what becomes of the v1 tag ----------------------------------------------------------------------------


def test_keep_leaves_the_v1_bytes_as_they_were(v1_mp3):
    write_tags(v1_mp3, {"genre": ["Electronic"], "mood": ["Chill"]}, id3v1="keep")
    assert v1_mp3.read_bytes()[-128:] == id3v1_tag()
    assert read_tags(v1_mp3)["genre"] == ["Electronic"]  # the v2 tag wins for readers


def test_update_rewrites_the_v1_tag_from_the_new_values(v1_mp3):
    write_tags(v1_mp3, {"genre": ["Electronic"], "mood": ["Chill"]}, id3v1="update")
    tail = v1_mp3.read_bytes()[-128:]
    assert tail != id3v1_tag()
    v1 = parse_v1(tail)
    assert v1["genre"] == GENRES["Electronic"]
    assert (v1["title"], v1["artist"], v1["album"], v1["year"], v1["track"]) == (
        "Vibe Ace",
        "Kevin MacLeod",
        "Jazz Sampler",
        "2010",
        3,
    )
    assert id3v2_alone(v1_mp3)["COMM:ID3v1 Comment:eng"].text == ["ripped in 1999"]  # kept in v2


def test_remove_deletes_the_v1_tag(v1_mp3):
    original = v1_mp3.read_bytes()
    write_tags(v1_mp3, {"mood": ["Chill"]}, id3v1="remove")
    written = v1_mp3.read_bytes()
    tag = id3v2_alone(v1_mp3)
    assert written[tag.size :] == without_v1(original)  # the v2 tag, then the audio: no v1 tag
    assert texts(tag)["TIT2"] == ["Vibe Ace"] and texts(tag)["TCON"] == ["Jazz"]


def test_the_default_is_update_as_before(v1_mp3):
    assert WritePolicy().id3v1 == WriteSettings().id3v1 == Settings().write_policy().id3v1 == "update"
    write_tags(v1_mp3, {"genre": ["Blues"]})
    assert parse_v1(v1_mp3.read_bytes()[-128:])["genre"] == GENRES["Blues"]


# --- undo --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["update", "keep", "remove"])
def test_undo_gives_back_the_original_bytes(v1_mp3, mode):
    original = v1_mp3.read_bytes()
    change = write_tags(v1_mp3, {"genre": ["Electronic"], "mood": ["Chill"]}, id3v1=mode)
    assert v1_mp3.read_bytes() != original
    assert RESTORE_KEY in change.undo_changes()
    write_tags(v1_mp3, change.undo_changes(), id3v1=mode)
    assert v1_mp3.read_bytes() == original


def test_undo_keeps_a_v2_tag_that_gained_a_frame_since(v1_mp3):
    """Another program added a cover after our write: undo must not throw it away with the v2 tag."""
    change = write_tags(v1_mp3, {"mood": ["Chill"]})
    tag = id3v2_alone(v1_mp3)
    tag.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=b"\x89PNG fake"))
    tag.save(str(v1_mp3), v1=mutagen.id3.ID3v1SaveOptions.UPDATE)
    write_tags(v1_mp3, change.undo_changes())
    after = id3v2_alone(v1_mp3)
    assert "APIC:cover" in after and "TMOO" not in after
    assert v1_mp3.read_bytes()[-128:] == id3v1_tag()  # the v1 tag as it was


def add_track(library, path: Path) -> int:
    with library.session() as session:
        track = track_row(path)
        session.add(track)
        session.flush()
        session.add(TrackLabel(track_id=track.id, category="mood", label="Chill", score=0.9, rank=0))
        session.add(TrackLabel(track_id=track.id, category="genre", label="Electronic", score=0.9, rank=0))
        session.commit()
        return track.id


@pytest.mark.parametrize("mode", ["update", "keep", "remove"])
def test_library_undo_gives_back_the_original_bytes(library, vocabulary, v1_mp3, mode):
    original = v1_mp3.read_bytes()
    track_id = add_track(library, v1_mp3)
    policy = WritePolicy(genre="replace", mood="fill", id3v1=mode)
    with library.session() as session:
        plans = plan_writes(session, [track_id], policy, vocabulary)
    report = apply_writes(library, plans, policy)
    assert report.written == 1 and not report.failed
    assert read_tags(v1_mp3)["genre"] == ["Electronic"] and read_tags(v1_mp3)["mood"] == ["Chill"]
    with library.session() as session:
        entry = session.query(WriteEntry).one()
        assert entry.old[RESTORE_KEY][0].startswith("id3v1-only:")  # journaled with the old values

    undone = undo_batch(library)
    assert undone.written == 1 and not undone.failed
    assert v1_mp3.read_bytes() == original


# --- the setting -------------------------------------------------------------------------------------------


def test_the_setting_reaches_the_write_policy():
    save_settings(Settings().replace(write={"id3v1": "keep"}))
    assert load_settings().write_policy().id3v1 == "keep"
    assert WritePolicy.from_json(load_settings().write_policy().to_json()).id3v1 == "keep"


def test_an_invalid_value_is_a_clear_settings_error(v1_mp3, caplog):
    with pytest.raises(SettingsValueError, match=r"write\.id3v1 must be one of keep, update, remove"):
        Settings().replace(write={"id3v1": "delete"})
    with pytest.raises(SettingsValueError, match=r"write\.id3v1"):
        WriteSettings(id3v1=True)
    with pytest.raises(ValueError, match="id3v1 must be one of keep, update, remove, not 'drop'"):
        WritePolicy(id3v1="drop")
    original = v1_mp3.read_bytes()
    with pytest.raises(ValueError, match="id3v1 must be one of"):
        write_tags(v1_mp3, {"mood": ["Chill"]}, id3v1="strip")
    assert v1_mp3.read_bytes() == original
    # A hand-edited file: the key's default, with a warning naming it.
    settings_file = v1_mp3.parent / "settings.toml"
    settings_file.write_text('[write]\nid3v1 = "erase"\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="musictagger.settings"):
        loaded = load_settings(settings_file)
    assert loaded.write.id3v1 == "update"
    assert "write.id3v1 must be one of keep, update, remove, not 'erase'" in caplog.text


# --- the command line ------------------------------------------------------------------------------------


def test_cli_tag_write_on_a_v1_only_mp3(v1_mp3, capsys):
    """`tag --write` exits 0 and the values read back. They come from reviews, not from the models' output
    on a 2-second clip: the command is under test here, not the analysis."""
    from musictagger.cli import main
    from musictagger.library import open_library
    from musictagger.library.review import set_review

    save_settings(
        Settings().replace(
            analysis={"device": "cpu", "models": ("MTT_musicnn",), "run_heads": False, "workers": 1}
        )
    )
    db = v1_mp3.parent.parent / "index.sqlite"
    assert main(["scan", str(v1_mp3.parent), "--db", str(db), "--quiet"]) == 0
    with open_library(db) as library, library.session() as session:
        track_id = session.query(Track).one().id
        set_review(session, [track_id], "genre", ["Lounge"], "edited")
        set_review(session, [track_id], "mood", ["Chill"], "edited")
        session.commit()
    capsys.readouterr()

    code = main(["tag", str(v1_mp3.parent), "--write", "--db", str(db), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "1 files written, 0 failed" in err
    tags = read_tags(v1_mp3)
    assert (tags["genre"], tags["mood"]) == (["Lounge"], ["Chill"])
    assert tags["title"] == ["Vibe Ace"] and tags["album"] == ["Jazz Sampler"]
    assert id3v2_alone(v1_mp3).version == (2, 4, 0)
