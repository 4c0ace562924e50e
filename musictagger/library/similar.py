"""The tracks that sound most like a given one: cosine similarity of the stored musicnn embeddings.

A track's embedding is each model's stored embedding (``analyses.embedding``, the mean 200-d penultimate
features) scaled to unit length, then concatenated and scaled by 1/sqrt(number of models), so every row
has unit length and the dot product of two rows is their cosine. Normalising per model first gives each
model an equal say: MSD_musicnn's and MTT_musicnn's features have different scales, and the plain
concatenation lets the larger one decide alone (bench/bench_similar.py ``--quality`` measures both on the
labelled sets in ``../shared/eval``).

The library's embeddings are one float32 matrix of unit rows (``SimilarityIndex``), built once from the
index and kept per process until the analyses or tracks change (``similarity_index``); a query is one
matrix-vector product and ``argpartition``. A track counts when it is present (not missing, readable) and
has a current analysis (made from its present audio) by every model; the same recording in another file
(same audio fingerprint) is never suggested for itself.

Optionally the neighbours are kept to a compatible key (the Camelot rule of keys.py, or the same key) and
to a tempo within a tolerance (6 % by default, what a DJ's pitch fader covers); half and double tempo
count as the same tempo by default, because a DJ mixes an 87 BPM track into a 174 BPM one.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import event, func, literal, select
from sqlalchemy.orm import ORMExecuteState, Session

from musictagger.errors import MusictaggerError
from musictagger.keys import ALL_KEYS, compatible_keys, try_parse_key
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
    parts = []
    for matrix in embeddings:
        matrix = np.asarray(matrix, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        parts.append(np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0))
    return np.hstack(parts) / np.float32(np.sqrt(len(parts)))


@dataclass(frozen=True)
class SimilarityIndex:
    """The library's analysed, present tracks as unit rows; row i is ``track_ids[i]`` (ascending)."""

    models: tuple[str, ...]
    track_ids: np.ndarray  # int64 (n,)
    matrix: np.ndarray  # float32 (n, dim), unit rows
    recordings: np.ndarray  # int64 (n,): the audio fingerprint's hash (0 when unknown)
    bpm: np.ndarray  # float32 (n,), NaN when unknown
    keys: np.ndarray  # int8 (n,): index into keys.ALL_KEYS, -1 when unknown

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.track_ids, self.matrix, self.recordings, self.bpm, self.keys))

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
    ) -> list[Neighbour]:
        """The ``limit`` tracks most similar to ``track_id``, best first (ties by track id), the track
        itself and its other copies left out; optionally only those in a ``key_rule`` key, within
        ``bpm_tolerance`` (a fraction: 0.06 = ±6 %) of its tempo or of half or double it, and among the
        track ids ``among`` (a search's result)."""
        row = self.row_of(track_id)
        if row is None:
            raise SimilarityError(
                f"track {track_id} has no current analysis by {', '.join(self.models)} (or is missing)"
            )
        similarity = self.matrix @ self.matrix[row]
        allowed = (
            self.recordings != self.recordings[row] if self.recordings[row] else np.ones(len(self), bool)
        )
        allowed[row] = False
        if key_rule is not None:
            allowed &= self._key_mask(row, key_rule)
        if bpm_tolerance is not None:
            allowed &= self._tempo_mask(row, bpm_tolerance, half_double)
        if among is not None:
            allowed &= np.isin(self.track_ids, np.fromiter(among, dtype=np.int64, count=len(among)))
        candidates = np.flatnonzero(allowed)
        if limit <= 0 or not len(candidates):
            return []
        scores = similarity[candidates]
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
            raise SimilarityError("this track has no key yet: analyse it for tempo and key first")
        key = ALL_KEYS[code]
        wanted = [key] if rule == "same" else list(compatible_keys(key))
        return np.isin(self.keys, [_KEY_CODES[k] for k in wanted])

    def _tempo_mask(self, row: int, tolerance: float, half_double: bool) -> np.ndarray:
        if not 0 <= tolerance < 1:
            raise ValueError(f"a BPM tolerance is a fraction in [0, 1), not {tolerance}")
        bpm = float(self.bpm[row])
        if not np.isfinite(bpm) or bpm <= 0:
            raise SimilarityError("this track has no BPM yet: analyse it for tempo and key first")
        factors = (1.0, 0.5, 2.0) if half_double else (1.0,)
        with np.errstate(invalid="ignore"):  # NaN (no BPM) compares False: never compatible
            masks = [np.abs(self.bpm * factor - bpm) <= tolerance * bpm for factor in factors]
        return np.logical_or.reduce(masks)


# -- building the index from the library -----------------------------------------------------------------


def _tempo_key_columns() -> tuple:
    """``tracks.bpm`` and ``tracks.key`` where the schema has them (the tempo/key stage adds them)."""
    bpm = getattr(Track, "bpm", None)
    key = getattr(Track, "key", None)
    return bpm, key


def build_index(session: Session, models: Sequence[str] = SIMILARITY_MODELS) -> SimilarityIndex:
    """Read every present, readable track's current embeddings by ``models`` into one index."""
    models = tuple(models)
    if not models:
        raise ValueError("similarity needs at least one model")
    current = (
        select(Analysis.track_id, Analysis.embedding)
        .join(Track, Track.id == Analysis.track_id)
        .where(
            Track.missing_since.is_(None),
            Track.error.is_(None),
            Analysis.fingerprint.is_not_distinct_from(Track.fingerprint),
        )
        .order_by(Analysis.track_id)
    )
    per_model: list[tuple[np.ndarray, np.ndarray]] = []
    for model in models:
        rows = session.execute(current.where(Analysis.model == model)).all()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        blobs = [r[1] for r in rows]
        dims = {len(b) for b in blobs}
        if len(dims) > 1:  # a model's embedding size never changes within one version; skip odd rows
            common = max(dims, key=lambda d: sum(len(b) == d for b in blobs))
            keep = np.fromiter((len(b) == common for b in blobs), dtype=bool, count=len(blobs))
            ids, blobs = ids[keep], [b for b in blobs if len(b) == common]
        dim = (len(blobs[0]) // 4) if blobs else 0
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
        per_model.append((ids, matrix))
    track_ids = per_model[0][0]
    for ids, _ in per_model[1:]:
        track_ids = np.intersect1d(track_ids, ids, assume_unique=True)
    matrix = track_vectors([m[np.searchsorted(ids, track_ids)] for ids, m in per_model])
    recordings, bpm, keys = _track_facts(session, track_ids)
    return SimilarityIndex(models, track_ids, np.ascontiguousarray(matrix), recordings, bpm, keys)


def _track_facts(session: Session, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per indexed track: its recording (fingerprint hash), BPM and key code."""
    n = len(track_ids)
    recordings = np.zeros(n, dtype=np.int64)
    bpm = np.full(n, np.nan, dtype=np.float32)
    keys = np.full(n, _NO_KEY, dtype=np.int8)
    if not n:
        return recordings, bpm, keys
    bpm_column, key_column = _tempo_key_columns()
    columns = [Track.id, Track.fingerprint]
    columns.append(bpm_column if bpm_column is not None else literal(None))
    columns.append(key_column if key_column is not None else literal(None))
    query = select(*columns).where(Track.missing_since.is_(None), Track.error.is_(None))
    key_codes: dict[str, int] = {}
    for track_id, fingerprint, tempo, key_text in session.execute(query):
        i = int(np.searchsorted(track_ids, track_id))
        if i >= n or track_ids[i] != track_id:
            continue
        recordings[i] = _recording(fingerprint)
        if tempo is not None:
            bpm[i] = tempo
        if key_text:
            if key_text not in key_codes:
                parsed = try_parse_key(key_text)
                key_codes[key_text] = _KEY_CODES[parsed] if parsed is not None else _NO_KEY
            keys[i] = key_codes[key_text]
    return recordings, bpm, keys


def _recording(fingerprint: str | None) -> int:
    """The fingerprint as a 64-bit number (0: unknown); the index lives in one process, so str's hash
    does (two different recordings share one with odds of 1 in 2**64 per pair)."""
    return (hash(fingerprint) or 1) if fingerprint else 0


# -- the per-process cache -------------------------------------------------------------------------------
#
# Building reads every embedding (seconds at 100k tracks), so the index is kept until the library changes.
# Two signals say it did: a cheap digest of the tables (row counts and largest ids: tracks and analyses
# added or deleted, by this process or another one), and a counter this process bumps when a session
# commits a change to tracks or analyses (a re-analysis updates its rows in place; a track goes missing by
# a bulk update). Only one index is kept (the last library and models asked for): at 100k tracks it holds
# about 160 MB.

_lock = threading.Lock()
_generation = 0
_cached: tuple[tuple, SimilarityIndex] | None = None
_CHANGED = "musictagger.similar.changed"


def _bump() -> None:
    global _generation
    with _lock:
        _generation += 1


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _context, _instances) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Track | Analysis):
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_bulk(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        mappers = {m.class_ for m in state.all_mappers}
        if mappers & {Track, Analysis}:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _bump()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _stamp(session: Session, models: tuple[str, ...]) -> tuple:
    """What the cached index is valid for: the library, the models, this process's change counter (read
    first, so a commit during the build makes the next query rebuild) and the tables' digest."""
    with _lock:
        generation = _generation
    digest = (
        *session.execute(select(func.count(), func.max(Analysis.id)).select_from(Analysis)).one(),
        *session.execute(select(func.count(), func.max(Track.id)).select_from(Track)).one(),
    )
    return (str(session.get_bind().url), models, generation, digest)


def similarity_index(session: Session, models: Sequence[str] = SIMILARITY_MODELS) -> SimilarityIndex:
    """The library's index, built on first use and again only after the library changed."""
    global _cached
    models = tuple(models)
    stamp = _stamp(session, models)
    with _lock:
        if _cached is not None and _cached[0] == stamp:
            return _cached[1]
    index = build_index(session, models)
    with _lock:
        _cached = (stamp, index)
    return index


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
