"""Would several representations together lift the mood-quadrant head past 0.78 on mer4q? Late fusion.

    .venv/bin/python bench/bench_quadrant_ensemble.py [--shared ../shared] [--repeats 5] [--no-vgg]

Each representation bench_quadrant_alternatives.py measured alone lands at 0.66-0.77; this asks whether
their *errors* differ enough that averaging them helps. Members, each a logistic regression whose L2
strength inner group CV picks on the outer fold's training part, as there:

- ``embeddings``: the shipped recipe, on the clip's MSD + MTT musicnn embeddings;
- ``patches``: the same on every patch's embedding, a clip scored by its patches' mean log-probability;
- ``descriptors``: 109 hand-made descriptors of timbre, dynamics, rhythm and tonality (librosa);
- ``vgg``: musicnn's VGG-style taggers' features (the original TensorFlow graphs, not ported: a yardstick,
  not something the app could ship; ``--no-vgg`` leaves it out).

A fusion is the mean of its members' out-of-fold log-probabilities, equal weights, nothing tuned on the
outer test fold, so it is scored as honestly as a member: repeated nested, artist-disjoint 5-fold CV
over split seeds 0..repeats-1, mean and range printed. Features are cached beside the analyses
(``MUSICTAGGER_CACHE_DIR``): the first run decodes every clip for the descriptors (~20 minutes) and runs
the taggers per patch (~5 minutes). Needs ``../shared``: says so and exits 0 without it.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_quadrant_alternatives import (  # noqa: E402
    C_WIDE,
    QUADRANTS,
    _descriptors,
    _logistic,
    _per_patch,
    _vgg_features,
    load_mer4q,
    patch_log_proba,
)
from sklearn.model_selection import cross_val_predict  # noqa: E402

from musictagger.head_training.calibration import C_GRID, group_splits  # noqa: E402
from musictagger.paths import cache_dir  # noqa: E402


def _cached_descriptors(paths: list[str]) -> np.ndarray:
    cache = cache_dir() / "bench-quadrant-descriptors.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            if list(stored["paths"]) == list(paths):
                return stored["features"]
    started = time.time()
    features = np.stack([_descriptors(path) for path in paths])
    np.savez(cache, paths=np.array(paths), features=features)
    print(f"hand-made descriptors of every clip in {time.time() - started:.0f} s", flush=True)
    return features


def _oof_log_proba(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int, grid) -> np.ndarray:
    """Out-of-fold log-probabilities of a clip-level logistic regression, C by inner group CV."""
    out = np.zeros((len(y), len(QUADRANTS)))
    for k, (train, test) in enumerate(group_splits(y, groups, 5, seed)):
        inner = group_splits(y[train], groups[train], 5, seed + k + 1)
        scores = [
            np.mean(cross_val_predict(_logistic(c), x[train], y[train], cv=inner) == y[train]) for c in grid
        ]
        model = _logistic(grid[int(np.argmax(scores))]).fit(x[train], y[train])
        out[test] = model.predict_log_proba(x[test])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=BENCH.parent.parent / "shared")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-vgg", action="store_true", help="leave out the VGG taggers (not shippable)")
    parser.add_argument("--tf-python", default="/tmp/tfvenv/bin/python")
    parser.add_argument("--musicnn-pkg", default="/tmp/musicnn_pkg/musicnn")
    args = parser.parse_args(argv)
    mer4q = load_mer4q(args.shared)
    if mer4q is None:
        return 0
    tracks, _rows, y, groups, embeddings = mer4q
    clips = _per_patch(tracks.paths, "patches", lambda out: out.penultimate)
    descriptors = _cached_descriptors(tracks.paths)
    members = {
        "embeddings": lambda seed: _oof_log_proba(embeddings, y, groups, seed, C_GRID),
        "patches": lambda seed: patch_log_proba(clips, y, groups, seed),
        "descriptors": lambda seed: _oof_log_proba(descriptors, y, groups, seed, C_WIDE),
    }
    if not args.no_vgg:
        vgg = _vgg_features(tracks.paths, args.tf_python, args.musicnn_pkg)
        if vgg is not None:
            members["vgg"] = lambda seed: _oof_log_proba(vgg, y, groups, seed, C_WIDE)
    print(f"{len(y)} clips, members: {', '.join(members)}", flush=True)

    fusions = [(name,) for name in members]
    fusions += [combo for size in range(2, len(members) + 1) for combo in combinations(members, size)]
    log_p = {name: [] for name in members}
    for seed in range(args.repeats):
        started = time.time()
        for name, member in members.items():
            log_p[name].append(member(seed))
        # The table so far after every seed: a long run that is stopped early still says something.
        print(f"\nsplit seeds 0-{seed} (this one {time.time() - started:.0f} s)", flush=True)
        print(f"{'members (mean of log-probabilities)':<44} {'mean':>6}  range")
        for combo in fusions:
            accuracies = [
                float(np.mean(np.mean([log_p[name][k] for name in combo], axis=0).argmax(1) == y))
                for k in range(seed + 1)
            ]
            spread = f"{min(accuracies):.3f}-{max(accuracies):.3f}"
            print(f"{' + '.join(combo):<44} {np.mean(accuracies):.3f}  {spread}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
