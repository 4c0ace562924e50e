"""Is a file the same recording as another? How far apart copies are, and the nearest tracks that are not.

    .venv/bin/python bench/bench_recordings.py [--shared ../shared] [--pairs 80]
    .venv/bin/python bench/bench_recordings.py --scale 100000

Copies: ``../shared/audio/formats``, one 20 s excerpt in 11 containers (AIFF, FLAC, ALAC, WAV, two MP3s,
AAC, Ogg Vorbis, Opus, WMA: 55 pairs), scanned and analysed into a scratch index with the settings' own
analysis (library mode), as the app does. Other tracks: the ``--pairs`` nearest pairs, by the similarity
index's cosine, among the 623 clips of ``../shared/eval`` (mer4q, emotify, gtzan_mini: 30 or 60 s each,
so the durations never tell two apart), each clip analysed the same way (library mode, 16 patches).

For every pair: the cosine of the embeddings, and per model (the worst of the two) the taggrams' time
correlation and the 99th percentile of their per-patch differences, the quantities the rule of
``library/recordings.py`` reads; then the rule's verdict. Printed: each statistic's range over the
copies and over the other pairs, the verdicts, and every pair of other clips the rule calls one
recording (to check by ear: a dataset can hold a clip twice). The clips' embeddings come from the
research cache (``MUSICTAGGER_CACHE_DIR``; a first run analyses all 623, about 40 minutes on 2 cores);
the patch analyses take about 2 minutes. Needs ``../shared``: says so and exits 0 without it.

``--scale N``: how long ``recording_groups`` (``list --duplicates``) takes on a library of N tracks: a
similarity index of N unit rows drawn around 1,000 "styles" (as bench_similar.py draws them), durations
spread as a DJ library's (normal around 4 minutes, standard deviation 1 minute, whole milliseconds), 1 %
of the tracks given a copy (its row nudged by 0.1 %, its duration by 20 ms). This times
``candidate_pairs``, the search that grows with the library, and checks that it finds every copy made;
``same_recording``, which then reads the taggrams of the few pairs it keeps, is measured above.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from musictagger.analysis import Analyzer, TrackAnalysis  # noqa: E402
from musictagger.head_training.sources import dataset_tracks  # noqa: E402
from musictagger.library import open_library  # noqa: E402
from musictagger.library.recordings import (  # noqa: E402
    MAX_PATCH_DIFFERENCE,
    MIN_COSINE,
    MIN_TIME_CORRELATION,
    RecordingPrint,
    agreement,
    candidate_pairs,
    read_prints,
    same_recording,
)
from musictagger.library.similar import (  # noqa: E402
    SIMILARITY_MODELS,
    SimilarityIndex,
    similarity_index,
    track_vectors,
)
from musictagger.services.analysis import Models, scan_and_analyse  # noqa: E402
from musictagger.settings import Settings  # noqa: E402

SETS = ("mer4q", "emotify", "gtzan_mini")


def print_of(analysis: TrackAnalysis) -> RecordingPrint:
    """What the index would store of ``analysis``, as read_prints reads it back."""
    grid = np.rint(np.asarray(analysis.patch_starts_s) / analysis.patch_seconds).astype(int).tolist()
    rows = {
        model: dict(zip(grid, scores.taggram.astype(np.float16).astype(np.float32), strict=True))
        for model, scores in analysis.models.items()
    }
    return RecordingPrint(analysis.duration_s, rows)


def copies(shared: Path, settings: Settings) -> list[tuple[float, float, float, bool]]:
    """(cosine, time correlation, difference, verdict) of every pair of the formats' 11 copies."""
    with tempfile.TemporaryDirectory() as scratch, open_library(Path(scratch) / "index.sqlite") as library:
        _, report = scan_and_analyse(library, [shared / "audio" / "formats"], Models.load(settings))
        print(f"formats: {report.analysed} files analysed, {len(report.errors)} failed")
        with library.session() as session:
            index = similarity_index(session)
            prints = read_prints(session, index.track_ids.tolist(), SIMILARITY_MODELS)
            found = []
            for i, j in itertools.combinations(range(len(index)), 2):
                a, b = (prints[int(index.track_ids[k])] for k in (i, j))
                cosine = float(index.matrix[i] @ index.matrix[j])
                found.append((cosine, *agreement(a, b), cosine >= MIN_COSINE and same_recording(a, b)))
    return found


def nearest_other_clips(shared: Path, n_pairs: int) -> list[tuple[float, float, float, bool, str, str]]:
    """The same for the ``n_pairs`` nearest pairs of the dev sets' clips, with the two files."""
    embedder = Analyzer(device="cpu", heads=(), precision="fp32")
    paths = []
    for name in SETS:
        with (shared / "eval" / name / "labels.csv").open(newline="", encoding="utf-8") as handle:
            paths += [str(shared / "eval" / name / row["file"]) for row in csv.DictReader(handle)]
    tracks = dataset_tracks(paths, [("-",)] * len(paths), [None] * len(paths), embedder)
    vectors = track_vectors(
        [np.stack([out[m].embedding for out in tracks.outputs]) for m in SIMILARITY_MODELS]
    )
    cosines = vectors @ vectors.T
    upper = np.triu_indices(len(vectors), 1)
    order = np.argsort(-cosines[upper])[:n_pairs]
    pairs = [(int(upper[0][k]), int(upper[1][k])) for k in order]
    analyzer = Models.load(Settings()).analyzer
    prints = {
        i: print_of(analyzer.analyse_file(tracks.paths[i], patch_budget=16))
        for i in sorted({i for pair in pairs for i in pair})
    }
    found = []
    for i, j in pairs:
        cosine = float(cosines[i, j])
        verdict = cosine >= MIN_COSINE and same_recording(prints[i], prints[j])
        found.append((cosine, *agreement(prints[i], prints[j]), verdict, tracks.paths[i], tracks.paths[j]))
    return found


def scale(n: int) -> int:
    """Time the library-wide search for copies on ``n`` synthetic tracks; 0 when it finds the copies."""
    rng = np.random.default_rng(7)
    styles = rng.normal(size=(1000, 400)).astype(np.float32)
    rows = styles[rng.integers(0, 1000, n)] + rng.normal(scale=0.6, size=(n, 400)).astype(np.float32)
    durations = np.round(np.clip(rng.normal(240, 60, n), 30, 1200), 3).astype(np.float32)
    originals = rng.choice(n, n // 100, replace=False)
    copies = np.arange(n, n + len(originals))
    rows = np.concatenate([rows, rows[originals] + 0.001 * rng.normal(size=(len(originals), 400))])
    durations = np.concatenate([durations, durations[originals] + 0.02])
    matrix = track_vectors([rows[:, :200], rows[:, 200:]])
    unknown = np.full(len(matrix), np.nan, dtype=np.float32)
    no_key = np.full(len(matrix), -1, dtype=np.int8)
    ids = np.arange(len(matrix), dtype=np.int64)
    index = SimilarityIndex(SIMILARITY_MODELS, ids, matrix, ids * 0, unknown, no_key, durations)
    started = time.perf_counter()
    found = {track for pair in candidate_pairs(index) for track in pair}
    elapsed = time.perf_counter() - started
    expected = set(originals.tolist()) | set(copies.tolist())
    print(
        f"{len(matrix):,} tracks ({len(originals):,} with a copy): candidate_pairs took {elapsed:.2f} s; "
        f"{len(found)} tracks in candidate pairs; of the {len(expected)} tracks and copies made, "
        f"{len(expected & found)} found"
    )
    return 0 if expected <= found else 1


def _range(values) -> str:
    return f"{min(values):.4f}..{max(values):.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--pairs", type=int, default=80, help="nearest pairs of other clips (default 80)")
    parser.add_argument("--scale", type=int, metavar="N", help="time the search on N synthetic tracks")
    args = parser.parse_args(argv)
    if args.scale:
        return scale(args.scale)
    if not (args.shared / "audio" / "formats").is_dir() or not (args.shared / "eval").is_dir():
        print(f"{args.shared} has no audio/formats or eval: nothing to measure")
        return 0
    same = copies(args.shared, Settings())
    others = nearest_other_clips(args.shared, args.pairs)
    print(
        f"rule: cosine >= {MIN_COSINE}, time correlation >= {MIN_TIME_CORRELATION}, "
        f"99th-percentile difference <= {MAX_PATCH_DIFFERENCE}, durations within 1 s"
    )
    for name, rows in (("copies (formats)", same), ("nearest other clips", others)):
        print(
            f"{name:<20} {len(rows):>3} pairs  cosine {_range([r[0] for r in rows])}  "
            f"time correlation {_range([r[1] for r in rows])}  difference {_range([r[2] for r in rows])}  "
            f"called one recording: {sum(r[3] for r in rows)}"
        )
    for cosine, correlation, difference, _, a, b in (r for r in others if r[3]):
        print(
            f"  one recording? {Path(a).name} {Path(b).name}: cosine {cosine:.4f}, "
            f"time correlation {correlation:.3f}, difference {difference:.3f}"
        )
    missed = sum(not r[3] for r in same)
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
