""" "More like this" at library scale, and which embedding finds like with like.

    .venv/bin/python bench/bench_similar.py [--tracks 100000] [--patches 80] [--queries 500] [--db FILE]
    .venv/bin/python bench/bench_similar.py --quality [--shared ../shared]

Speed: writes a synthetic library into a real SQLite index (the app's schema, by its migrations): N
present tracks, each with an MSD_musicnn and an MTT_musicnn analysis as the index stores them (a 200-d
float32 embedding, the 50 tag scores as JSON, a float16 taggram of ``--patches`` patches: 80 = a 4-minute
track), embeddings drawn around 1,000 random "styles" so neighbours exist; a BPM (70-180) and a key where
the schema has ``tracks.bpm`` / ``tracks.key``. Then times building the similarity index (every embedding
read), the index's memory, and per-query latency (p50 / p99 / max over ``--queries`` random tracks, the
cache check included) without a constraint, with ``--compatible-key``, with ±6 % BPM, and with both.
``--db FILE`` keeps the library in FILE and reuses it on the next run (generating 100k tracks takes a
minute or two and ~1.8 GB at 80 patches).

Quality (``--quality``, needs ``../shared/eval``; says so and exits 0 without it): the embeddings of the
labelled sets (gtzan_mini genres, emotify genres, mer4q quadrants; computed once and cached like the
heads' training data), and for each way of forming a track's embedding, leave-one-out precision@5: the
share of a clip's 5 nearest clips that carry its label.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from musictagger.catalog import load_card  # noqa: E402
from musictagger.keys import ALL_KEYS  # noqa: E402
from musictagger.library import Analysis, Track, open_library  # noqa: E402
from musictagger.library.similar import (  # noqa: E402
    SIMILARITY_MODELS,
    build_index,
    nearest_tracks,
    similarity_index,
    track_vectors,
)

DIM = 200
STYLES = 1000
CHUNK = 2000


def fingerprint(number: int) -> str:
    return hashlib.sha256(str(number).encode()).hexdigest()


def generate(db: Path, tracks: int, patches: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    labels = {m: load_card(m).labels for m in SIMILARITY_MODELS}
    centres = {m: rng.normal(0, 1, (STYLES, DIM)).astype(np.float32) for m in SIMILARITY_MODELS}
    now = datetime.now()
    with open_library(db) as library, library.engine.begin() as conn:
        for start in range(0, tracks, CHUNK):
            n = min(CHUNK, tracks - start)
            style = rng.integers(0, STYLES, n)
            rows = []
            for i in range(n):
                number = start + i + 1
                path = f"/synthetic/Artist {number % 5000:04d}/track {number:06d}.mp3"
                row = dict(
                    id=number, path_key=path.encode(), path=path, folder=os.path.dirname(path),
                    size=8_000_000, mtime_ns=number, fingerprint=fingerprint(number), duration_s=240.0,
                    file_tags={}, title=f"track {number}", scanned_at=now,
                )  # fmt: skip
                row["bpm"] = float(np.round(rng.uniform(70, 180), 1))
                row["key"] = ALL_KEYS[rng.integers(0, len(ALL_KEYS))].musical
                rows.append(row)
            conn.execute(insert(Track), rows)
            analyses = []
            for m_index, model in enumerate(SIMILARITY_MODELS):
                embeddings = centres[model][style] + rng.normal(0, 0.7, (n, DIM)).astype(np.float32)
                taggram = rng.random((patches, len(labels[model]))).astype(np.float16).tobytes()
                for i in range(n):
                    track_id = start + i + 1
                    values = np.round(rng.random(len(labels[model])), 4).tolist()
                    analyses.append(
                        dict(
                            id=2 * (track_id - 1) + m_index + 1,
                            track_id=track_id,
                            model=model,
                            model_version="1",
                            fingerprint=fingerprint(track_id),
                            scores=dict(zip(labels[model], values, strict=True)),
                            patch_seconds=3.0,
                            taggram=taggram,
                            n_patches=patches,
                            embedding=embeddings[i].tobytes(),
                            created_at=now,
                        )
                    )
            conn.execute(insert(Analysis), analyses)
            print(f"\r  generated {start + n:,} / {tracks:,} tracks", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def percentiles(times_s: list[float]) -> str:
    ms = np.array(times_s) * 1000
    return f"p50 {np.percentile(ms, 50):6.2f} ms  p99 {np.percentile(ms, 99):6.2f} ms  max {ms.max():6.2f} ms"


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def bench_speed(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "library.sqlite"
        if not db.exists():
            print(f"writing {args.tracks:,} synthetic tracks to {db} ...", file=sys.stderr)
            started = time.perf_counter()
            generate(db, args.tracks, args.patches)
            print(f"generated in {time.perf_counter() - started:.1f} s; {db.stat().st_size / 1e9:.2f} GB")
        else:
            print(f"reusing {db} ({db.stat().st_size / 1e9:.2f} GB)")
        with open_library(db) as library, library.session() as session:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            started = time.perf_counter()
            index = build_index(session)
            built_s = time.perf_counter() - started
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(
                f"index: {len(index):,} tracks x {index.matrix.shape[1]} dims, built in {built_s:.2f} s; "
                f"{index.nbytes / 1e6:.1f} MB held ({index.matrix.nbytes / 1e6:.1f} MB the matrix); "
                f"peak RSS grew {(rss_after - rss_before) / 1e3:.0f} MB while building"
            )
            nearest_tracks(session, int(index.track_ids[0]))  # the cached index, as every query after it
            rng = np.random.default_rng(1)
            queries = [int(t) for t in rng.choice(index.track_ids, args.queries)]
            has_bpm, has_key = bool(np.isfinite(index.bpm).any()), bool((index.keys >= 0).any())
            cases = [("no constraint", {})]
            if has_key:
                cases.append(("compatible key", {"key_rule": "compatible"}))
            if has_bpm:
                cases.append(("BPM ±6 %, half/double", {"bpm_tolerance": 0.06}))
            if has_key and has_bpm:
                cases.append(("both", {"key_rule": "compatible", "bpm_tolerance": 0.06}))
            else:
                print("no BPM or no key in this library: those constrained queries not measured")
            for name, options in cases:
                times, cpu, found = [], [], 0
                for track_id in queries:
                    started, started_cpu = time.perf_counter(), time.process_time()
                    neighbours = nearest_tracks(session, track_id, args.limit, **options)
                    times.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - started_cpu)
                    found += len(neighbours)
                print(
                    f"query {name:<24} {percentiles(times)}; CPU p50 {np.median(cpu) * 1000:5.1f} ms  "
                    f"({len(queries)} queries, top {args.limit}, {found / len(queries):.1f} found; {load()})"
                )
            checks = []
            for _ in range(50):
                started = time.perf_counter()
                similarity_index(session)
                checks.append(time.perf_counter() - started)
            print(f"cache check alone (max(analyses.id)) {percentiles(checks)}")
        # One track analysed again (its rows updated in place, as store.save_analysis does), then the
        # next query from a new session (as every CLI run and app query opens): the index reads that
        # track again instead of rebuilding.
        with open_library(db) as library:
            times = []
            for track_id in queries[:10]:
                with library.session() as session, session.begin():
                    for row in session.scalars(select(Analysis).where(Analysis.track_id == track_id)):
                        row.embedding = (np.frombuffer(row.embedding, np.float32) * 1.5).tobytes()
                with library.session() as session:
                    started = time.perf_counter()
                    nearest_tracks(session, queries[-1], args.limit)
                    times.append(time.perf_counter() - started)
            print(f"query after one track was analysed again  {percentiles(times)}  (10 rounds)")


# -- quality -------------------------------------------------------------------------------------------


SETS = (("gtzan_mini", "genre"), ("emotify", "genre"), ("mer4q", "quadrant"))


def precision_at(vectors: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    top = np.argsort(-similarity, axis=1)[:, :k]
    return float((labels[top] == labels[:, None]).mean())


def bench_quality(args: argparse.Namespace) -> None:
    eval_dir = args.shared / "eval"
    if not eval_dir.is_dir():
        print(f"{eval_dir} not found: the quality comparison needs ../shared/eval; nothing to measure")
        return
    from musictagger.analysis import Analyzer
    from musictagger.head_training.sources import dataset_tracks

    analyzer = Analyzer(list(SIMILARITY_MODELS), device="cpu", heads=())
    ways = {
        "plain concatenation": lambda e: np.hstack(e),
        "per-model unit length (shipped)": lambda e: track_vectors(e),
        "MSD_musicnn alone": lambda e: e[0],
        "MTT_musicnn alone": lambda e: e[1],
        "per-model centred + unit length": lambda e: track_vectors([m - m.mean(axis=0) for m in e]),
    }
    print("leave-one-out precision@5 (share of the 5 nearest clips with the clip's label)")
    for name, column in SETS:
        if name not in args.sets:
            continue
        with open(eval_dir / name / "labels.csv", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        paths = [str(eval_dir / name / r["file"]) for r in rows]
        tracks = dataset_tracks(paths, [(r[column],) for r in rows], [None] * len(rows), analyzer)
        labels = np.array([t[0] for t in tracks.labels])
        embeddings = [np.stack([o[m].embedding for o in tracks.outputs]) for m in SIMILARITY_MODELS]
        scales = [float(np.linalg.norm(e, axis=1).mean()) for e in embeddings]
        _, counts = np.unique(labels, return_counts=True)
        chance = float(((counts - 1) / (len(labels) - 1) * counts).sum() / len(labels))
        norms = ", ".join(f"{m} {s:.1f}" for m, s in zip(SIMILARITY_MODELS, scales, strict=True))
        print(f"{name} ({len(labels)} clips by {column}; chance {chance:.3f}; mean norms {norms})")
        for way, form in ways.items():
            print(f"  {way:<34} {precision_at(np.asarray(form(embeddings), np.float32), labels):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--patches", type=int, default=80, help="taggram patches per analysis (80: 4 min)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--limit", type=int, default=20, help="neighbours per query")
    parser.add_argument("--db", help="keep the synthetic library in this file (reused when it exists)")
    parser.add_argument("--quality", action="store_true", help="compare embeddings on ../shared/eval")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument(
        "--sets", nargs="+", default=[name for name, _ in SETS], help="labelled sets for --quality"
    )
    args = parser.parse_args()
    if args.quality:
        bench_quality(args)
    else:
        bench_speed(args)


if __name__ == "__main__":
    main()
