"""Reading the index: tracks by label and text, facet counts, M3U8 playlists for DJ software."""

import os
import stat

import pytest

from musictagger.library import Track, TrackLabel, open_library
from musictagger.library.queries import export_m3u8, label_counts, tracks_by_id, tracks_under
from musictagger.library.scanner import utc_now
from musictagger.library.track_filter import SortKey, TrackFilter, filtered_ids
from musictagger.services.search import TrackQuery

# path, title, artist, album, duration, {(category, label): score}, missing
TRACKS = [
    ("/music/House/Deep Night.mp3", "Deep Night", "DJ Ünïcödé", "Nights", 412.4,
     {("genre", "House"): 0.8, ("genre", "Electronic"): 0.6, ("mood", "Chill"): 0.5}, False),
    ("/music/House/Peak Time.flac", "Peak Time", "Rave Crew", "100% Energy", 365.6,
     {("genre", "House"): 0.4, ("genre", "Techno"): 0.7, ("mood", "Party"): 0.9}, False),
    ("/music/Jazz/vibe ace.ogg", "Vibe Ace", "Kevin MacLeod", "Jazz Sampler", 20.0,
     {("genre", "Jazz"): 0.9, ("mood", "Chill"): 0.3}, False),
    ("/music/Unknown/track01.wav", None, None, None, None, {("genre", "House"): 0.06}, False),
    ("/music/Gone/old house.mp3", "Old House", "Someone", None, 300.0,
     {("genre", "House"): 0.9, ("mood", "Chill"): 0.9}, True),
]  # fmt: skip


@pytest.fixture
def session(library_url):
    with open_library(library_url) as library, library.session() as session:
        now = utc_now()
        for path, title, artist, album, duration, labels, missing in TRACKS:
            track = Track(
                path_key=os.fsencode(path),
                path=path,
                folder=os.path.dirname(path),
                size=1,
                mtime_ns=1,
                title=title,
                artist=artist,
                album=album,
                duration_s=duration,
                file_tags={},
                scanned_at=now,
                missing_since=now if missing else None,
            )
            for category in ("genre", "mood"):
                ranked = sorted(
                    ((lb, s) for (c, lb), s in labels.items() if c == category), key=lambda x: -x[1]
                )
                for rank, (label, score) in enumerate(ranked, start=1):
                    track.labels.append(TrackLabel(category=category, label=label, score=score, rank=rank))
            session.add(track)
        session.commit()
        yield session


def paths(tracks) -> list[str]:
    return [t.path for t in tracks]


def find(session, sort: SortKey | None = None, **asked) -> list[Track]:
    """The tracks the app's filter (and ``list``) gives for ``asked``, in ``sort`` order, labels loaded."""
    ids = filtered_ids(session, TrackFilter(**asked), sort or SortKey())
    rows = tracks_by_id(session, ids)
    return [rows[i] for i in ids]


def test_all_present_tracks_by_path_never_the_missing_ones(session):
    assert paths(find(session)) == sorted(t[0] for t in TRACKS if not t[6])
    assert paths(find(session, moods=("Chill",), min_score=0.4)) == ["/music/House/Deep Night.mp3"]


def test_every_genre_and_mood_asked_for_must_be_there_at_the_minimum_score(session):
    assert paths(find(session, genres=("House",), min_score=0.0)) == [
        "/music/House/Deep Night.mp3",
        "/music/House/Peak Time.flac",
        "/music/Unknown/track01.wav",
    ]
    assert paths(find(session, genres=("House",), min_score=0.5)) == ["/music/House/Deep Night.mp3"]
    assert paths(find(session, genres=("House", "Techno"), min_score=0.0)) == ["/music/House/Peak Time.flac"]
    assert paths(find(session, genres=("House",), moods=("Chill",), min_score=0.0)) == [
        "/music/House/Deep Night.mp3"
    ]
    assert find(session, genres=("House", "Jazz"), min_score=0.0) == []
    assert find(session, genres=("house",), min_score=0.0) == []  # canonical names, exactly
    assert find(session, genres=("House",)) == []  # by default a label counts when confident: none is


def test_text_search_is_case_insensitive_over_path_title_artist_and_album(session):
    assert paths(find(session, text="PEAK")) == ["/music/House/Peak Time.flac"]
    assert paths(find(session, text="macleod")) == ["/music/Jazz/vibe ace.ogg"]
    assert paths(find(session, text="sampler")) == ["/music/Jazz/vibe ace.ogg"]
    assert paths(find(session, text="unknown/")) == ["/music/Unknown/track01.wav"]
    assert paths(find(session, text="ünïcödé")) == ["/music/House/Deep Night.mp3"]  # not ASCII
    assert paths(find(session, text="ÜNÏ", genres=("House",), min_score=0.0)) == [
        "/music/House/Deep Night.mp3"
    ]
    assert paths(find(session, text="100%")) == ["/music/House/Peak Time.flac"]  # % is literal
    assert find(session, text="1_0") == []  # and so is _
    assert paths(find(session, text="house", genres=("House",), min_score=0.0)) == [
        "/music/House/Deep Night.mp3",
        "/music/House/Peak Time.flac",
    ]


def test_sorted_by_a_column_descending_with_unknowns_last(session):
    assert paths(find(session, SortKey("duration", descending=True))) == [
        "/music/House/Deep Night.mp3",
        "/music/House/Peak Time.flac",
        "/music/Jazz/vibe ace.ogg",
        "/music/Unknown/track01.wav",
    ]
    assert paths(find(session, SortKey("title")))[-1] == "/music/Unknown/track01.wav"
    with pytest.raises(ValueError, match="cannot sort by 'rating'"):
        TrackQuery(sort="rating")


def test_found_tracks_come_with_their_labels(session):
    (track,) = find(session, genres=("Jazz",), min_score=0.0)
    assert {(lb.category, lb.label, lb.rank) for lb in track.labels} == {
        ("genre", "Jazz", 1),
        ("mood", "Chill", 1),
    }


def test_label_counts_give_the_facets_most_frequent_first(session):
    assert label_counts(session, "genre", 0.0) == [
        ("House", 3),
        ("Electronic", 1),
        ("Jazz", 1),
        ("Techno", 1),
    ]
    assert label_counts(session, "genre", 0.5) == [
        ("Electronic", 1),
        ("House", 1),
        ("Jazz", 1),
        ("Techno", 1),
    ]
    assert label_counts(session, "mood", 0.4) == [("Chill", 1), ("Party", 1)]
    assert label_counts(session, "mood", 0.4, include_missing=True) == [("Chill", 2), ("Party", 1)]
    assert label_counts(session, "era", 0.0) == []


def test_tracks_under_folders_and_files(session):
    assert paths(tracks_under(session, ["/music/House"])) == [
        "/music/House/Deep Night.mp3",
        "/music/House/Peak Time.flac",
    ]
    assert paths(tracks_under(session, ["/music/House/", "/music/Jazz/vibe ace.ogg"])) == [
        "/music/House/Deep Night.mp3",
        "/music/House/Peak Time.flac",
        "/music/Jazz/vibe ace.ogg",
    ]
    assert tracks_under(session, ["/music/Hou"]) == []  # a folder, not a name prefix
    assert len(tracks_under(session, ["/music"], include_missing=True)) == len(TRACKS)
    assert tracks_under(session, []) == []


def test_an_m3u8_playlist_lists_duration_name_and_absolute_path(session, tmp_path):
    out = tmp_path / "playlists" / "house.m3u8"
    tracks = find(session, genres=("House",), min_score=0.0)
    assert export_m3u8(tracks, out) == out
    assert out.read_text(encoding="utf-8") == (
        "#EXTM3U\n"
        "#EXTINF:412,DJ Ünïcödé - Deep Night\n"
        "/music/House/Deep Night.mp3\n"
        "#EXTINF:366,Rave Crew - Peak Time\n"
        "/music/House/Peak Time.flac\n"
        "#EXTINF:-1,track01\n"
        "/music/Unknown/track01.wav\n"
    )
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_an_m3u8_export_replaces_the_old_playlist_atomically_and_keeps_odd_names(
    session, tmp_path, monkeypatch
):
    out = tmp_path / "playlists" / "set.m3u8"
    out.parent.mkdir()
    out.write_text("old playlist")
    out.chmod(0o600)
    odd = Track(
        path_key=b"/music/caf\xe9.mp3",
        path="/music/caf\\udce9.mp3",
        title="Line\nbreak,  and comma",
        duration_s=1.6,
    )
    export_m3u8([odd], out)
    assert out.read_bytes() == b"#EXTM3U\n#EXTINF:2,Line break, and comma\n/music/caf\xe9.mp3\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # the user's choice is kept
    assert os.listdir(out.parent) == ["set.m3u8"]  # no temporary file left
    export_m3u8([], out)
    assert out.read_text() == "#EXTM3U\n"

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        export_m3u8([odd], out)
    assert out.read_text() == "#EXTM3U\n" and os.listdir(out.parent) == ["set.m3u8"]


# --- one search rule for `list --search` and the app's table -----------------------------------------------

SEARCH_TRACKS = [
    ("/music/Pop/halo.flac", "Halo", "Beyoncé", "I Am... Sasha Fierce"),
    ("/music/Metal/kickstart.mp3", "Kickstart My Heart", "Mötley Crüe", "Dr. Feelgood"),
    ("/music/Techno/Straße.wav", "Straße der Nacht", "Ｋｒａｆｔ", None),
    ("/music/Misc/ﬁre.ogg", None, None, "STRASSE"),
    ("/music/Misc/Sigur.mp3", "Hoppípolla", "Sigur Rós", "Takk..."),
    ("/music/Misc/plain.mp3", "Beyonce Tribute", "Cover Band", "Covers"),
    ("/music/Misc/Øresund.mp3", "Øresund", None, None),
]

SEARCHES = {
    "beyonce": {"halo.flac", "plain.mp3"},
    "BEYONCÉ": {"halo.flac", "plain.mp3"},
    "MÖTLEY": {"kickstart.mp3"},
    "motley crue": {"kickstart.mp3"},
    "straße": {"Straße.wav", "ﬁre.ogg"},
    "STRASSE": {"Straße.wav", "ﬁre.ogg"},
    "kraft": {"Straße.wav"},  # full-width letters
    "fire": {"ﬁre.ogg"},  # the ligature
    "hoppipolla": {"Sigur.mp3"},
    "ros": {"Sigur.mp3"},
    "oresund": {"Øresund.mp3"},
    "  halo  ": {"halo.flac"},
    "fierce/": set(),  # no match across two columns
    "100%": set(),
}


@pytest.fixture
def search_session(library_url):
    """On SQLite (Python's fold in SQL) and PostgreSQL (the fold in SQL: queries.py)."""
    with open_library(library_url) as library, library.session() as session:
        now = utc_now()
        for path, title, artist, album in SEARCH_TRACKS:
            session.add(
                Track(
                    path_key=os.fsencode(path),
                    path=path,
                    folder=os.path.dirname(path),
                    size=1,
                    mtime_ns=1,
                    title=title,
                    artist=artist,
                    album=album,
                    file_tags={},
                    scanned_at=now,
                )
            )
        session.commit()
        yield session


def test_fold_text_ignores_case_accents_and_width():
    from musictagger.library.queries import fold_text

    assert fold_text("Beyoncé") == "beyonce"
    assert fold_text("MÖTLEY CRÜE") == "motley crue"
    assert fold_text("straße") == fold_text("STRASSE") == "strasse"
    assert fold_text("Ｋｒａｆｔ") == "kraft"
    assert fold_text("ﬁre") == "fire"
    assert fold_text("Beyonce\u0301") == "beyonce"  # decomposed accents too
    assert fold_text("東京") == "東京"
    assert fold_text(None) == fold_text("") == ""


@pytest.mark.parametrize(("text", "expected"), SEARCHES.items())
def test_the_search_finds_its_tracks_in_path_order(search_session, text, expected):
    found = paths(find(search_session, text=text))
    assert {os.path.basename(path) for path in found} == expected
    assert found == sorted(found)


def test_the_search_runs_in_sql_on_a_connection_opened_before(tmp_path):
    """A connection pooled before queries.py registered the fold still gets it from the session."""
    from sqlalchemy import select

    from musictagger.library.queries import search_condition

    with open_library(tmp_path / "early.sqlite") as library, library.session() as session:
        session.connection().connection.dbapi_connection.create_function("musictagger_fold", 1, None)
        query = select(Track.id).where(search_condition("beyonce", session))
        assert list(session.scalars(query)) == []
