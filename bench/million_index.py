"""A synthetic library index of N tracks, written through the real schema, for bench_million.py.

The index is created by ``open_library`` (the shipped tables, indexes and migrations), then filled in bulk
with rows shaped as the scanner, the store and labelling write them: nested ``artist/album`` folders with
non-ASCII names, tags copied out of ``file_tags``, duration, energy/valence, BPM and key with their
confidences (a few without, with the estimator's reason), one sampled MSD_musicnn analysis per analysed
track (50 scores, a float16 taggram of 12 patches, a float32 200-d embedding), ranked labels of every
category with ``confident`` as labelling sets it, reviews for 3 % and written journal entries for 2 % of
the tracks, a few missing and unreadable files. Deterministic (one seed).

SQLite gets one ``executemany`` per table and chunk; PostgreSQL gets ``COPY … FROM STDIN``. A ``meta`` row
(``FILLED_KEY``) records the filled size, so the next run reuses the index.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Table, select

from musictagger.keys import ALL_KEYS
from musictagger.library import label_bits
from musictagger.library.db import Library
from musictagger.library.schema import Analysis, Meta, Track, TrackLabel, TrackReview, WriteBatch, WriteEntry

FILLED_KEY = "bench_million_tracks"
SEED = 15
CHUNK = 25_000
TRACKS_PER_ALBUM = 11
ALBUMS_PER_ARTIST = 3
EMBEDDING_DIM = 200
SAMPLED_PATCHES = 12
MODEL = "MSD_musicnn"
# Syllables of names: mostly ASCII, with the accents, ligatures, scripts and widths real libraries hold.
SYLLABLES = [
    "ka",
    "ri",
    "mo",
    "la",
    "sen",
    "to",
    "vi",
    "na",
    "do",
    "re",
    "mi",
    "el",
    "an",
    "ber",
    "lin",
    "son",
    "dra",
    "ko",
    "ta",
    "pe",
    "ru",
    "sa",
    "ne",
    "ol",
    "ga",
    "mö",
    "lé",
    "ñá",
    "ßo",
    "çe",
    "ør",
    "øy",
    "ås",
    "zé",
    "пу",
    "шк",
    "ин",
    "東",
    "京",
    "ソ",
    "ニ",
    "ック",
    "beyoncé",
    "mötley",
    "ｆｕｌｌ",
    "ﬁ",
]
WORDS = [
    "love",
    "night",
    "dance",
    "fire",
    "heart",
    "dream",
    "city",
    "light",
    "summer",
    "rain",
    "blue",
    "gold",
    "midnight",
    "shadow",
    "river",
    "wild",
    "soul",
    "sky",
    "moon",
    "sun",
    "road",
    "home",
    "girl",
    "boy",
    "time",
    "world",
    "electric",
    "deep",
    "house",
    "funk",
    "groove",
    "fever",
    "paradise",
    "été",
    "amour",
    "corazón",
    "noche",
    "straße",
    "träume",
    "été",
    "café",
    "señorita",
    "jóvenes",
    "ночь",
    "любовь",
    "夜",
    "愛",
]
FORMATS = (("mp3", "mp3", "mp3"), ("flac", "flac", "flac"), ("m4a", "mp4", "aac"), ("ogg", "ogg", "vorbis"))
# Labels per category as labelling writes them: every canonical label at LABEL_FLOOR or above, ranked.
LABELS = {
    "genre": ("Electronic", "Rock", "Pop", "Hip-Hop", "R&B", "Jazz", "Classical", "Country", "Folk",
              "Blues", "Reggae", "Latin"),
    "style": ("House", "Techno", "Electro", "Dance", "Ambient", "Metal", "Punk", "Indie", "Soul", "Funk",
              "Disco", "Drum & Bass", "Trance", "Dubstep", "Trap"),
    "mood": ("Happy", "Euphoric", "Dark", "Aggressive", "Melancholic", "Chill", "Romantic", "Party"),
    "descriptor": ("Easy Listening", "Mellow", "Beautiful", "Sexy", "Catchy", "Slow"),
    "era": ("60s", "70s", "80s", "90s", "00s", "Oldies"),
    "instrument/voice": ("Female Vocals", "Male Vocals", "Vocals", "Instrumental", "Acoustic", "Guitar"),
}  # fmt: skip
LABELS_KEPT = {"genre": 3, "style": 3, "mood": 3, "descriptor": 1, "era": 1, "instrument/voice": 2}
CONFIDENT_AT = {"genre": 0.45, "style": 0.3, "mood": 0.45}  # calibrated thresholds; style: STYLE_HINT
KEY_NAMES = [key.musical for key in ALL_KEYS]
EPOCH = datetime(2026, 1, 5, 12, 0, 0, 1000, tzinfo=UTC).replace(tzinfo=None)


def _msd_tags() -> list[str]:
    card = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", MODEL, "card.json")
    with open(card, encoding="utf-8") as f:
        return list(json.load(f)["labels"])


def filled_size(library: Library) -> int | None:
    with library.session() as session:
        value = session.scalar(select(Meta.value).where(Meta.key == FILLED_KEY))
    return int(value) if value is not None else None


def fill(library: Library, n_tracks: int, *, log=print) -> dict[str, float]:
    """Fill an empty index with ``n_tracks`` synthetic tracks; returns seconds per table."""
    dialect = library.engine.dialect.name
    writer = _PostgresWriter(library) if dialect == "postgresql" else _SqliteWriter(library)
    rng = np.random.default_rng(SEED)
    tags = _msd_tags()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    # The label-bit triggers would update a track row per confident label (and on PostgreSQL leave a dead
    # tuple each time): off while loading, the bits made once at the end as migration 0014 makes them.
    with library.engine.begin() as connection:
        label_bits.drop_triggers(connection)
    try:
        for start in range(0, n_tracks, CHUNK):
            chunk = _Chunk(rng, start, min(CHUNK, n_tracks - start), tags)
            for table, rows in chunk.tables():
                t0 = time.perf_counter()
                writer.write(table, rows)
                seconds[table.name] = seconds.get(table.name, 0.0) + time.perf_counter() - t0
            writer.commit()
            done = start + chunk.n
            if done % 100_000 < CHUNK:
                log(f"  filled {done:,} tracks in {time.perf_counter() - started:.0f} s")
        writer.write(Meta.__table__, [(FILLED_KEY, str(n_tracks))])
        writer.commit()
        t0 = time.perf_counter()
        with library.engine.begin() as connection:
            label_bits.fill(connection)
            label_bits.create_triggers(connection)
        seconds["label_bits"] = time.perf_counter() - t0
        log(f"  label bits in {seconds['label_bits']:.0f} s")
        writer.finish()
    finally:
        writer.close()
    seconds["total"] = time.perf_counter() - started
    return seconds


class _Chunk:
    """``n`` consecutive tracks (ids ``start + 1`` …) and every row that hangs off them."""

    def __init__(self, rng: np.random.Generator, start: int, n: int, tags: list[str]):
        self.rng, self.start, self.n, self.tags = rng, start, n, tags
        self.ids = np.arange(start + 1, start + n + 1)
        # Walk order: ids follow the paths, as the scanner stores them.
        self.track_number = (self.ids - 1) % TRACKS_PER_ALBUM + 1
        self.album_number = (self.ids - 1) // TRACKS_PER_ALBUM
        self.artist_number = self.album_number // ALBUMS_PER_ARTIST
        self.missing = rng.random(n) < 0.005
        self.failed = rng.random(n) < 0.002
        self.analysed = ~self.failed & (rng.random(n) < 0.97)
        raw = rng.bytes(20 * n)
        self.fingerprints = [None if self.failed[i] else raw[20 * i : 20 * i + 20].hex() for i in range(n)]
        self.title_words = rng.integers(0, len(WORDS), (n, 3))
        self.title_length = rng.integers(1, 4, n)

    def tables(self) -> Iterator[tuple[Table, list[tuple]]]:
        yield Track.__table__, self._tracks()
        yield Analysis.__table__, self._analyses()
        yield TrackLabel.__table__, self._labels()
        yield TrackReview.__table__, self._reviews()
        yield from self._journal()

    def _tracks(self) -> list[tuple]:
        rng, n = self.rng, self.n
        duration = rng.gamma(9.0, 30.0, n) + 30.0
        energy = np.clip(rng.normal(5.5, 1.8, n), 1, 10)
        valence = np.clip(rng.normal(0.0, 0.45, n), -1, 1)
        bpm = np.round(rng.uniform(70, 180, n), 2)
        has_bpm = rng.random(n) > 0.03
        has_key = rng.random(n) > 0.04
        keys = rng.integers(0, len(KEY_NAMES), n)
        bpm_conf, key_conf = rng.random(n), rng.random(n)
        sizes = (duration * rng.uniform(16_000, 120_000, n)).astype(np.int64)
        mtimes = 1_600_000_000_000_000_000 + rng.integers(0, 10**17, n)
        formats = rng.integers(0, len(FORMATS), n)
        no_title = rng.random(n) < 0.03
        rows = []
        for i in range(n):
            artist = _name(int(self.artist_number[i]), 2, "artist")
            album = _name(int(self.album_number[i]), 3, "album")
            year = 1960 + int(self.album_number[i] % 64)
            title = " ".join(WORDS[w] for w in self.title_words[i, : self.title_length[i]]).title()
            ext, container, codec = FORMATS[formats[i]]
            folder = f"/srv/music/{_initial(artist)}/{artist}/{year} - {album}"
            path = f"{folder}/{self.track_number[i]:02d} - {title}.{ext}"
            file_tags = {"title": [title], "artist": [artist], "album": [album], "date": [str(year)],
                         "tracknumber": [str(self.track_number[i])]}  # fmt: skip
            if no_title[i]:
                file_tags.pop("title")
            analysed, failed = bool(self.analysed[i]), bool(self.failed[i])
            rows.append(
                (
                    int(self.ids[i]),
                    path.encode("utf-8"),
                    path,
                    folder,
                    int(sizes[i]),
                    int(mtimes[i]),
                    self.fingerprints[i],
                    None if failed else float(duration[i]),
                    container,
                    codec,
                    json.dumps(file_tags, ensure_ascii=False),
                    None if no_title[i] else title,
                    artist,
                    album,
                    "cannot decode: invalid data found when processing input" if failed else None,
                    float(energy[i]) if analysed else None,
                    float(valence[i]) if analysed else None,
                    float(bpm[i]) if analysed and has_bpm[i] else None,
                    float(bpm_conf[i]) if analysed and has_bpm[i] else None,
                    None if not analysed or has_bpm[i] else "no steady beat",
                    KEY_NAMES[keys[i]] if analysed and has_key[i] else None,
                    float(key_conf[i]) if analysed and has_key[i] else None,
                    None if not analysed or has_key[i] else "no pitched content",
                    "percival/edma/70-180" if analysed else None,
                    self.fingerprints[i] if analysed else None,
                    EPOCH + timedelta(seconds=int(self.ids[i])),
                    EPOCH + timedelta(days=30) if self.missing[i] else None,
                    None,  # search_text: the database's trigger folds it (library/search_text.py)
                    0,  # label_bits: the labels' trigger sets them (library/label_bits.py)
                )
            )
        return rows

    def _analyses(self) -> list[tuple]:
        rng = self.rng
        ids = self.ids[self.analysed]
        fingerprints = [f for f, analysed in zip(self.fingerprints, self.analysed, strict=True) if analysed]
        m = len(ids)
        scores = rng.beta(0.6, 3.0, (m, len(self.tags)))
        noise = rng.normal(0, 0.05, (m, SAMPLED_PATCHES, len(self.tags))).astype(np.float32)
        taggrams = np.clip(scores[:, None, :] + noise, 0, 1).astype(np.float16)
        # {raw tag: probability} as json.dumps writes it, formatted in one go per row.
        template = "{" + ", ".join(f"{json.dumps(tag)}: %s" for tag in self.tags) + "}"
        score_texts = _SCORE_TEXT[np.round(scores * 10_000).astype(np.int64)].tolist()
        embeddings = rng.normal(0, 1, (m, EMBEDDING_DIM)).astype(np.float32)
        starts = np.arange(SAMPLED_PATCHES, dtype=np.float32) * 20.0
        rows = []
        for j in range(m):
            track_id = int(ids[j])
            rows.append(
                (
                    track_id,
                    track_id,
                    MODEL,
                    "1.0",
                    fingerprints[j],
                    template % tuple(score_texts[j]),
                    3.0,
                    taggrams[j].tobytes(),
                    SAMPLED_PATCHES,
                    embeddings[j].tobytes(),
                    EPOCH + timedelta(seconds=track_id, hours=1),
                    True,
                    starts.tobytes(),
                )
            )
        return rows

    def _labels(self) -> list[tuple]:
        rng = self.rng
        ids = self.ids[self.analysed]
        m = len(ids)
        columns: list[list] = [[], [], [], [], [], []]  # track id, category, label, score, rank, confident
        for category, names in LABELS.items():
            kept = LABELS_KEPT[category]
            # A skewed pick without replacement (Gumbel top-k), as real libraries are: a few genres dominate.
            keys = np.log(_skew(len(names))) + rng.gumbel(size=(m, len(names)))
            chosen = np.argsort(-keys, axis=1)[:, :kept]
            scores = -np.sort(-rng.uniform(0.05, 0.95, (m, kept)), axis=1)
            threshold = CONFIDENT_AT.get(category, 2.0)
            columns[0].extend(np.repeat(ids, kept).tolist())
            columns[1].extend([category] * (m * kept))
            columns[2].extend(np.asarray(names, dtype=object)[chosen].ravel().tolist())
            columns[3].extend(scores.ravel().tolist())
            columns[4].extend(np.tile(np.arange(1, kept + 1), m).tolist())
            columns[5].extend((scores >= threshold).ravel().tolist())
        first_id = self.start * sum(LABELS_KEPT.values()) + 1
        return [(first_id + k, *row) for k, row in enumerate(zip(*columns, strict=True))]

    def _reviews(self) -> list[tuple]:
        picked = self.ids[self.analysed & (self.rng.random(self.n) < 0.03)]
        rows = []
        for track_id in picked:
            track_id = int(track_id)
            status = ("accepted", "edited", "rejected")[track_id % 3]
            values = None if status != "edited" else json.dumps(["House", "Electronic"])
            rows.append((track_id, track_id, "genre", values, status, EPOCH + timedelta(days=2)))
        return rows

    def _journal(self) -> Iterator[tuple[Table, list[tuple]]]:
        written = self.ids[self.analysed & (self.rng.random(self.n) < 0.02)]
        batch_id = self.start // CHUNK + 1
        when = EPOCH + timedelta(days=3, seconds=batch_id)
        yield WriteBatch.__table__, [(batch_id, when, f"bench batch {batch_id}", "{}", None)]
        rows = []
        for track_id in written:
            track_id = int(track_id)
            old, new = json.dumps({"genre": []}), json.dumps({"genre": ["House"]})
            path = f"(track {track_id})"
            rows.append((track_id, batch_id, track_id, path.encode(), path, old, new, "written", None, when))
        yield WriteEntry.__table__, rows


# Scores to four decimals, as text: formatting 50 floats per row was most of the fill's Python time.
_SCORE_TEXT = np.asarray([repr(k / 10_000) for k in range(10_001)], dtype=object)


def _skew(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    return weights / weights.sum()


@functools.lru_cache(maxsize=4096)
def _name(number: int, syllables: int, salt: str) -> str:
    """A stable made-up name: one to three words of syllables, capitalised."""
    rng = np.random.default_rng((int(number) * 7919 + len(salt)) & 0xFFFFFFFF)
    words = []
    for _ in range(1 + int(rng.integers(0, 3))):
        picked = rng.integers(0, len(SYLLABLES), int(rng.integers(1, syllables + 1)) + 1)
        words.append("".join(SYLLABLES[p] for p in picked).capitalize())
    return " ".join(words)


def _initial(artist: str) -> str:
    first = artist[:1].upper()
    return first if first.isascii() and first.isalpha() else "#"


class _SqliteWriter:
    """Plain ``executemany`` on the driver's connection in one transaction per chunk (sync off while
    filling: a throwaway file, rebuilt with --rebuild)."""

    def __init__(self, library: Library):
        self.connection = library.engine.raw_connection()
        self.cursor = self.connection.cursor()
        self.cursor.execute("PRAGMA synchronous=OFF")
        self.cursor.execute("BEGIN")

    def write(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = [column.name for column in table.columns]
        rows = [tuple(_sqlite_value(v) for v in row) for row in rows]
        marks = ", ".join("?" for _ in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        self.cursor.executemany(f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})", rows)

    def commit(self) -> None:
        self.cursor.execute("COMMIT")
        self.cursor.execute("BEGIN")

    def finish(self) -> None:
        self.cursor.execute("COMMIT")
        self.cursor.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.connection.close()


def _sqlite_value(value):
    if isinstance(value, datetime):  # SQLAlchemy's SQLite DateTime storage format
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class _PostgresWriter:
    """``COPY table (columns) FROM STDIN`` per table and chunk; sequences moved past the ids after."""

    def __init__(self, library: Library):
        self.connection = library.engine.raw_connection()
        self.cursor = self.connection.cursor()

    def write(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = ", ".join(f'"{column.name}"' for column in table.columns)
        with self.cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.connection.commit()

    def finish(self) -> None:
        for table in (
            "tracks",
            "analyses",
            "track_labels",
            "track_reviews",
            "write_batches",
            "write_entries",
        ):
            self.cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        self.connection.commit()
        # What autovacuum would do after a bulk load: the planner's statistics. VACUUM runs outside a
        # transaction: autocommit on the driver's connection (the pool's proxy would only keep the flag).
        self.connection.driver_connection.autocommit = True
        self.cursor.execute("VACUUM ANALYZE")
        # Back as the pool hands connections out: a later session's server-side cursor (the table's ids,
        # read in chunks) needs a transaction, which an autocommit connection never opens.
        self.connection.driver_connection.autocommit = False

    def close(self) -> None:
        self.connection.close()
