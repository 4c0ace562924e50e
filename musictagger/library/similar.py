"""The tracks that sound most like a given one: cosine similarity of the stored musicnn embeddings.

A track's embedding is each model's stored embedding (``analyses.embedding``, the mean 200-d penultimate
features) scaled to unit length, then concatenated and scaled by 1/sqrt(number of models), so every row
has unit length and the dot product of two rows is their cosine: the mean of the two models' cosines.
Normalising per model gives each model an equal say whatever its features' scale (MSD_musicnn's are
about 1.2-1.4 times MTT_musicnn's). On the labelled sets of ``../shared/eval`` (bench/bench_similar.py
``--quality``: leave-one-out share of a clip's 5 nearest clips with its label) it is the best of the forms
tried or within 0.003 of it, if narrowly: gtzan_mini genres 0.595 (plain concatenation 0.590, MSD alone
0.590, MTT alone 0.500, centred on the set's mean 0.580), emotify genres 0.732 (0.726, 0.711, 0.721,
0.730), mer4q mood quadrants 0.642 (0.629, 0.627, 0.618, 0.645). Both models together matter more than
how they are joined; unlike centring, per-model normalisation needs no statistics of the library, so a
small library ranks as a large one would.

The library's embeddings are one float32 matrix of unit rows (``SimilarityIndex``), built once from the
index and then kept up to date per process (``similarity_index``, see "the per-process cache" below); a
query is one matrix-vector product and a partition. A track counts when it is present (not missing,
readable) and has a current analysis (made from its present audio) by every model; the same recording in
another file (same audio fingerprint) is never suggested for itself.

Optionally the neighbours are kept to a compatible key (the Camelot rule of keys.py, or the same key) and
to a tempo within a tolerance (6 % by default, what a DJ's pitch fader covers); half and double tempo
count as the same tempo by default, because a DJ mixes an 87 BPM track into a 174 BPM one.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from musictagger.errors import MusictaggerError
from musictagger.keys import ALL_KEYS, compatible_keys, try_parse_key
from musictagger.library.id_chunks import ID_CHUNK, id_chunks
from musictagger.library.schema import Analysis, Track

__all__ = [
    "DEFAULT_BPM_TOLERANCE",
    "KEY_RULES",
    "SIMILARITY_MODELS",
    "KeyRule",
    "Neighbour",
    "SimilarityError",
    "SimilarityIndex",
    "build_index",
    "nearest_tracks",
    "similarity_index",
    "track_vectors",
]

# The taggers whose embeddings the shipped heads read; a track needs an analysis by each.
SIMILARITY_MODELS: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn")
DEFAULT_BPM_TOLERANCE = 0.06
# "compatible": the Camelot rule (same key, one step round the wheel, relative major/minor); "same": the
# key itself.
KeyRule = Literal["same", "compatible"]
KEY_RULES: tuple[KeyRule, ...] = ("same", "compatible")
_NO_KEY = -1
_KEY_CODES = {key: code for code, key in enumerate(ALL_KEYS)}


class SimilarityError(MusictaggerError):
    """A query that cannot be answered: the track is not analysed, or lacks the tempo or key asked for."""


@dataclass(frozen=True)
class Neighbour:
    track_id: int
    similarity: float  # cosine of the two tracks' embeddings, -1..1


def track_vectors(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """The rows of the index from each model's embeddings ``(n, dim_m)`` in model order: per-model unit
    length, concatenated, unit length overall (``(n, sum of dims)``, float32). A zero embedding stays
    zero (similar to nothing)."""
    embeddings = [np.asarray(m, dtype=np.float32) for m in embeddings]
    n = len(embeddings[0]) if embeddings else 0
    out = np.zeros((n, sum(m.shape[1] for m in embeddings)), dtype=np.float32)
    scale = np.float32(np.sqrt(len(embeddings)))
    column = 0
    for matrix in embeddings:
        norms = np.linalg.norm(matrix, axis=1, keepdims=True) * scale
        block = out[:, column : column + matrix.shape[1]]
        np.divide(matrix, norms, out=block, where=norms > 0)
        column += matrix.shape[1]
    return out


@dataclass(frozen=True)
class SimilarityIndex:
    """The library's analysed, present tracks as unit rows; row i is ``track_ids[i]`` (ascending)."""

    models: tuple[str, ...]
    track_ids: np.ndarray  # int64 (n,)
    matrix: np.ndarray  # float32 (n, dim), unit rows
    recordings: np.ndarray  # int64 (n,): the audio fingerprint's hash (0 when unknown)
    bpm: np.ndarray  # float32 (n,), NaN when unknown
    keys: np.ndarray  # int8 (n,): index into keys.ALL_KEYS, -1 when unknown
    durations: np.ndarray  # float32 (n,) seconds, NaN when unknown (library/recordings.py reads it)

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def nbytes(self) -> int:
        arrays = (self.track_ids, self.matrix, self.recordings, self.bpm, self.keys, self.durations)
        return sum(a.nbytes for a in arrays)

    def row_of(self, track_id: int) -> int | None:
        row = int(np.searchsorted(self.track_ids, track_id))
        return row if row < len(self.track_ids) and self.track_ids[row] == track_id else None

    def nearest(
        self,
        track_id: int,
        limit: int = 20,
        *,
        key_rule: KeyRule | None = None,
        bpm_tolerance: float | None = None,
        half_double: bool = True,
        among: Collection[int] | None = None,
        exclude: Collection[int] = (),
    ) -> list[Neighbour]:
        """The ``limit`` tracks most similar to ``track_id``, best first (ties by track id), the track
        itself and its byte-identical copies left out, and the track ids ``exclude`` (its copies in other
        encodings: library/recordings.py); optionally only those in a ``key_rule`` key, within
        ``bpm_tolerance`` (a fraction: 0.06 = ±6 %) of its tempo or of half or double it, and among the
        track ids ``among`` (a search's result)."""
        row = self.row_of(track_id)
        if row is None:
            raise SimilarityError(
                f"track {track_id} has no current analysis by {', '.join(self.models)} (or is missing)"
            )
        allowed = (
            self.recordings != self.recordings[row] if self.recordings[row] else np.ones(len(self), bool)
        )
        allowed[row] = False
        if exclude:
            allowed &= ~np.isin(self.track_ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
        if key_rule is not None:
            allowed &= self._key_mask(row, key_rule)
        if bpm_tolerance is not None:
            allowed &= self._tempo_mask(row, bpm_tolerance, half_double)
        if among is not None:
            allowed &= np.isin(self.track_ids, np.fromiter(among, dtype=np.int64, count=len(among)))
        candidates = np.flatnonzero(allowed)
        if limit <= 0 or not len(candidates):
            return []
        # einsum, not BLAS: a matrix-vector product is bound by memory, and numpy's own loop on one thread
        # ran it in half the CPU time of OpenBLAS's threads, which wait on each other on a busy machine.
        query = self.matrix[row]
        if 3 * len(candidates) < len(self):  # a narrow constraint: gathering its rows beats a full pass
            scores = np.einsum("ij,j->i", self.matrix[candidates], query)
        else:
            scores = np.einsum("ij,j->i", self.matrix, query)[candidates]
        if len(candidates) > limit:
            # The limit-th best score; every candidate tying with it stays, so ties go by track id.
            threshold = -np.partition(-scores, limit - 1)[limit - 1]
            keep = scores >= threshold
            candidates, scores = candidates[keep], scores[keep]
        order = np.lexsort((self.track_ids[candidates], -scores))[:limit]
        return [Neighbour(int(self.track_ids[candidates[i]]), float(scores[i])) for i in order]

    def _key_mask(self, row: int, rule: KeyRule) -> np.ndarray:
        if rule not in KEY_RULES:
            raise ValueError(f"unknown key rule {rule!r}; one of {', '.join(KEY_RULES)}")
        code = int(self.keys[row])
        if code == _NO_KEY:
            raise SimilarityError("this track has no key (not estimated yet, or its audio has no clear key)")
        key = ALL_KEYS[code]
        wanted = np.zeros(len(ALL_KEYS) + 1, dtype=bool)  # the last entry answers for -1 (no key)
        wanted[[_KEY_CODES[k] for k in ([key] if rule == "same" else compatible_keys(key))]] = True
        return wanted[self.keys]

    def _tempo_mask(self, row: int, tolerance: float, half_double: bool) -> np.ndarray:
        if not 0 <= tolerance < 1:
            raise ValueError(f"a BPM tolerance is a fraction in [0, 1), not {tolerance}")
        bpm = float(self.bpm[row])
        if not np.isfinite(bpm) or bpm <= 0:
            raise SimilarityError(
                "this track has no BPM (not estimated yet, or its audio has no steady beat)"
            )
        factors = (1.0, 0.5, 2.0) if half_double else (1.0,)
        with np.errstate(invalid="ignore"):  # NaN (no BPM) compares False: never compatible
            masks = [np.abs(self.bpm * factor - bpm) <= tolerance * bpm for factor in factors]
        return np.logical_or.reduce(masks)


# -- building the index from the library -----------------------------------------------------------------

_ROWS_PER_BLOCK = 8192  # rows gathered before they become one numpy block


class _Embeddings:
    """One model's stored embeddings as they stream in: (track ids, float32 rows) in blocks."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.blobs: list[bytes] = []
        self.blocks: list[tuple[np.ndarray, np.ndarray]] = []
        self.size: int | None = None  # bytes per embedding: the first row's (a model's never changes)

    def add(self, track_id: int, blob: bytes) -> None:
        if self.size is None:
            self.size = len(blob)
        if len(blob) != self.size or not self.size:
            return  # a damaged row: the track is left out, as if not analysed
        self.ids.append(track_id)
        self.blobs.append(blob)
        if len(self.ids) >= _ROWS_PER_BLOCK:
            self._block()

    def _block(self) -> None:
        if self.ids:
            rows = np.frombuffer(b"".join(self.blobs), dtype=np.float32).reshape(len(self.ids), -1)
            self.blocks.append((np.array(self.ids, dtype=np.int64), rows))
            self.ids, self.blobs = [], []

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self._block()
        if not self.blocks:
            return np.zeros(0, dtype=np.int64), np.zeros((0, (self.size or 0) // 4), dtype=np.float32)
        ids = np.concatenate([b[0] for b in self.blocks])
        rows = np.concatenate([b[1] for b in self.blocks]) if len(self.blocks) > 1 else self.blocks[0][1]
        self.blocks = []
        if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            ids, rows = ids[order], rows[order]
        return ids, rows


def _in_chunks(ids: np.ndarray | None) -> list[np.ndarray | None]:
    if ids is None:
        return [None]
    return list(id_chunks(ids))


def _read_vectors(
    session: Session, models: tuple[str, ...], track_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The index rows of every comparable track (or of those among ``track_ids``): ids ascending."""
    query = (
        select(Analysis.track_id, Analysis.model, Analysis.embedding)
        .join(Track, Track.id == Analysis.track_id)
        .where(
            Track.missing_since.is_(None),
            Track.error.is_(None),
            Analysis.fingerprint.is_not_distinct_from(Track.fingerprint),
            Analysis.model.in_(models),
        )
    )
    found = {model: _Embeddings() for model in models}
    connection = session.connection()  # Core rows: no ORM work per row (200,000 rows at 100k tracks)
    for chunk in _in_chunks(track_ids):
        statement = query if chunk is None else query.where(Analysis.track_id.in_(chunk.tolist()))
        for track_id, model, blob in connection.execute(statement):
            found[model].add(track_id, blob)
    per_model = [found[model].arrays() for model in models]
    ids = per_model[0][0]
    for other, _ in per_model[1:]:
        ids = np.intersect1d(ids, other, assume_unique=True)
    aligned = []
    for model_ids, rows in per_model:
        aligned.append(rows if len(model_ids) == len(ids) else rows[np.searchsorted(model_ids, ids)])
        del rows
    return ids, track_vectors(aligned)


def _read_facts(
    session: Session, track_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per track of ``track_ids`` (ascending): its recording (fingerprint hash), BPM, key code and
    duration."""
    n = len(track_ids)
    recordings = np.zeros(n, dtype=np.int64)
    bpm = np.full(n, np.nan, dtype=np.float32)
    keys = np.full(n, _NO_KEY, dtype=np.int8)
    durations = np.full(n, np.nan, dtype=np.float32)
    query = select(Track.id, Track.fingerprint, Track.bpm, Track.key, Track.duration_s)
    key_codes: dict[str, int] = {}
    connection = session.connection()
    whole = n > ID_CHUNK * 20  # many tracks: one pass over the table beats thousands of IN lists
    for chunk in _in_chunks(None if whole else track_ids):
        statement = query if chunk is None else query.where(Track.id.in_(chunk.tolist()))
        for track_id, fingerprint, tempo, key_text, duration in connection.execute(statement):
            i = int(np.searchsorted(track_ids, track_id))
            if i >= n or track_ids[i] != track_id:
                continue
            recordings[i] = _recording(fingerprint)
            if tempo is not None:
                bpm[i] = tempo
            if duration is not None:
                durations[i] = duration
            if key_text:
                if key_text not in key_codes:
                    parsed = try_parse_key(key_text)
                    key_codes[key_text] = _KEY_CODES[parsed] if parsed is not None else _NO_KEY
                keys[i] = key_codes[key_text]
    return recordings, bpm, keys, durations


def _recording(fingerprint: str | None) -> int:
    """The fingerprint as a 64-bit number (0: unknown); the index lives in one process, so str's hash
    does (two different recordings share one with odds of 1 in 2**64 per pair)."""
    return (hash(fingerprint) or 1) if fingerprint else 0


def build_index(session: Session, models: Sequence[str] = SIMILARITY_MODELS) -> SimilarityIndex:
    """Read every present, readable track's current embeddings by ``models`` into one index."""
    models = tuple(models)
    if not models:
        raise ValueError("similarity needs at least one model")
    track_ids, matrix = _read_vectors(session, models)
    return SimilarityIndex(models, track_ids, matrix, *_read_facts(session, track_ids))


def _refreshed(session: Session, index: SimilarityIndex, changed: np.ndarray) -> SimilarityIndex | None:
    """``index`` with the tracks ``changed`` read again (updated, added or left out), or None when their
    rows do not fit it; a new index: a query may still be reading the old one on another thread."""
    new_ids, new_rows = _read_vectors(session, index.models, changed)
    if len(new_ids) and new_rows.shape[1] != index.matrix.shape[1]:
        return None  # the first analyses, or a model whose embedding changed size: a rebuild
    before = np.isin(index.track_ids, changed)
    if not len(new_ids) and not before.any():
        return index  # new tracks not analysed yet (a scan's first commit): nothing in the index changes
    new_facts = _read_facts(session, new_ids)
    if before.sum() == len(new_ids) and np.isin(new_ids, index.track_ids).all():
        # The same tracks, read again (the usual case: analysed again, tempo and key added): one copy.
        rows = np.flatnonzero(before)
        matrix = index.matrix.copy()
        matrix[rows] = new_rows
        facts = [old.copy() for old in (index.recordings, index.bpm, index.keys, index.durations)]
        for old, new in zip(facts, new_facts, strict=True):
            old[rows] = new
        return SimilarityIndex(index.models, index.track_ids, matrix, *facts)
    keep = np.flatnonzero(~before)
    ids = np.concatenate([index.track_ids[keep], new_ids])
    order = np.argsort(ids, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    matrix = np.empty((len(ids), index.matrix.shape[1]), dtype=np.float32)
    for start in range(0, len(keep), _ROWS_PER_BLOCK):  # in blocks: no second full-size copy
        block = slice(start, min(start + _ROWS_PER_BLOCK, len(keep)))
        matrix[position[block]] = index.matrix[keep[block]]
    matrix[position[len(keep) :]] = new_rows
    old_facts = (index.recordings, index.bpm, index.keys, index.durations)
    facts = [np.concatenate([old[keep], new])[order] for old, new in zip(old_facts, new_facts, strict=True)]
    return SimilarityIndex(index.models, ids[order], matrix, *facts)


# -- the per-process cache -------------------------------------------------------------------------------
#
# Building reads every embedding (seconds at 100k tracks), so the index is kept and brought up to date
# instead. This process notes which tracks each commit touched (tracks or analyses rows, through the ORM:
# a new or repeated analysis, tempo and key, a file gone missing); a bulk statement on those tables (the
# scanner marking missing files, a folder removed) says "anything may have changed". Analyses another
# process added show as a larger max(analyses.id) (one index look-up per query). A query then reads again
# only the touched tracks, and rebuilds when it cannot tell which (or too many) changed. Not seen: a repeat
# analysis or a deletion made by another process at the same time (the app and a ``scan`` side by side);
# the next change here or a restart picks it up. One index is kept (the last library and models asked
# for): at 100k tracks it holds about 160 MB.

_lock = threading.Lock()
_generation = 0  # commits that touched tracks or analyses, in this process
_log: deque[tuple[int, frozenset[int] | None]] = deque(maxlen=512)  # (generation, track ids or None: any)
_CHANGED = "musictagger.similar.changed"
_SEEN = "musictagger.similar.generation"
_ANY = None


@dataclass(frozen=True)
class _Cached:
    library: str
    generation: int
    max_analysis_id: int
    index: SimilarityIndex


_cached: _Cached | None = None


def _note(session: Session, track_ids: set[int] | None) -> None:
    if track_ids is _ANY:
        session.info[_CHANGED] = _ANY
        return
    noted = session.info.setdefault(_CHANGED, set())
    if noted is not _ANY:
        noted |= track_ids


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context) -> None:
    touched = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Track):
            touched.add(obj.id)
        elif isinstance(obj, Analysis):
            touched.add(obj.track_id if obj.track_id is not None else obj.track.id)
    if touched:
        _note(session, touched)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and {m.class_ for m in state.all_mappers} & {
        Track,
        Analysis,
    }:
        _note(state.session, _ANY)


@event.listens_for(Session, "after_begin")
def _began(session: Session, _transaction, _connection) -> None:
    # What this transaction can see is at least this new (a read transaction keeps its snapshot).
    with _lock:
        session.info[_SEEN] = _generation


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    global _generation
    if _CHANGED not in session.info:
        return
    touched = session.info.pop(_CHANGED)
    with _lock:
        _generation += 1
        _log.append((_generation, None if touched is _ANY else frozenset(touched)))


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _changed_since(generation: int, now: int) -> set[int] | None:
    """Track ids touched by this process's commits after ``generation`` up to ``now``; None when a bulk
    change is among them or the log no longer reaches back that far."""
    with _lock:
        entries = [(g, ids) for g, ids in _log if generation < g <= now]
    if len(entries) != now - generation or any(ids is None for _, ids in entries):
        return None
    return set().union(*(ids for _, ids in entries))


def similarity_index(session: Session, models: Sequence[str] = SIMILARITY_MODELS) -> SimilarityIndex:
    """The library's index: built on first use, then brought up to date with what changed since."""
    global _cached
    models = tuple(models)
    max_analysis_id = session.scalar(select(func.max(Analysis.id))) or 0
    # This process's commits up to the session's transaction start: what it reads is at least as new, and
    # a commit after that makes the next query look again (a long read transaction keeps an old snapshot).
    generation = session.info.get(_SEEN, 0)
    library = str(session.get_bind().url)
    cached = _cached
    if cached is not None and (cached.library, cached.index.models) == (library, models):
        if (cached.generation, cached.max_analysis_id) == (generation, max_analysis_id):
            return cached.index
        index = _brought_up_to_date(session, cached, generation, max_analysis_id)
    else:
        index = None
    if index is None:
        index = build_index(session, models)
    with _lock:
        _cached = _Cached(library, generation, max_analysis_id, index)
    return index


def _brought_up_to_date(
    session: Session, cached: _Cached, generation: int, max_analysis_id: int
) -> SimilarityIndex | None:
    """The cached index with the tracks changed since read again; None when a rebuild is needed."""
    changed = _changed_since(cached.generation, generation)
    if changed is None or max_analysis_id < cached.max_analysis_id:
        return None
    if max_analysis_id > cached.max_analysis_id:  # analyses added, here or by another process
        added = select(Analysis.track_id).where(Analysis.id > cached.max_analysis_id)
        changed.update(session.scalars(added))
    if len(changed) > max(1000, len(cached.index) // 4):
        return None  # reading that many by id is slower than one pass
    if not changed:
        return cached.index
    return _refreshed(session, cached.index, np.array(sorted(changed), dtype=np.int64))


def nearest_tracks(
    session: Session,
    track_id: int,
    limit: int = 20,
    *,
    models: Sequence[str] = SIMILARITY_MODELS,
    key_rule: KeyRule | None = None,
    bpm_tolerance: float | None = None,
    half_double: bool = True,
    among: Collection[int] | None = None,
) -> list[Neighbour]:
    """``SimilarityIndex.nearest`` on the library's (cached) index."""
    index = similarity_index(session, models)
    return index.nearest(
        track_id,
        limit,
        key_rule=key_rule,
        bpm_tolerance=bpm_tolerance,
        half_double=half_double,
        among=among,
    )
