"""Where a head's training tracks come from: a labelled dataset, or the user's own library.

Both give the same thing, :class:`TrainingTracks`: per track its tagger outputs (embedding + scores per
model), its labels and, when known, its artist (so cross-validation can keep an artist's tracks on one
side). Dataset audio is analysed once; the outputs are cached on disk keyed by the file's path, size and
modification time, so re-training a head with other settings takes seconds.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from musictagger.analysis import Analyzer, analyse_files
from musictagger.device import describe_precision
from musictagger.paths import cache_dir
from musictagger.research.cache import entry_for, read_arrays, write_arrays

__all__ = ["TaggerOutputs", "TrainingTracks", "dataset_tracks", "library_tracks"]

# Bump when what is cached changes meaning (e.g. how embeddings are pooled).
_CACHE_VERSION = "1"


@dataclass(frozen=True)
class TaggerOutputs:
    """One tagger's track-level result, as a head reads it."""

    embedding: np.ndarray  # (embedding_dim,)
    scores: np.ndarray  # (n_labels,) in the model's label order


@dataclass
class TrainingTracks:
    """Labelled tracks with their tagger outputs; ``errors`` lists the files that could not be used."""

    paths: list[str]
    labels: list[tuple[str, ...]]
    artists: list[str | None]
    outputs: list[dict[str, TaggerOutputs]]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, cause)
    dropped: dict[str, int] = field(default_factory=dict)  # label -> tracks, for labels with too few

    def label_names(self) -> tuple[str, ...]:
        return tuple(sorted({label for labels in self.labels for label in labels}, key=str.casefold))

    def keep(self, indices: Sequence[int]) -> TrainingTracks:
        return TrainingTracks(
            paths=[self.paths[i] for i in indices],
            labels=[self.labels[i] for i in indices],
            artists=[self.artists[i] for i in indices],
            outputs=[self.outputs[i] for i in indices],
            errors=list(self.errors),
            dropped=dict(self.dropped),
        )

    def drop_rare(self, min_tracks: int) -> TrainingTracks:
        """Leave out labels with fewer than ``min_tracks`` tracks (and tracks left with no label)."""
        counts = Counter(label for labels in self.labels for label in labels)
        rare = {label: n for label, n in counts.items() if n < min_tracks}
        kept_labels = [tuple(x for x in labels if x not in rare) for labels in self.labels]
        keep = [i for i, labels in enumerate(kept_labels) if labels]
        out = self.keep(keep)
        out.labels = [kept_labels[i] for i in keep]
        out.dropped.update(rare)
        return out


def _cache_file(path: str, models: Sequence[tuple[str, str]], precision: str) -> Path | None:
    try:
        st = os.stat(path)
    except OSError:
        return None  # analysing it reports why, for that file
    settings = {
        "version": _CACHE_VERSION,
        "path": os.path.abspath(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "models": [list(m) for m in models],
        "precision": precision,  # bf16 and fp32 embeddings differ a little: never mixed in one training set
    }
    return entry_for(cache_dir() / "embeddings", settings)


def _read_cached(file: Path | None, models: Sequence[str]) -> dict[str, TaggerOutputs] | None:
    arrays = None if file is None else read_arrays(file)
    if arrays is None or any(f"{m}/embedding" not in arrays or f"{m}/scores" not in arrays for m in models):
        return None  # missing, damaged or incomplete: recomputed
    return {m: TaggerOutputs(arrays[f"{m}/embedding"], arrays[f"{m}/scores"]) for m in models}


def _write_cached(file: Path | None, outputs: dict[str, TaggerOutputs]) -> None:
    if file is not None:
        arrays = {}
        for model, out in outputs.items():
            arrays[f"{model}/embedding"] = out.embedding
            arrays[f"{model}/scores"] = out.scores
        write_arrays(file, arrays)


def dataset_tracks(
    paths: Sequence[str],
    labels: Sequence[Sequence[str]],
    artists: Sequence[str | None],
    analyzer: Analyzer,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> TrainingTracks:
    """Tagger outputs of labelled audio files (cached); files that fail are listed, never fatal."""
    models = analyzer.model_names
    versions = [(m, analyzer.cards[m].version) for m in models]
    precision = describe_precision(analyzer.autocast_dtype)
    outputs: dict[str, dict[str, TaggerOutputs]] = {}
    todo = []
    for path in paths:
        cached = _read_cached(_cache_file(path, versions, precision), models)
        if cached is None:
            todo.append(path)
        else:
            outputs[path] = cached
    errors: list[tuple[str, str]] = []
    done = len(outputs)
    if progress is not None:
        progress(done, len(paths))
    for result in analyse_files(analyzer, todo):
        done += 1
        if result.error is not None:
            errors.append((result.path, getattr(result.error, "cause", None) or str(result.error)))
        else:
            found = {
                m: TaggerOutputs(s.embedding.astype(np.float32), s.scores.astype(np.float32))
                for m, s in result.analysis.models.items()
            }
            outputs[result.path] = found
            _write_cached(_cache_file(result.path, versions, precision), found)
        if progress is not None:
            progress(done, len(paths))
    keep = [i for i, p in enumerate(paths) if p in outputs]
    return TrainingTracks(
        paths=[paths[i] for i in keep],
        labels=[tuple(labels[i]) for i in keep],
        artists=[artists[i] for i in keep],
        outputs=[outputs[paths[i]] for i in keep],
        errors=errors,
    )


def _values(raw: object) -> list[str]:
    """A tag's values. ";" separates values in formats without real multi-values (ID3v2.3, our own
    writes); "/" does not, since it is part of names like "Hip-Hop/Rap"."""
    values = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    out: list[str] = []
    for value in values:
        for part in str(value).split(";"):
            part = part.strip()
            if part and part.casefold() not in {x.casefold() for x in out}:
                out.append(part)
    return out


def stored_outputs(
    session: Session, track_ids: Sequence[int] | Select, label_orders: Mapping[str, Sequence[str]]
) -> dict[int, dict[str, TaggerOutputs]]:
    """The stored analyses of ``track_ids`` by the models of ``label_orders`` as head inputs:
    ``{track id: {model: TaggerOutputs}}`` (scores put back in each model's label order)."""
    from musictagger.library.schema import Analysis

    rows = session.execute(
        select(Analysis.track_id, Analysis.model, Analysis.scores, Analysis.embedding).where(
            Analysis.track_id.in_(track_ids), Analysis.model.in_(list(label_orders))
        )
    )
    outputs: dict[int, dict[str, TaggerOutputs]] = {}
    for track_id, model, scores, embedding in rows:
        vector = np.array([float(scores.get(tag, 0.0)) for tag in label_orders[model]], dtype=np.float32)
        outputs.setdefault(track_id, {})[model] = TaggerOutputs(
            np.frombuffer(embedding, dtype=np.float32), vector
        )
    return outputs


def library_tracks(
    session: Session,
    field_name: str,
    models: Sequence[str],
    *,
    source: str = "both",
) -> TrainingTracks:
    """Tracks of the library index labelled with ``field_name`` (genre or mood) and analysed by ``models``.

    ``source``: ``tags`` (the values in the files, as scanned), ``reviews`` (what the user accepted or
    edited in the app), or ``both`` (a review wins over the file's tag for that track). Rejected reviews
    mean "none of these": such tracks are left out. Labels that differ only in case are one label; the
    spelling used by most tracks wins.
    """
    from musictagger.catalog import load_card
    from musictagger.library.schema import Track, TrackReview

    if source not in ("tags", "reviews", "both"):
        raise ValueError(f"source must be tags, reviews or both, not {source!r}")
    label_orders = {m: load_card(m).labels for m in models}
    reviews: dict[int, TrackReview] = {}
    if source != "tags":
        for review in session.scalars(select(TrackReview).where(TrackReview.field == field_name)):
            reviews[review.track_id] = review
    chosen: dict[int, list[str]] = {}
    tracks = {t.id: t for t in session.scalars(select(Track).where(Track.missing_since.is_(None)))}
    for track_id, track in tracks.items():
        review = reviews.get(track_id)
        if review is not None:
            if review.status != "rejected" and review.values:
                chosen[track_id] = _values(list(review.values))
            continue
        if source != "reviews":
            values = _values((track.file_tags or {}).get(field_name, []))
            if values:
                chosen[track_id] = values
    # One spelling per label, case-insensitively: "deep house" and "Deep House" are one class.
    spellings: dict[str, Counter] = {}
    for values in chosen.values():
        for value in values:
            spellings.setdefault(value.casefold(), Counter())[value] += 1
    canonical = {key: counts.most_common(1)[0][0] for key, counts in spellings.items()}

    outputs = stored_outputs(session, list(chosen), label_orders)
    paths, labels, artists, outs = [], [], [], []
    errors = []
    for track_id in sorted(chosen):
        track = tracks[track_id]
        found = outputs.get(track_id, {})
        if set(found) != set(models):
            errors.append((track.path, "not analysed yet: scan and analyse the library first"))
            continue
        paths.append(track.path)
        labels.append(tuple(dict.fromkeys(canonical[v.casefold()] for v in chosen[track_id])))
        artists.append(track.artist or None)
        outs.append(found)
    return TrainingTracks(paths=paths, labels=labels, artists=artists, outputs=outs, errors=errors)
