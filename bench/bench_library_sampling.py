"""Which patches should library mode analyse? Sampling strategies compared offline (issue 14, "same answer").

    .venv/bin/python bench/bench_library_sampling.py [FOLDER] [--cache FILE] [--rebuild]

Every track of FOLDER (default ``../shared/audio/music``; says so and exits when it is missing) is analysed
once in full by the default Analyzer (every tagger and head) keeping each patch's probabilities and
penultimate features (cached in ``--cache``, default under the system's temp folder). A strategy picks a
subset of patches; the track's scores and embeddings are then the mean over that subset, the heads run on
them as in a real analysis (``Analyzer.run_heads``), and the written labels (calibrated thresholds, the
write's caps: bench_library_mode.written) are compared with the full analysis'. Since a sampled patch is
exactly the full analysis' patch (tests/test_library_mode.py), this is what library mode would write,
without decoding anything again.

Strategies: ``spread B`` (``sampling.spread_patches``: one patch at the centre of each of B equal
stretches); ``closer B margin [z]``, the product's (spread B; when a genre or mood score lies within
``margin`` of its threshold, and with ``z`` also within z times its jackknife sampling error:
``services.analysis.near_a_threshold``, the B patches at the stretches' starts as well:
``sampling.closer_look_patches``; ``ties t``: also when a tagger's third and fourth raw tags lie within
t of each other); ``refine B margin [z]``, the closer look before 2026-12-06 (spread 3·B instead, whose
patches include the first B). Printed per strategy: tracks whose written
labels equal the full analysis', tracks whose taggers' top-3 raw tags are the same sets, and the mean
share of patches analysed (the networks' cost).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_library_mode import top3, written  # noqa: E402

from musictagger.analysis import ModelScores, TrackAnalysis  # noqa: E402
from musictagger.sampling import closer_look_patches, spread_patches  # noqa: E402
from musictagger.services.analysis import Models, near_a_threshold  # noqa: E402
from musictagger.settings import Settings  # noqa: E402


def full_with_patches(models: Models, path: Path) -> tuple[TrackAnalysis, dict[str, np.ndarray]]:
    """The full analysis and each model's per-patch penultimate features (captured as the Analyzer
    means them: instrumentation of this bench only)."""
    analyzer = models.analyzer
    captured: dict[str, np.ndarray] = {}
    original = analyzer._model_scores

    def capturing(group, probs, penult, n_patches, keep_rows=False):
        for name, parts in penult.items():
            captured[name] = np.concatenate(parts)[:n_patches]
        return original(group, probs, penult, n_patches, keep_rows)

    analyzer._model_scores = capturing
    try:
        analysis = analyzer.analyse_file(path)
    finally:
        del analyzer._model_scores
    return analysis, captured


def subset_analysis(
    models: Models, full: TrackAnalysis, penult: dict[str, np.ndarray], rows: np.ndarray
) -> TrackAnalysis:
    """What library mode would have made of the patches ``rows``."""
    scores = {
        name: ModelScores(
            model=name,
            labels=m.labels,
            scores=m.taggram[rows].mean(axis=0),
            taggram=m.taggram[rows],
            embedding=penult[name][rows].mean(axis=0),
            patch_embeddings=penult[name][rows],
        )
        for name, m in full.models.items()
    }
    analyzer = models.analyzer
    starts = full.patch_starts_s[rows]
    got = replace(full, models=scores, heads=analyzer.run_heads(scores), sampled=True, patch_starts_s=starts)
    return replace(got, leave_one_out=analyzer._leave_one_out(got))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared" / "audio" / "music")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench_library_sampling")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if not args.folder.exists():
        print(f"{args.folder} is missing (../shared not here): nothing to measure")
        return 0
    models = Models.load(Settings().replace(analysis={"tempo_key": False}))
    print(f"analyzer: {models.describe()}")
    args.cache.mkdir(parents=True, exist_ok=True)
    tracks = []
    for path in sorted(args.folder.iterdir()):
        cached = args.cache / f"{path.name}.pkl"
        if cached.exists() and not args.rebuild:
            tracks.append(pickle.loads(cached.read_bytes()))
            continue
        full, penult = full_with_patches(models, path)
        cached.write_bytes(pickle.dumps((path.name, full, penult)))
        tracks.append((path.name, full, penult))
        print(f"analysed {path.name}: {len(full.patch_starts_s)} patches", flush=True)

    # (kind, budget, (margin, z, tie margin)): see the module docstring.
    strategies = [("spread", b, None) for b in (8, 12, 16, 24, 32, 48)]
    strategies += [("refine", b, (m, None, None)) for b in (8, 12, 16) for m in (0.03, 0.05, 0.08, 0.12)]
    strategies += [("refine", 16, (0.05, z, None)) for z in (1.0, 1.5, 2.0, 3.0)]
    closer_looks = [(m, z, None) for m in (0.05, 0.08) for z in (None, 1.0, 1.5)]
    closer_looks += [(0.05, z, tie) for z in (None, 1.5) for tie in (0.01, 0.02, 0.03, 0.05)]
    strategies += [("closer", b, look) for b in (12, 16, 24) for look in closer_looks]
    total = sum(len(f.patch_starts_s) for _, f, _ in tracks)
    print(f"\n{len(tracks)} tracks, {total} patches in all")
    for kind, budget, look in strategies:
        equal, top3_equal, share, used, refined, differing = 0, 0, [], 0, 0, []
        check = near_a_threshold(models.vocabulary, *look) if look is not None else None
        for name, full, penult in tracks:
            n = len(full.patch_starts_s)
            rows = spread_patches(n, budget)
            rows = np.arange(n) if rows is None else rows
            got = subset_analysis(models, full, penult, rows)
            if kind == "closer" and len(rows) < n and check(got):
                refined += 1
                rows = np.union1d(rows, closer_look_patches(n, budget))
                got = subset_analysis(models, full, penult, rows)
            if kind == "refine" and len(rows) < n and check(got):
                refined += 1
                rows = spread_patches(n, 3 * budget)
                rows = np.arange(n) if rows is None else rows
                got = subset_analysis(models, full, penult, rows)
            share.append(len(rows) / n)
            used += len(rows)
            same = written(full, models) == written(got, models)
            equal += same
            top3_equal += top3(full) == top3(got)
            if not same:
                differing.append(name)
        label = f"{kind} {budget}"
        if look is not None:
            margin, z, tie = look
            label += f" margin {margin:.2f}" + (f" z {z:g}" if z is not None else "")
            label += f" ties {tie:g}" if tie is not None else ""
        print(
            f"{label:32s} labels equal {equal:2d}/{len(tracks)}  top-3 equal {top3_equal:2d}/{len(tracks)}"
            f"  patches {used:4d} ({100 * used / total:4.1f} %;"
            f" per track {100 * np.mean(share):5.1f} %)"
            f"  refined {refined:2d}  differs: {', '.join(differing) or '-'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
