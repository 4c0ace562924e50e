"""Parity from the audio file itself: musictagger's whole pipeline against the original musicnn's outputs.

    .venv/bin/python tools/check_parity.py [--reference DIR] [--audio DIR] [--device cpu]
        [--precision auto|fp32|bf16]

For every ``<file>.npz`` in the reference folder (default ../shared/reference/musicnn) it finds ``<file>``
under the audio folder (default ../shared/audio), analyses it with musictagger (our decoder, resampler,
log-mel module and port; ``--precision`` as the product runs it, auto by default) and compares, per
model, the track-level tag probabilities (mean over patches) with the mean of the reference taggram:
mean abs difference (bar: 0.01) and the top-3 tags (bar: the same three). Exits 1 if any file misses a bar.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.analysis import Analyzer  # noqa: E402

MEAN_ABS_BAR = 0.01


def compare(analysis, reference) -> dict[str, tuple[float, float, bool, list[str], list[str]]]:
    """Per model: (mean abs diff, max abs diff, same top-3 set, our top-3, their top-3)."""
    out = {}
    for model, scores in analysis.models.items():
        ref_taggram = reference[f"{model}_taggram"]
        ref_mean = ref_taggram.mean(axis=0)
        ours = scores.scores
        labels = list(scores.labels)
        assert labels == [str(x) for x in reference[f"{model.split('_')[0]}_labels"]], "label order differs"
        top_ours = [labels[i] for i in np.argsort(-ours)[:3]]
        top_ref = [labels[i] for i in np.argsort(-ref_mean)[:3]]
        diff = np.abs(ours - ref_mean)
        out[model] = (float(diff.mean()), float(diff.max()), set(top_ours) == set(top_ref), top_ours, top_ref)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference" / "musicnn")
    parser.add_argument("--audio", type=Path, default=ROOT.parent / "shared" / "audio")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision",
        default="auto",
        help="auto (the product's default), fp32 or bf16: how the networks compute",
    )
    args = parser.parse_args()
    if not args.reference.is_dir():
        print(f"check_parity: no reference folder {args.reference}; nothing to check")
        return 0
    audio = {p.name: p for p in args.audio.rglob("*") if p.is_file()}
    analyzer = Analyzer(device=args.device, precision=args.precision)
    print(f"analyser on {analyzer.device_name}")
    failures = 0
    worst_mean = 0.0
    print(f"{'file':<45} {'model':<12} {'mean|d|':>8} {'max|d|':>7}  top-3 (ours | original)")
    for npz in sorted(args.reference.glob("*.npz")):
        name = npz.name[: -len(".npz")]
        if name not in audio:
            print(f"{name:<45} missing audio file")
            failures += 1
            continue
        with np.load(npz) as ref:
            reference = {k: ref[k] for k in ref.files}
        analysis = analyzer.analyse_file(audio[name])
        for model, (mean_d, max_d, same, ours, theirs) in compare(analysis, reference).items():
            ok = mean_d <= MEAN_ABS_BAR and same
            failures += not ok
            worst_mean = max(worst_mean, mean_d)
            flag = "" if ok else "  <-- FAIL"
            print(f"{name:<45} {model:<12} {mean_d:8.5f} {max_d:7.4f}  {ours} | {theirs}{flag}")
    print(f"parity from audio: worst mean abs {worst_mean:.5f} (bar {MEAN_ABS_BAR}), {failures} failing rows")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
