"""Writing BPM and key into every container: where DJ software reads them, under the fill / replace / skip
policy (fill never overwrites Mixed In Key's), in the chosen notation, dry run, and undo to the same bytes
of audio and the same tags.

Real files (tests/data/formats: the tagged ones carry bpm 130 and key 1A as Mixed In Key writes them, the
untagged ones nothing) and a real SQLite index; the Track rows are made here directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mutagen
import pytest
from helpers import audio_digest, track_row
from sqlalchemy import select

from musictagger.library import Track
from musictagger.library.policy import WritePolicy
from musictagger.library.writing import apply_writes, format_diff, plan_writes, undo_batch
from musictagger.settings import Settings
from musictagger.tags import read_tags

FORMATS = Path(__file__).parent / "data" / "formats"
FIXTURES = sorted(p.name for p in FORMATS.iterdir() if p.suffix != ".md")
NO_LABELS = WritePolicy(genre="skip", mood="skip", energy="skip")


def copy_fixture(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "music"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(FORMATS / name, folder / name)
    return folder / name


def add_track(library, path: Path, bpm: float | None = 127.6, key: str | None = "A minor") -> int:
    with library.session() as session:
        track = track_row(path, bpm=bpm, key=key, key_confidence=0.8 if key else None)
        session.add(track)
        session.commit()
        return track.id


def plan(library, vocabulary, policy):
    with library.session() as session:
        return plan_writes(
            session, list(session.scalars(select(Track).order_by(Track.id))), policy, vocabulary
        )


@pytest.mark.parametrize("name", FIXTURES)
def test_bpm_and_key_are_written_read_back_and_undone_in_every_container(tmp_path, library, vocabulary, name):
    path = copy_fixture(tmp_path, name)
    add_track(library, path)
    before_tags, before_audio = read_tags(path), audio_digest(path)
    policy = WritePolicy(genre="skip", mood="skip", energy="skip", bpm="replace", key="replace")
    [p] = plan(library, vocabulary, policy)
    assert p.new == {"bpm": ["128"], "key": ["Am"]}  # a whole number; the key as Rekordbox writes TKEY
    assert p.old == {name: before_tags.get(name, []) for name in ("bpm", "key")}
    report = apply_writes(library, [p], policy)
    assert (report.written, report.failed) == (1, [])
    after = read_tags(path)
    assert (after["bpm"], after["key"]) == (["128"], ["Am"])
    assert {k: v for k, v in after.items() if k not in ("bpm", "key")} == {
        k: v for k, v in before_tags.items() if k not in ("bpm", "key")
    }
    assert audio_digest(path) == before_audio
    assert undo_batch(library).written == 1
    assert read_tags(path) == before_tags  # absent fields absent again, Mixed In Key's values back
    assert audio_digest(path) == before_audio


@pytest.mark.parametrize("name", ["tagged.flac", "tagged_id3v23.mp3", "tagged_aac.m4a", "tagged.wma"])
def test_fill_never_overwrites_a_bpm_or_key_already_there(tmp_path, library, vocabulary, name):
    path = copy_fixture(tmp_path, name)
    add_track(library, path)
    assert (read_tags(path)["bpm"], read_tags(path)["key"]) == (["130"], ["1A"])
    assert plan(library, vocabulary, NO_LABELS) == []  # default fill: Mixed In Key's 130 and 1A stay
    assert plan(library, vocabulary, WritePolicy(genre="skip", mood="skip", bpm="skip", key="skip")) == []


@pytest.mark.parametrize("name", ["untagged.mp3", "untagged.wav"])
def test_fill_writes_where_the_file_has_none_and_the_dry_run_says_so(tmp_path, library, vocabulary, name):
    path = copy_fixture(tmp_path, name)
    add_track(library, path)
    plans = plan(library, vocabulary, NO_LABELS)
    diff = format_diff(plans)
    assert "bpm: (none) → 128" in diff and "key: (none) → Am" in diff
    assert read_tags(path) == {}  # the dry run wrote nothing
    assert apply_writes(library, plans, NO_LABELS).written == 1
    assert read_tags(path) == {"bpm": ["128"], "key": ["Am"]}


def test_picards_vorbis_key_counts_as_a_key_already_there(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "tagged.flac")
    audio = mutagen.File(path)
    del audio["INITIALKEY"]
    audio["KEY"] = "Am"  # where Picard writes it
    audio.save()
    add_track(library, path, bpm=None, key="E minor")
    assert read_tags(path).get("key") is None and read_tags(path)["picard_key"] == ["Am"]
    assert plan(library, vocabulary, NO_LABELS) == []
    [replace] = plan(library, vocabulary, WritePolicy(genre="skip", mood="skip", key="replace"))
    assert replace.old == {"key": []} and replace.new == {"key": ["Em"]}  # Picard's KEY is left alone


@pytest.mark.parametrize(
    ("notation", "written"),
    [("short", "F#m"), ("camelot", "11A"), ("open_key", "4m"), ("musical", "F# minor")],
)
def test_the_key_is_written_in_the_notation_the_settings_pick(
    tmp_path, library, vocabulary, notation, written
):
    path = copy_fixture(tmp_path, "untagged.mp3")
    add_track(library, path, bpm=None, key="F# minor")
    policy = Settings().replace(write={"key_notation": notation, "genre_mode": "skip", "mood_mode": "skip"})
    policy = policy.write_policy()
    assert apply_writes(library, plan(library, vocabulary, policy), policy).written == 1
    assert read_tags(path)["key"] == [written]


def test_tracks_without_tempo_or_key_and_the_policy_checks(tmp_path, library, vocabulary):
    path = copy_fixture(tmp_path, "untagged.wav")
    add_track(library, path, bpm=None, key=None)
    assert plan(library, vocabulary, NO_LABELS) == []  # nothing estimated, nothing to write
    with pytest.raises(ValueError, match="bpm mode"):
        WritePolicy(bpm="merge")
    with pytest.raises(ValueError, match="key_notation"):
        WritePolicy(key_notation="roman")
    assert WritePolicy.from_json({"genre": "fill"}).key_notation == "short"  # a batch from before


def test_settings_default_to_fill_and_the_short_notation():
    policy = Settings().write_policy()
    assert (policy.bpm, policy.key, policy.key_notation) == ("fill", "fill", "short")
