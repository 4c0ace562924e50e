"""The field map is immutable and says exactly what /work/shared/docs/tagging.md says."""

from __future__ import annotations

import dataclasses

import pytest

from musictagger.tags import FIELDS, WRITABLE_FIELDS, TagFamily

# field -> family -> snapshot key of the written (first) style; from docs/tagging.md
EXPECTED = {
    "genre": {"ID3v2.4": "TCON", "ID3v2.3": "TCON", "Vorbis": "genre", "MP4": "©gen", "ASF": "WM/Genre"},
    "mood": {
        "ID3v2.4": "TMOO",
        "ID3v2.3": "TXXX:mood",
        "Vorbis": "mood",
        "MP4": "----:com.apple.iTunes:MOOD",
        "ASF": "WM/Mood",
    },
    # Not in tagging.md: Mixed In Key's EnergyLevel (docs/vocabulary.md).
    "energy": {
        "ID3v2.4": "TXXX:EnergyLevel",
        "ID3v2.3": "TXXX:EnergyLevel",
        "Vorbis": "energylevel",
        "MP4": "----:com.apple.iTunes:EnergyLevel",
        "ASF": "EnergyLevel",
    },
    "comment": {
        "ID3v2.4": "COMM::eng",
        "ID3v2.3": "COMM::eng",
        "Vorbis": "comment",
        "MP4": "©cmt",
        "ASF": "Description",
    },
    "grouping": {
        "ID3v2.4": "TIT1",
        "ID3v2.3": "TIT1",
        "Vorbis": "grouping",
        "MP4": "©grp",
        "ASF": "WM/ContentGroupDescription",
    },
    "title": {"ID3v2.4": "TIT2", "ID3v2.3": "TIT2", "Vorbis": "title", "MP4": "©nam", "ASF": "Title"},
    "artist": {"ID3v2.4": "TPE1", "ID3v2.3": "TPE1", "Vorbis": "artist", "MP4": "©ART", "ASF": "Author"},
    "album": {"ID3v2.4": "TALB", "ID3v2.3": "TALB", "Vorbis": "album", "MP4": "©alb", "ASF": "WM/AlbumTitle"},
    "bpm": {"ID3v2.4": "TBPM", "ID3v2.3": "TBPM", "Vorbis": "bpm", "MP4": "tmpo", "ASF": "WM/BeatsPerMinute"},
    "key": {
        "ID3v2.4": "TKEY",
        "ID3v2.3": "TKEY",
        "Vorbis": "initialkey",
        "MP4": "----:com.apple.iTunes:initialkey",
        "ASF": "WM/InitialKey",
    },
}
FAMILY = {
    "ID3v2.4": TagFamily.ID3V24,
    "ID3v2.3": TagFamily.ID3V23,
    "Vorbis": TagFamily.VORBIS,
    "MP4": TagFamily.MP4,
    "ASF": TagFamily.ASF,
}


def test_map_matches_the_documented_table():
    assert set(FIELDS) == set(EXPECTED) | {"picard_key"}
    for name, per_family in EXPECTED.items():
        for family, key in per_family.items():
            assert FIELDS[name].styles[FAMILY[family]][0].key == key, (name, family)


def test_writable_fields():
    assert frozenset({"genre", "mood", "energy", "comment", "grouping", "bpm", "key"}) == WRITABLE_FIELDS
    for name in ("title", "artist", "album", "picard_key"):
        with pytest.raises(ValueError):
            FIELDS[name].write_style(TagFamily.ID3V24)


def test_picard_key_is_read_beside_the_written_vorbis_key():
    # key writes (and so reads) INITIALKEY alone; Picard's KEY is its own read-only field, which the write
    # policy counts as a key already there (a write never reports a value it did not replace).
    assert [style.key for style in FIELDS["key"].read_styles(TagFamily.VORBIS)] == ["initialkey"]
    assert [style.key for style in FIELDS["picard_key"].read_styles(TagFamily.VORBIS)] == ["key"]
    assert all(not FIELDS["picard_key"].read_styles(f) for f in TagFamily if f is not TagFamily.VORBIS)


def test_map_is_immutable():
    with pytest.raises(TypeError):
        FIELDS["genre"] = FIELDS["mood"]  # type: ignore[index]
    with pytest.raises(TypeError):
        FIELDS["genre"].styles[TagFamily.MP4] = ()  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        FIELDS["genre"].writable = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        FIELDS["genre"].styles[TagFamily.MP4][0].atom = "x"  # type: ignore[misc]
