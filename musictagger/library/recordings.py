"""The same recording in other files: a FLAC and the MP3 made from it, a WAV and its AAC copy.

The scanner's fingerprint (a hash of the audio data) tells only byte-identical audio apart from the
rest; an encoding changes every byte. Two files are found to hold the same recording from what their
analyses already store, with nothing decoded again:

1. durations within ``DURATION_TOLERANCE_S`` (encoders add or trim a few milliseconds of padding);
2. embeddings (the similarity index's unit rows) with a cosine of at least ``MIN_COSINE``;
3. the taggrams agree patch by patch on the patches both analysed (the same start on the patch grid, at
   least ``MIN_SHARED_PATCHES`` of them), for every model: how each label's probability rises and falls
   over the track correlates at ``MIN_TIME_CORRELATION`` or more, and 99 % of the per-patch probability
   differences are within ``MAX_PATCH_DIFFERENCE``.

Why all three (bench/bench_recordings.py, docs/evaluation.md "The same recording in another file"): the
11 copies of ``../shared/audio/formats`` (AIFF, FLAC, ALAC, WAV, MP3 at two ID3 versions, AAC, Ogg, Opus,
WMA; 55 pairs) and a duplicate inside emotify give cosines of 0.9976 or more, a time correlation of 0.91
or more and a 99th-percentile difference of 0.067 at most. Among the 623 clips of ``../shared/eval`` (all
30 or 60 s long, so step 1 passes every pair) the 61 nearest pairs by embedding that are not the same
recording reach a cosine of 0.991 (two songs by one metal band), but a time correlation of 0.48 at most
and a difference of 0.165 or more: the mean sound of two songs can coincide, their course over time does
not. A track shorter than ``MIN_SHARED_PATCHES`` patches (about 12 s) is never matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import select
from sqlalchemy.orm import Session

from musictagger.library.id_chunks import id_chunks
from musictagger.library.schema import Analysis, Track
from musictagger.library.similar import SIMILARITY_MODELS, SimilarityIndex, similarity_index

__all__ = [
    "DURATION_TOLERANCE_S",
    "MAX_PATCH_DIFFERENCE",
    "MIN_COSINE",
    "MIN_SHARED_PATCHES",
    "MIN_TIME_CORRELATION",
    "RecordingPrint",
    "agreement",
    "candidate_pairs",
    "copies_of",
    "copies_of_each",
    "one_per_recording",
    "read_prints",
    "recording_groups",
    "same_recording",
    "tags_from_copies",
]

DURATION_TOLERANCE_S = 1.0
MIN_COSINE = 0.99
MIN_TIME_CORRELATION = 0.8
MAX_PATCH_DIFFERENCE = 0.12
MIN_SHARED_PATCHES = 4
_PAIR_BLOCK = 256  # rows compared with their duration window at once
# Past this many tracks one library-wide pass (candidate_pairs: 0.13 s on 10,100 tracks, then one read of
# the taggrams of every pair it keeps) beats a search per track (each a scan of the durations and a
# query for its own near matches' taggrams).
_ONE_PASS_FROM = 64


@dataclass(frozen=True)
class RecordingPrint:
    """What one track's stored analyses say of its course over time: per model, the taggram row of each
    analysed patch, keyed by the patch's place on the patch grid (its start over the patch length)."""

    duration_s: float
    rows: dict[str, dict[int, np.ndarray]]  # {model: {grid index: the patch's label probabilities}}


def same_recording(a: RecordingPrint, b: RecordingPrint) -> bool:
    """Whether ``a`` and ``b`` are the same recording by rules 1 and 3 of the module's docstring (rule 2,
    the embeddings, is the caller's cheap first cut)."""
    if abs(a.duration_s - b.duration_s) > DURATION_TOLERANCE_S:
        return False
    measured = agreement(a, b)
    return measured is not None and (
        measured[0] >= MIN_TIME_CORRELATION and measured[1] <= MAX_PATCH_DIFFERENCE
    )


def agreement(a: RecordingPrint, b: RecordingPrint) -> tuple[float, float] | None:
    """How alike ``a`` and ``b`` unfold, over the patches both analysed: (the lowest time correlation,
    the largest 99th-percentile difference) over the models; None when they were not analysed by the
    same models or share fewer than ``MIN_SHARED_PATCHES`` patches."""
    if a.rows.keys() != b.rows.keys():
        return None
    correlations, differences = [], []
    for model, rows_a in a.rows.items():
        rows_b = b.rows[model]
        shared = sorted(rows_a.keys() & rows_b.keys())
        if len(shared) < MIN_SHARED_PATCHES:
            return None
        ga = np.stack([rows_a[i] for i in shared])
        gb = np.stack([rows_b[i] for i in shared])
        differences.append(float(np.quantile(np.abs(ga - gb), 0.99)))
        # Each label's course over the track, its own mean taken out: a steady track (a loop) has little
        # course, and then nothing says it is this recording rather than another take of the same loop.
        da, db = ga - ga.mean(axis=0), gb - gb.mean(axis=0)
        norm = float(np.sqrt((da * da).sum() * (db * db).sum()))
        correlations.append(float((da * db).sum()) / norm if norm else 0.0)
    return min(correlations), max(differences)


def read_prints(
    session: Session, track_ids: Iterable[int], models: Sequence[str]
) -> dict[int, RecordingPrint]:
    """The prints of those ``track_ids`` that have a current analysis by every one of ``models`` and a
    duration."""
    ids = sorted(set(track_ids))
    rows: dict[int, dict[str, dict[int, np.ndarray]]] = {}
    durations: dict[int, float] = {}
    query = (
        select(
            Analysis.track_id,
            Analysis.model,
            Analysis.taggram,
            Analysis.n_patches,
            Analysis.patch_seconds,
            Analysis.patch_starts,
            Track.duration_s,
        )
        .join(Track, Track.id == Analysis.track_id)
        .where(Analysis.fingerprint.is_not_distinct_from(Track.fingerprint), Analysis.model.in_(models))
    )
    connection = session.connection()
    for chunk in id_chunks(ids):
        for track_id, model, blob, n, patch_s, starts_blob, duration in connection.execute(
            query.where(Analysis.track_id.in_(chunk))
        ):
            taggram = np.frombuffer(blob, dtype=np.float16).reshape(n, -1).astype(np.float32)
            if starts_blob is None:  # a full analysis: every patch, one after another
                grid = np.arange(n)
            else:
                grid = np.rint(np.frombuffer(starts_blob, dtype=np.float32) / patch_s).astype(int)
            rows.setdefault(track_id, {})[model] = dict(zip(grid.tolist(), taggram, strict=True))
            if duration is not None:
                durations[track_id] = float(duration)
    return {
        track_id: RecordingPrint(durations[track_id], per_model)
        for track_id, per_model in rows.items()
        if track_id in durations and len(per_model) == len(models)
    }


def copies_of(session: Session, index: SimilarityIndex, track_id: int) -> list[int]:
    """The other tracks of ``index`` that hold the same recording as ``track_id`` (ascending ids); [] when
    the track is not in the index."""
    row = index.row_of(track_id)
    if row is None:
        return []
    near = np.flatnonzero(np.abs(index.durations - index.durations[row]) <= DURATION_TOLERANCE_S)
    near = near[near != row]
    if not len(near):
        return []
    near = near[index.matrix[near] @ index.matrix[row] >= MIN_COSINE]
    if not len(near):
        return []
    candidates = index.track_ids[near].tolist()
    prints = read_prints(session, [track_id, *candidates], index.models)
    if track_id not in prints:
        return []
    return [c for c in candidates if c in prints and same_recording(prints[track_id], prints[c])]


def candidate_pairs(index: SimilarityIndex) -> list[tuple[int, int]]:
    """Every pair of ``index``'s tracks (track ids, smaller first) within ``DURATION_TOLERANCE_S`` of each
    other and at ``MIN_COSINE`` or more: rules 1 and 2, what ``same_recording`` then checks. Found within
    each track's duration window (the tracks sorted by duration), so the work grows with the library times
    the tracks of about the same length."""
    known = np.flatnonzero(np.isfinite(index.durations))
    order = known[np.argsort(index.durations[known], kind="stable")]
    durations = index.durations[order]
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(order), _PAIR_BLOCK):
        stop = min(start + _PAIR_BLOCK, len(order))
        end = int(np.searchsorted(durations, durations[stop - 1] + DURATION_TOLERANCE_S, side="right"))
        block, window = order[start:stop], order[start:end]
        cosines = index.matrix[block] @ index.matrix[window].T
        for i, j in zip(*np.nonzero(cosines >= MIN_COSINE), strict=True):
            a, b = start + int(i), start + int(j)
            if b > a and durations[b] - durations[a] <= DURATION_TOLERANCE_S:
                first, second = int(index.track_ids[order[a]]), int(index.track_ids[order[b]])
                pairs.append((min(first, second), max(first, second)))
    return pairs


def recording_groups(session: Session, index: SimilarityIndex) -> list[list[int]]:
    """Every recording the library holds in more than one file: its tracks' ids (ascending), the groups
    ordered by their first id (``candidate_pairs``, each pair then checked by ``same_recording``)."""
    pairs = candidate_pairs(index)
    if not pairs:
        return []
    prints = read_prints(session, {t for pair in pairs for t in pair}, index.models)
    same = [(a, b) for a, b in pairs if a in prints and b in prints and same_recording(prints[a], prints[b])]
    if not same:
        return []
    tracks = np.unique(np.array(same, dtype=np.int64))
    edges = np.searchsorted(tracks, np.array(same, dtype=np.int64))
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(tracks),) * 2)
    _, component = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for track, group in zip(tracks.tolist(), component.tolist(), strict=True):
        groups.setdefault(group, []).append(track)
    return sorted(groups.values(), key=lambda g: g[0])


def copies_of_each(
    session: Session, index: SimilarityIndex, track_ids: Iterable[int]
) -> dict[int, list[int]]:
    """``copies_of`` for many tracks at once: {track id: its copies (ascending ids)}, tracks with none left
    out. A few tracks are searched one by one; more take one pass over the library's candidate pairs."""
    ids = sorted(set(track_ids))
    if len(ids) <= _ONE_PASS_FROM:
        found = {track_id: copies_of(session, index, track_id) for track_id in ids}
        return {track_id: copies for track_id, copies in found.items() if copies}
    wanted = set(ids)
    pairs = [(a, b) for a, b in candidate_pairs(index) if a in wanted or b in wanted]
    prints = read_prints(session, {t for pair in pairs for t in pair}, index.models)
    copies: dict[int, list[int]] = {}
    for a, b in pairs:
        if a in prints and b in prints and same_recording(prints[a], prints[b]):
            for track_id, other in ((a, b), (b, a)):
                if track_id in wanted:
                    copies.setdefault(track_id, []).append(other)
    return {track_id: sorted(others) for track_id, others in copies.items()}


def tags_from_copies(
    session: Session, track_ids: Iterable[int], fields: Sequence[str]
) -> dict[int, dict[str, tuple[list[str], str]]]:
    """What the copies of each of ``track_ids`` hold in ``fields``, as their files were last scanned:
    ``{track id: {field: (values, the path of the first copy holding them)}}``, a field only where every
    copy that holds it holds the same values (copies that disagree give the user a choice, not an answer).
    Tracks with no copy, or whose copies hold none of the fields, are left out."""
    ids = list(track_ids)
    if not ids:
        return {}
    copies = copies_of_each(session, similarity_index(session, SIMILARITY_MODELS), ids)
    held_by = {}
    every_copy = sorted({c for others in copies.values() for c in others})
    for chunk in id_chunks(every_copy):
        for track_id, path, tags in session.execute(
            select(Track.id, Track.path, Track.file_tags).where(Track.id.in_(chunk))
        ):
            held_by[track_id] = (path, tags or {})
    found: dict[int, dict[str, tuple[list[str], str]]] = {}
    for track_id, others in copies.items():
        rows = sorted((held_by[c] for c in others if c in held_by), key=lambda row: row[0])
        for name in fields:
            held = [(path, list(tags[name])) for path, tags in rows if tags.get(name)]
            if held and len({tuple(v.casefold() for v in values) for _, values in held}) == 1:
                found.setdefault(track_id, {})[name] = (held[0][1], held[0][0])
    return found


def one_per_recording(
    session: Session, index: SimilarityIndex, track_ids: Sequence[int]
) -> dict[int, list[int]]:
    """``track_ids`` (a ranked list, e.g. a track's neighbours) with each recording kept once, at its
    first place: ``{kept track id: [the later ids that are its copies]}``, in the list's order. Only the
    pairs of the list are compared (rules 1 and 2 first), so a short list costs a short read."""
    places = [place for place, track_id in enumerate(track_ids) if index.row_of(track_id) is not None]
    rows = np.array([index.row_of(track_ids[place]) for place in places], dtype=np.int64)
    durations = index.durations[rows]
    near = np.triu(
        (index.matrix[rows] @ index.matrix[rows].T >= MIN_COSINE)
        & (np.abs(durations[:, None] - durations[None, :]) <= DURATION_TOLERANCE_S),
        k=1,
    )
    pairs = [(places[i], places[j]) for i, j in zip(*np.nonzero(near), strict=True)]
    prints = (
        read_prints(session, {track_ids[i] for pair in pairs for i in pair}, index.models) if pairs else {}
    )
    copy_of: dict[int, int] = {}  # a later place -> the first place of its recording
    for earlier, later in pairs:
        a, b = track_ids[earlier], track_ids[later]
        if later not in copy_of and a in prints and b in prints and same_recording(prints[a], prints[b]):
            copy_of[later] = copy_of.get(earlier, earlier)
    kept: dict[int, list[int]] = {}
    for place, track_id in enumerate(track_ids):
        if place in copy_of:
            kept[track_ids[copy_of[place]]].append(track_id)
        else:
            kept[track_id] = []
    return kept
