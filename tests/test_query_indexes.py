"""Migrations 0006's and 0011's indexes for a million-track index: a new index and an upgraded one have
them, the queries that need them take them (SQLite's plans), and what the queries answer is what it was."""

import pytest
from alembic import command
from helpers import synthetic_track
from sqlalchemy import delete, event, func, inspect, select

from musictagger.library import Track, TrackLabel, open_library
from musictagger.library.db import alembic_config, head_revision, schema_revision
from musictagger.library.queries import label_counts
from musictagger.library.scanner import utc_now
from musictagger.library.schema import LabelBit
from musictagger.library.track_filter import SortKey, TrackFilter, filtered_ids

QUERY_INDEXES = {
    "tracks": {
        "ix_tracks_title_order",
        "ix_tracks_artist_order",
        "ix_tracks_bpm_order",
        "ix_tracks_album_order",
        "ix_tracks_path_order",
        "ix_tracks_missing",
    },
    "track_labels": {"ix_track_labels_facets", "ix_track_labels_by_label"},  # the latter 0011's
}


def index_names(library) -> dict[str, set[str]]:
    with library.engine.connect() as connection:
        inspector = inspect(connection)
        return {table: {ix["name"] for ix in inspector.get_indexes(table)} for table in QUERY_INDEXES}


def test_a_new_index_has_the_query_indexes(library):
    names = index_names(library)
    for table, wanted in QUERY_INDEXES.items():
        assert wanted <= names[table]


def test_an_index_of_the_previous_release_gets_them_when_opened(library_url):
    with open_library(library_url) as library:
        with library.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0005_analysis_sampled")
        names = index_names(library)
    assert not any(wanted & names[table] for table, wanted in QUERY_INDEXES.items())
    with open_library(library_url) as library:  # upgraded to 0006 on opening
        with library.engine.connect() as connection:
            assert schema_revision(connection) == head_revision()
        names = index_names(library)
    for table, wanted in QUERY_INDEXES.items():
        assert wanted <= names[table]


def fill(library):
    """120 tracks: titles, artists and BPMs with ties and NULLs, labels in two categories, a few missing."""
    now = utc_now()
    with library.session() as session, session.begin():
        for n in range(120):
            track = synthetic_track(
                n,
                now,
                title=None if n % 11 == 0 else f"Title {n % 13}",
                artist=None if n % 9 == 0 else f"Artist {n % 5}",
                bpm=None if n % 8 == 0 else float(100 + n % 17),
            )
            session.add(track)
    return library


@pytest.fixture
def filled(library):
    return fill(library)


def joined_counts(session, categories, min_score, confident_only, include_missing) -> list[tuple[str, int]]:
    """The facet counts as label_counts computed them before 0006: every label row joined to its track."""
    count = func.count(TrackLabel.track_id.distinct())
    query = select(TrackLabel.label, count).where(
        TrackLabel.category.in_(categories), TrackLabel.score >= min_score
    )
    if confident_only:
        query = query.where(TrackLabel.confident.is_(True))
    if not include_missing:
        query = query.join(Track, Track.id == TrackLabel.track_id).where(Track.missing_since.is_(None))
    query = query.group_by(TrackLabel.label).order_by(count.desc(), TrackLabel.label)
    return [(label, int(n)) for label, n in session.execute(query)]


@pytest.mark.parametrize("confident_only", [False, True])
@pytest.mark.parametrize("include_missing", [False, True])
@pytest.mark.parametrize("min_score", [0.0, 0.5])
def test_facet_counts_are_what_the_join_counted(filled, confident_only, include_missing, min_score):
    with filled.session() as session:
        for category, categories in (("genre", ("genre", "style")), ("mood", ("mood",))):
            expected = joined_counts(session, categories, min_score, confident_only, include_missing)
            got = label_counts(
                session, category, min_score, confident_only=confident_only, include_missing=include_missing
            )
            assert got == expected
            assert got  # the fixture has labels of each kind: the comparison is not of two empty lists


@pytest.mark.parametrize("column", ["title", "artist", "bpm", "path"])
@pytest.mark.parametrize("descending", [False, True])
def test_a_first_page_is_the_head_of_the_whole_ordered_result(filled, column, descending):
    """The table reads its first page with a limit (an index read for these sorts), then every id: both in
    one order, unknowns last, ties by path."""
    sort = SortKey(column, descending=descending)
    with filled.session() as session:
        whole = filtered_ids(session, TrackFilter(), sort)
        heads = {n: filtered_ids(session, TrackFilter(), sort, limit=n) for n in (1, 25, 107, 200)}
        rows = session.execute(
            select(Track.id, getattr(Track, column), Track.path).where(Track.missing_since.is_(None))
        ).all()
    by_path = sorted(rows, key=lambda row: row[2])
    # Python's sort is stable in reverse too: equal values stay in path order.
    known = sorted((row for row in by_path if row[1] is not None), key=lambda row: row[1], reverse=descending)
    unknown = [row for row in by_path if row[1] is None]
    assert len(whole) == 108  # 12 of the 120 are missing
    assert whole == [row[0] for row in known + unknown]
    for n, head in heads.items():
        assert head == whole[:n]


def sqlite_plan(session, statement) -> str:
    sql = str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    return "\n".join(row[3] for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def test_sqlite_reads_facets_and_sorted_pages_from_the_indexes(tmp_path):
    with open_library(tmp_path / "library.sqlite") as library, library.session() as session:
        facets = (
            select(TrackLabel.label, func.count(TrackLabel.track_id.distinct()))
            .where(
                TrackLabel.category.in_(("genre", "style")),
                TrackLabel.confident.is_(True),
                TrackLabel.score >= 0.1,
                TrackLabel.track_id.not_in(select(Track.id).where(Track.missing_since.is_not(None))),
            )
            .group_by(TrackLabel.label)
        )
        plan = sqlite_plan(session, facets)
        assert "COVERING INDEX ix_track_labels_facets" in plan
        assert "ix_tracks_missing" in plan
        for column, index in ((Track.title, "ix_tracks_title_order"), (Track.bpm, "ix_tracks_bpm_order")):
            page = (
                select(Track.id)
                .where(Track.missing_since.is_(None))
                .order_by(column.asc().nulls_last(), Track.path, Track.id)
                .limit(200)
            )
            plan = sqlite_plan(session, page)
            # Read in order from the index alone (partial: present tracks only): no sort, no row visited.
            assert f"SCAN tracks USING COVERING INDEX {index}" in plan
            assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("genres", "moods"),
    [
        (("House",), ()),
        (("House", "Techno"), ()),
        (("House",), ("Chill",)),
        (("Techno",), ("Party",)),
        (("Jazz",), ()),
    ],
)
@pytest.mark.parametrize("bpm", [None, (100.0, 101.0), (100.0, 116.0)])  # none, narrower, wider than a label
def test_a_label_filter_is_every_label_at_once(filled, genres, moods, bpm):
    # The table's filter (track_filter.narrowed): every label's tracks (and the BPM range, whichever
    # drives), as a Python count of every present track's confident labels says.
    from musictagger.library.track_filter import TrackFilter, filtered_ids

    with filled.session() as session:
        expected = []
        for track in session.scalars(select(Track).where(Track.missing_since.is_(None)).order_by(Track.path)):
            confident = {(label.category, label.label) for label in track.labels if label.confident}
            names = {name for _category, name in confident}
            moods_had = {name for category, name in confident if category == "mood"}
            in_range = bpm is None or (track.bpm is not None and bpm[0] <= track.bpm <= bpm[1])
            if set(genres) <= names - moods_had and set(moods) <= moods_had and in_range:
                expected.append(track.id)
        got = filtered_ids(session, TrackFilter(genres=genres, moods=moods, bpm=bpm))
    assert sorted(got) == sorted(expected)
    assert bool(expected) == (genres != ("Jazz",))  # Jazz is never confident in the fixture


def plan_of_what_ran(tmp_path, run, sent_by=lambda statement: True):
    """``run(session)`` on a filled SQLite index, and SQLite's plan (its steps) of the last statement it
    sent that ``sent_by`` picks: captured from the engine, as bench_million does, so it is what the code
    sent."""
    sent = []

    def capture(_connection, _cursor, statement, parameters, *_):
        sent.append((statement, parameters))

    with open_library(tmp_path / "library.sqlite") as library:
        fill(library)
        event.listen(library.engine, "before_cursor_execute", capture)
        with library.session() as session:
            result = run(session)
            statement, parameters = [(s, p) for s, p in sent if sent_by(s)][-1]
            rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return result, [row[3] for row in rows]


@pytest.mark.parametrize(
    ("bpm", "drives"),
    [((100.0, 101.0), "bpm"), ((100.0, 101.0), "bpm, a label without a bit"), ((100.0, 116.0), "labels")],
)
def test_sqlite_drives_a_filter_from_its_narrower_side(tmp_path, bpm, drives):
    # SQLite has no statistics: the code counts. A BPM range holding fewer tracks than the rarest label
    # is read from ix_tracks_bpm_order (covering): the labels are a test of the bits in its own entries
    # (migration 0014), or, for a label without a bit, of the labels' ids. A wider range is not.
    from musictagger.library.track_filter import TrackFilter, _bpm_range_is_narrower, filtered_ids

    track_filter = TrackFilter(genres=("House",), moods=("Chill",), bpm=bpm)

    def run(session):
        if drives == "bpm, a label without a bit":  # as a label past label_bits.CAPACITY is
            session.execute(delete(LabelBit).where(LabelBit.label == "Chill"))
        return _bpm_range_is_narrower(session, track_filter), filtered_ids(session, track_filter)

    def sent_by(statement):
        return statement.startswith("SELECT tracks.id") and "tracks.bpm >=" in statement

    (narrower, ids), plan = plan_of_what_ran(tmp_path, run, sent_by)
    assert narrower == drives.startswith("bpm") and ids
    assert plan[0].startswith(
        "SEARCH tracks USING COVERING INDEX ix_tracks_bpm_order"
        if drives.startswith("bpm")
        else "SEARCH tracks USING INTEGER"
    )
    label_reads = sum("COVERING INDEX ix_track_labels_by_label" in step for step in plan)
    assert label_reads == (0 if drives == "bpm" else 2)
    assert (
        (len(plan) == 2 and plan[1] == "USE TEMP B-TREE FOR ORDER BY") if drives == "bpm" else len(plan) > 2
    ), plan


@pytest.mark.parametrize("column", ["path", "bpm", "title", "confidence", "key"])
def test_the_table_reads_its_ids_in_chunks_and_in_order(filled, monkeypatch, column):
    # filtered_ids reads ID_CHUNK ids at a time (so the GUI thread gets the GIL between chunks): the same
    # ids in the same order as one read of the whole ordered statement.
    from musictagger.library import track_filter
    from musictagger.library.track_filter import SortKey, TrackFilter, filtered_ids

    sort = SortKey(column, descending=column == "bpm")
    with filled.session() as session:
        whole = filtered_ids(session, TrackFilter(), sort)
        monkeypatch.setattr(track_filter, "ID_CHUNK", 7)
        assert filtered_ids(session, TrackFilter(), sort) == whole
        assert filtered_ids(session, TrackFilter(text="title 1"), sort) == [
            i for i in whole if i in set(filtered_ids(session, TrackFilter(text="title 1")))
        ]
    assert len(whole) == 108 and len(whole) > 7 * 15


def test_sqlite_merges_the_labels_of_a_filter_from_the_index(tmp_path):
    # The statement the table's filter sends (captured, as bench_million does), planned by SQLite: each
    # label's tracks read in id order from ix_track_labels_by_label and merged, no temporary B-tree each.
    from musictagger.library.track_filter import TrackFilter, filtered_ids

    track_filter = TrackFilter(genres=("House",), moods=("Chill",), bpm=(100.0, 116.0))
    ids, steps = plan_of_what_ran(
        tmp_path,
        lambda session: filtered_ids(session, track_filter),
        lambda statement: "INTERSECT" in statement,
    )
    plan = "\n".join(steps)
    assert ids  # the filter matched tracks: the plan is of a query that does something
    assert "MERGE (INTERSECT)" in plan
    assert plan.count("COVERING INDEX ix_track_labels_by_label") == 2


@pytest.mark.parametrize("column", ["path", "title", "artist", "album", "bpm"])
def test_sqlite_reads_the_tables_ids_in_order_from_an_index(tmp_path, column):
    # The app's table asks for the id of every present track in its sort order (library/track_filter.py): on a
    # million tracks that is one index read, not a sort (migrations 0006 and 0013; docs/scale.md).
    from musictagger.library.track_filter import SortKey, TrackFilter, filtered_ids

    ids, plan = plan_of_what_ran(
        tmp_path, lambda session: filtered_ids(session, TrackFilter(), SortKey(column))
    )
    assert len(ids) == 108  # every present track of the fixture
    assert plan == [f"SCAN tracks USING COVERING INDEX ix_tracks_{column}_order"]
