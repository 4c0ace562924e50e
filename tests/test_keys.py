"""musictagger.keys: every key against the published Camelot / Open Key tables, parsing, compatibility."""

import pytest

from musictagger.keys import (
    ALL_KEYS,
    Key,
    KeyParseError,
    Mode,
    are_compatible,
    canonical_key_name,
    compatible_keys,
    parse_key,
    try_parse_key,
)

# Mixed In Key's Camelot wheel (1A = Ab minor … 12B = E major) and Native Instruments' Open Key
# (1d = C major, 1m = A minor), as published e.g. at https://www.toneify.site/camelot-wheel and
# https://maustsontoast.com/2020/pitch-class-tonal-counterparts-and-camelot-key-equivalents (pitch
# class → Camelot). Written out by hand from those tables, not computed, so the module is checked
# against them rather than against itself.
PUBLISHED = [
    # pitch class, mode, Camelot, Open Key, canonical name, other spellings a library holds
    (8, "minor", "1A", "6m", "G# minor", ["Abm", "Ab minor", "G#m", "g#min"]),
    (11, "major", "1B", "6d", "B major", ["B", "Bmaj", "Cb"]),
    (3, "minor", "2A", "7m", "Eb minor", ["Ebm", "D#m", "D# minor", "E♭m"]),
    (6, "major", "2B", "7d", "F# major", ["F#", "Gb", "Gb major", "F♯ major"]),
    (10, "minor", "3A", "8m", "Bb minor", ["Bbm", "A#m", "A# minor", "B♭ minor"]),
    (1, "major", "3B", "8d", "Db major", ["Db", "C#", "C# major", "Dbmaj"]),
    (5, "minor", "4A", "9m", "F minor", ["Fm", "fmin", "F-minor"]),
    (8, "major", "4B", "9d", "Ab major", ["Ab", "G#", "G# major"]),
    (0, "minor", "5A", "10m", "C minor", ["Cm", "cm", "C min", "B#m"]),
    (3, "major", "5B", "10d", "Eb major", ["Eb", "D#", "D# major"]),
    (7, "minor", "6A", "11m", "G minor", ["Gm", "G minor", "gmin"]),
    (10, "major", "6B", "11d", "Bb major", ["Bb", "A#", "A# major"]),
    (2, "minor", "7A", "12m", "D minor", ["Dm", "D Minor", "dmin"]),
    (5, "major", "7B", "12d", "F major", ["F", "Fmaj", "E#"]),
    (9, "minor", "8A", "1m", "A minor", ["Am", "A min", "amin", "A  minor "]),
    (0, "major", "8B", "1d", "C major", ["C", "Cmaj", "C Major"]),
    (4, "minor", "9A", "2m", "E minor", ["Em", "Fbm"]),
    (7, "major", "9B", "2d", "G major", ["G", "Gmaj"]),
    (11, "minor", "10A", "3m", "B minor", ["Bm", "bm", "Cbm", "B min"]),
    (2, "major", "10B", "3d", "D major", ["D", "Dmaj"]),
    (6, "minor", "11A", "4m", "F# minor", ["F#m", "Gbm", "Gb minor"]),
    (9, "major", "11B", "4d", "A major", ["A", "Amaj", "A major"]),
    (1, "minor", "12A", "5m", "C# minor", ["C#m", "Dbm", "Db minor", "C♯m"]),
    (4, "major", "12B", "5d", "E major", ["E", "Emaj"]),
]


def test_the_table_covers_every_key_once():
    assert len(PUBLISHED) == 24
    assert {(pc, mode) for pc, mode, *_ in PUBLISHED} == {(k.pitch_class, k.mode.value) for k in ALL_KEYS}
    assert len(set(ALL_KEYS)) == 24


@pytest.mark.parametrize(("pitch_class", "mode", "camelot", "open_key", "name", "spellings"), PUBLISHED)
def test_every_key_against_the_published_tables(pitch_class, mode, camelot, open_key, name, spellings):
    key = Key(pitch_class, Mode(mode))
    assert key.camelot == camelot
    assert key.open_key == open_key
    assert key.musical == name
    assert str(key) == name
    assert key.render("camelot") == camelot
    assert key.render("open_key") == open_key
    assert key.render("musical") == name
    assert key.render("short") == name.split()[0] + ("m" if mode == "minor" else "")
    for text in [camelot, camelot.lower(), "0" + camelot, open_key, open_key.upper(), name, *spellings]:
        assert parse_key(text) == key, text
    assert canonical_key_name(open_key) == name


def test_relative_and_parallel_keys():
    a_minor = parse_key("A minor")
    assert a_minor.relative() == parse_key("C major")
    assert parse_key("C major").relative() == a_minor
    assert a_minor.parallel() == parse_key("A major")
    for key in ALL_KEYS:
        assert key.relative().relative() == key
        assert key.relative().camelot_number == key.camelot_number
        assert key.fifth_up().fifth_down() == key


def test_compatible_keys_follow_the_camelot_rule():
    assert [k.camelot for k in compatible_keys(parse_key("8A"))] == ["8A", "7A", "9A", "8B"]
    # the wheel wraps: 12B's neighbours are 11B and 1B
    assert {k.camelot for k in compatible_keys(parse_key("12B"))} == {"12B", "11B", "1B", "12A"}
    assert {k.camelot for k in compatible_keys(parse_key("1A"))} == {"1A", "12A", "2A", "1B"}
    for key in ALL_KEYS:
        compatible = compatible_keys(key)
        assert len(set(compatible)) == 4
        for other in ALL_KEYS:
            assert are_compatible(key, other) == are_compatible(other, key)
            assert are_compatible(key, other) == (other in compatible)
    assert not are_compatible(parse_key("Am"), parse_key("A major"))  # parallel: different notes
    assert not are_compatible(parse_key("8A"), parse_key("10A"))


@pytest.mark.parametrize("text", ["", "   ", "H minor", "13A", "0A", "8C", "o", "A minor major", "Am7", "x"])
def test_text_that_names_no_key(text):
    with pytest.raises(KeyParseError):
        parse_key(text)
    assert try_parse_key(text) is None
    assert canonical_key_name(text) is None


def test_none_and_bad_values():
    assert try_parse_key(None) is None
    with pytest.raises(ValueError, match="pitch class"):
        Key(12, Mode.MAJOR)
    with pytest.raises(ValueError, match="notation"):
        parse_key("Am").render("roman")  # type: ignore[arg-type]


def test_keys_sort_and_hash_by_value():
    assert sorted([parse_key("Bm"), parse_key("C")]) == [parse_key("C"), parse_key("Bm")]
    assert len({parse_key("A#m"), parse_key("Bbm"), parse_key("3A"), parse_key("8m")}) == 1
