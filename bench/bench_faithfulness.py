"""Faithfulness of the explanation methods: the deletion test. Prints a table per method.

    .venv/bin/python bench/bench_faithfulness.py [FOLDER] [--seconds 30] [--methods gradcam,ig,...]

For each track of FOLDER (default ../shared/audio; the script says so and exits 0 when it is absent), the
first ``--seconds`` of audio (30 s = 10 patches by default, to bound the time on a small CPU) and its
top-1 raw tag of MSD_musicnn (``--top`` for more), each method's map ranks the (frame, band) cells of
every patch. Blanking (setting to silence, log-mel 0) the top k % cells should drop that label's score
(the sigmoid of its logit, mean over patches) more than blanking random regions of the same area:
random blocks of 16 frames × 8 bands (0.26 s × 1/12 of the bands) ranked at random, ``--draws`` draws
averaged, the same draws for every method. Blocks, not scattered cells: blanking k % isolated cells
peppers the whole patch with holes, an artefact the network reacts to far more than to any region of the
same area, which would make every contiguous map look worse than "random". Per method and k in {5, 10, 20}:
mean drop by the map, mean drop at random, their ratio. Last line:
``faithfulness: <method>=<ratio averaged over k> …``. A ratio ≤ 1 means no better than random: such a
method must not be ``musictagger.explain.methods.DEFAULT_METHOD``.

``--heads dj_moods,energy_valence`` runs the same test on the labels the DJ sees, explained through their
head (``musictagger.explain.head_net.HeadNet``: the head over each patch's features of its taggers): every
output of each head (a regression value twice, what raises it and what lowers it), the score being the
head's **track-level** output on the excerpt (a calibrated probability, or the value), as the app shows it.
Default method for heads: DEFAULT_METHOD only (each map is a backward pass through two taggers). Two
deletions: cells set to silence, as above, and cells scaled a tenth of the way to silence (``ATTENUATE``),
the small step gradient × input estimates. Per label and k: mean drop by the map, at random, their ratio,
and in how many (track, k) the map's drop beat random's; per deletion a line ``head faithfulness (<method>,
<deletion>): <label>=<ratio averaged over k> (<wins>/<track x k>) …``. Where random regions barely move a
score (the small step), the ratio is large and unstable: read the wins. The taggers run once per blanked
input for every head (heads share them). Suggested run on 2 CPU cores (16 tracks: 30 min):

    .venv/bin/python bench/bench_faithfulness.py ../shared/audio/music \\
        --heads dj_moods,energy_valence --seconds 6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.analysis import Analyzer  # noqa: E402
from musictagger.explain.api import compute_map, head_net  # noqa: E402
from musictagger.explain.attributions import SILENCE  # noqa: E402
from musictagger.explain.head_net import HeadNet, track_scores  # noqa: E402
from musictagger.explain.labels import label_logit  # noqa: E402
from musictagger.explain.methods import DEFAULT_METHOD  # noqa: E402
from musictagger.files import iter_audio_files  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "audio"
MODEL = "MSD_musicnn"
DEFAULT_METHODS = (
    "gradcam,hirescam,gradcam@mid.conv3,grad_input,ig,"
    "gradcam_ig,gradcam_grad_input,hirescam_ig,hirescam_grad_input"
)
# Combinations are the product of their parts' maps; the bench reuses the parts instead of recomputing.
PRODUCTS = {
    "gradcam_ig": ("gradcam", "ig"),
    "gradcam_grad_input": ("gradcam", "grad_input"),
    "hirescam_ig": ("hirescam", "ig"),
    "hirescam_grad_input": ("hirescam", "grad_input"),
}
KS = (5, 10, 20)
# The heads' second deletion: the chosen cells moved a tenth of the way to silence (x -> 0.9 x), the
# small step gradient x input is a first-order estimate of. Full silence is far from it: a head reading
# both taggers' embeddings (energy, Aggressive) reacts to holes cut into the spectrogram itself, so that
# blanking the very cells that raise energy to silence can raise it (measured: README, "Explanations").
ATTENUATE = 0.9
DELETIONS = {"silence": 0.0, "attenuate": ATTENUATE}
RANDOM_BLOCK = (16, 8)  # frames × bands of one random region


def random_regions(rng: np.random.Generator, shape: tuple[int, int, int]) -> np.ndarray:
    """A ranking of the cells that is constant on RANDOM_BLOCK blocks and random between them."""
    n, t, f = shape
    bt, bf = RANDOM_BLOCK
    coarse = rng.random((n, -(-t // bt), -(-f // bf)))
    return np.repeat(np.repeat(coarse, bt, axis=1), bf, axis=2)[:, :t, :f] + 1e-9 * rng.random(shape)


@torch.no_grad()
def label_scores(net, patches: np.ndarray, indices) -> np.ndarray:
    """(n,) probability of the label per patch."""
    return torch.sigmoid(label_logit(net(torch.from_numpy(patches)).logits, indices)).numpy()


def blank(patches: np.ndarray, ranking: np.ndarray, k: int, keep: float = 0.0) -> np.ndarray:
    """Patches with the top k % cells of ``ranking`` (same shape) set to silence, per patch; ``keep`` > 0
    moves them only part of the way: to SILENCE + keep · (x − SILENCE) (``ATTENUATE``)."""
    n, t, f = patches.shape
    count = round(k / 100 * t * f)
    flat_rank = ranking.reshape(n, -1)
    top = np.argpartition(-flat_rank, count - 1, axis=1)[:, :count]
    out = patches.reshape(n, -1).copy()
    chosen = np.take_along_axis(out, top, axis=1)
    np.put_along_axis(out, top, SILENCE + keep * (chosen - SILENCE), axis=1)
    return out.reshape(n, t, f)


def deletion_drops(net, patches, indices, ranking, base) -> dict[int, float]:
    return {k: float(np.mean(base - label_scores(net, blank(patches, ranking, k), indices))) for k in KS}


def track_excerpt(analyzer: Analyzer, path: str, seconds: float):
    """(patches (n, 187, 96), top raw tags by score) of the first ``seconds`` of the track."""
    audio = {rate: wave[: int(seconds * rate)] for rate, wave in analyzer.decode(path).items()}
    analysis = analyzer.analyse_decoded(path, audio, keep_spectrogram=True)
    frames = analysis.spectrogram.shape[0] // 187 * 187
    patches = analysis.spectrogram[:frames].reshape(-1, 187, analysis.spectrogram.shape[1])
    scores = analysis.models[MODEL]
    order = np.argsort(-scores.scores)
    return np.ascontiguousarray(patches, dtype=np.float32), [scores.labels[i] for i in order]


def excerpt_patches(analyzer: Analyzer, path: str, seconds: float) -> np.ndarray:
    """(n, 187, 96) log-mel patches of the first ``seconds`` of the track, as the analysis cuts them."""
    audio = {rate: wave[: int(seconds * rate)] for rate, wave in analyzer.decode(path).items()}
    spectrogram = analyzer.analyse_decoded(path, audio, keep_spectrogram=True).spectrogram
    frames = spectrogram.shape[0] // 187 * 187
    return np.ascontiguousarray(spectrogram[:frames].reshape(-1, 187, spectrogram.shape[1]), np.float32)


@torch.no_grad()
def head_track_scores(nets: dict[str, HeadNet], patches: np.ndarray) -> dict[str, np.ndarray]:
    """{head: (n_outputs,) its track-level outputs on the patches}; each tagger runs once for all heads."""
    x = torch.from_numpy(patches)
    taggers = {}
    for net in nets.values():
        for card, tagger in zip(net.tagger_cards, net.taggers, strict=True):
            taggers.setdefault(card.name, tagger)
    outputs = {name: tagger(x) for name, tagger in taggers.items()}
    return {name: track_scores(net, net.from_outputs(outputs).logits).numpy() for name, net in nets.items()}


def bench_heads(args, files: list[str]) -> int:
    """The deletion test on every output of the named heads (see the module docstring)."""
    heads = [h for h in args.heads.split(",") if h]
    methods = [m for m in (args.methods or DEFAULT_METHOD).split(",") if m]
    analyzer = Analyzer(device="cpu", heads=heads)
    nets = {name: head_net(analyzer, name) for name in heads}
    wanted = {w.casefold() for w in args.labels.split(",") if w}
    labels = [
        (head, i, out)
        for head, net in nets.items()
        for i, out in enumerate(net.labels)
        if not wanted or out.casefold() in wanted
    ]
    regions_rng, ties_rng = np.random.default_rng(0), np.random.default_rng(1)
    # (deletion, method, head, output index) -> k -> per-track drops; method None: random regions
    drops: dict[tuple, dict[int, list[float]]] = {}
    map_seconds = {m: 0.0 for m in methods}
    started = time.perf_counter()
    n_tracks = 0
    for path in files:
        patches = excerpt_patches(analyzer, path, args.seconds)
        if len(patches) == 0:
            continue
        n_tracks += 1
        base = head_track_scores(nets, patches)
        regions = [random_regions(regions_rng, patches.shape) for _ in range(args.draws)]
        for deletion, keep in DELETIONS.items():
            draws = [{k: head_track_scores(nets, blank(patches, r, k, keep)) for k in KS} for r in regions]
            for head, index, _ in labels:
                for k in KS:
                    mean = np.mean([base[head][index] - draw[k][head][index] for draw in draws])
                    drops.setdefault((deletion, None, head, index), {k: [] for k in KS})[k].append(
                        float(mean)
                    )
        for head, index, _ in labels:
            for method in methods:
                t0 = time.perf_counter()
                flat = compute_map(nets[head], patches.reshape(-1, patches.shape[2]), (index,), method, 187)
                map_seconds[method] += time.perf_counter() - t0
                ranking = flat.reshape(patches.shape) + 1e-9 * ties_rng.random(patches.shape)
                for deletion, keep in DELETIONS.items():
                    for k in KS:
                        after = head_track_scores({head: nets[head]}, blank(patches, ranking, k, keep))
                        key = (deletion, method, head, index)
                        drops.setdefault(key, {k: [] for k in KS})[k].append(
                            float(base[head][index] - after[head][index])
                        )
        print(
            f"  {Path(path).name}: {len(patches)} patches, {time.perf_counter() - started:.0f} s", flush=True
        )

    blocks = f"{RANDOM_BLOCK[0]}x{RANDOM_BLOCK[1]}-cell blocks"
    print(
        f"\n{n_tracks} tracks x {len(labels)} head labels, first {args.seconds:g} s each, {args.draws} "
        f"random draws of {blocks}, {time.perf_counter() - started:.0f} s in all"
    )
    for method in methods:
        for deletion, keep in DELETIONS.items():
            how = "set to silence" if keep == 0 else f"scaled toward silence (x -> {keep:g} x)"
            print(
                f"\n{method}, top cells {how} (map time {map_seconds[method]:.1f} s in all); drop = the "
                "head's track score (probability or value) before - after"
            )
            print(
                f"{'head':<15} {'label':<26} "
                + " ".join(f"{'k=' + str(k) + ' map/random':>21}" for k in KS)
                + f" {'ratio':>6} {'wins':>7}"
            )
            summary = []
            for head, index, output in labels:
                ratios, cells, wins = [], [], 0
                for k in KS:
                    by_map = drops[(deletion, method, head, index)][k]
                    at_random = drops[(deletion, None, head, index)][k]
                    wins += sum(a > b for a, b in zip(by_map, at_random, strict=True))
                    mean_map, mean_random = float(np.mean(by_map)), float(np.mean(at_random))
                    ratios.append(mean_map / mean_random if mean_random > 0 else float("nan"))
                    cells.append(f"{mean_map:>10.4f}/{mean_random:<10.4f}")
                ratio = float(np.nanmean(ratios)) if np.isfinite(ratios).any() else float("nan")
                shown = f"{ratio:>6.2f}" if np.isfinite(ratio) else f"{'n/a':>6}"
                print(
                    f"{head:<15} {output:<26} "
                    + " ".join(cells)
                    + f" {shown} {wins:>3}/{n_tracks * len(KS):<3}"
                )
                ratio_text = f"{ratio:.2f}" if np.isfinite(ratio) else "n/a"
                summary.append(f"{output}={ratio_text} ({wins}/{n_tracks * len(KS)})")
            print(f"head faithfulness ({method}, {deletion}): " + " ".join(summary))
    print(
        "\nratio: mean drop by the map / mean drop at random, averaged over k (n/a where random regions did "
        "not lower the score on average); wins: (track, k) pairs where the map's drop beat random's"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_FOLDER))
    parser.add_argument("--seconds", type=float, default=30.0, help="audio per track (default 30 s)")
    parser.add_argument("--top", type=int, default=1, help="top raw tags per track to explain")
    parser.add_argument("--draws", type=int, default=3, help="random blankings averaged per k")
    parser.add_argument(
        "--methods", default=None, help=f"default: {DEFAULT_METHODS}; with --heads: the default method"
    )
    parser.add_argument("--limit", type=int, default=0, help="at most this many tracks (0: all)")
    parser.add_argument("--heads", default="", help="e.g. dj_moods,energy_valence: test these heads' labels")
    parser.add_argument("--labels", default="", help="with --heads: only these outputs (e.g. Dark,energy)")
    args = parser.parse_args()

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"{folder}: no such folder, nothing to measure (pass a folder of audio files)")
        return 0
    files = [f for f in iter_audio_files([folder]) if isinstance(f, str)]
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"{folder}: no audio files, nothing to measure")
        return 0
    if args.heads:
        return bench_heads(args, files)
    methods = (args.methods or DEFAULT_METHODS).split(",")
    analyzer = Analyzer([MODEL], device="cpu")
    net, card = analyzer._groups[0].models[0][1:]
    regions_rng = np.random.default_rng(0)  # its own stream: the random baseline never depends on --methods
    ties_rng = np.random.default_rng(1)
    by_map = {m: {k: [] for k in KS} for m in methods}
    at_random = {k: [] for k in KS}
    seconds = {m: 0.0 for m in methods}
    started = time.perf_counter()
    for path in files:
        patches, ranked_tags = track_excerpt(analyzer, path, args.seconds)
        if len(patches) == 0:
            continue
        for tag in ranked_tags[: args.top]:
            indices = (card.labels.index(tag),)
            base = label_scores(net, patches, indices)
            draws = [
                deletion_drops(net, patches, indices, random_regions(regions_rng, patches.shape), base)
                for _ in range(args.draws)
            ]
            for k in KS:
                at_random[k].append(float(np.mean([d[k] for d in draws])))
            maps: dict[str, np.ndarray] = {}
            for method in methods:
                t0 = time.perf_counter()
                if method in PRODUCTS and all(p in maps for p in PRODUCTS[method]):
                    first, second = PRODUCTS[method]
                    maps[method] = maps[first] * maps[second]
                else:
                    spectrogram = patches.reshape(-1, patches.shape[2])
                    flat = compute_map(net, spectrogram, indices, method, 187)
                    maps[method] = flat.reshape(patches.shape)
                seconds[method] += time.perf_counter() - t0
                # Tiny noise breaks ties at random (a time-only map is constant over bands).
                ranking = maps[method] + 1e-9 * ties_rng.random(patches.shape)
                for k, drop in deletion_drops(net, patches, indices, ranking, base).items():
                    by_map[method][k].append(drop)
        print(f"  {Path(path).name}: {len(patches)} patches, {ranked_tags[: args.top]}", flush=True)

    n = len(at_random[KS[0]])
    print(
        f"\n{n} track-labels, first {args.seconds:g} s each, {args.draws} random draws of "
        f"{RANDOM_BLOCK[0]}x{RANDOM_BLOCK[1]}-cell blocks, "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    summary = []
    for method in methods:
        print(f"\n{method}  (map time {seconds[method]:.1f} s in all)")
        print(f"{'k %':>4} {'drop by map':>12} {'drop random':>12} {'ratio':>7}")
        ratios = []
        for k in KS:
            drop_map, drop_random = float(np.mean(by_map[method][k])), float(np.mean(at_random[k]))
            ratio = drop_map / drop_random if drop_random > 0 else float("inf")
            ratios.append(ratio)
            print(f"{k:>4} {drop_map:>12.4f} {drop_random:>12.4f} {ratio:>7.2f}")
        summary.append(f"{method}={np.mean(ratios):.2f}")
    print("\nfaithfulness: " + " ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
