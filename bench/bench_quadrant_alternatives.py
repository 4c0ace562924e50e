"""Could another recipe lift the mood-quadrant head past 0.78 on mer4q? Each one, measured the same way.

    .venv/bin/python bench/bench_quadrant_alternatives.py [--shared ../shared] [--repeats 5] [--descriptors]
        [--mid-end] [--patches] [--mood-words] [--vgg]

The shipped ``mood_quadrants`` head is a temperature-scaled logistic regression on the MSD and MTT musicnn
embeddings (tools/train_dj_heads.py). One run of 5-fold cross-validation moves by ±1.5 points with the
split alone, so every recipe below is scored by **repeated** nested, artist-disjoint 5-fold CV (split seeds
0..repeats-1): inside each outer fold the recipe's own settings (its L2 strength, shrinkage, C…) are chosen
by inner group CV on the training part only. The mean over the repeats, its range, and the settings the
inner loops chose are printed. Temperature scaling does not move the top class, so it is left out here.

Recipes: the shipped one; the same with wider L2 grid; the embeddings plus the taggers' 100 tag
probabilities; shrinkage LDA; an RBF support-vector machine; arousal and valence as two separate logistic
regressions combined into a quadrant; the embeddings plus the key's mode, the tempo and their confidences
(the stage ``tag`` runs; valence is the weak axis and minor keys lean negative); with ``--descriptors``,
another representation: 109 hand-made descriptors of timbre, dynamics, rhythm and tonality (librosa, in
the spirit of Panda et al.'s features), alone and beside the embeddings; with ``--mid-end``, the taggers'
mid-level features instead of their penultimate layer: the mean and max over time of the mid-end map (753
+ 753 per tagger, the ``max_pool`` layer musicnn's authors offer for transfer learning), averaged over
the clip's patches, alone and beside the embeddings; with ``--patches``, a logistic regression trained on
every patch's embedding rather than on the clip's mean (a clip's quadrant: the highest mean
log-probability over its patches); with ``--patch-stats``, the clip's mean embedding beside how its
patches spread (their standard deviation) or peak (their maximum) over the clip; with ``--mood-words``,
AllMusic's mood words (from which mer4q's quadrants were derived) as a second teacher for the training
clips, by partial least squares and by stacking; with ``--vgg``, musicnn's VGG-style taggers (MSD_vgg,
MTT_vgg: another architecture trained on the same tags), run by ``bench/musicnn_vgg_features.py`` in the
original's scratch TensorFlow venv (``../shared/tools/README.md``), alone and beside the embeddings.
Analyses are cached (``MUSICTAGGER_CACHE_DIR``); the tempo/key pass decodes the 426 clips again (about 1
minute). Needs ``../shared``: says so and exits 0 without it.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from functools import partial
from pathlib import Path

import librosa
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sklearn.cross_decomposition import PLSRegression  # noqa: E402
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from musictagger.analysis import Analyzer  # noqa: E402
from musictagger.audio import load_audio  # noqa: E402
from musictagger.head_training.calibration import C_GRID, group_splits  # noqa: E402
from musictagger.head_training.sources import dataset_tracks  # noqa: E402
from musictagger.tempo_key import estimate_tempo_key  # noqa: E402

INPUTS = ("MSD_musicnn", "MTT_musicnn")
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
C_WIDE = (0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
C_MID = (0.0003, 0.001, 0.003, 0.01, 0.03)  # 3,012 features: only the strong end of the L2 grid


def _logistic(c: float):
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000))


RECIPES = {
    "shipped: logistic, C grid of the tool": lambda: [(c, _logistic(c)) for c in C_GRID],
    "logistic, wider C grid": lambda: [(c, _logistic(c)) for c in C_WIDE],
    "shrinkage LDA": lambda: [
        (s, make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage=s)))
        for s in (0.1, 0.3, 0.5, 0.7, 0.9)
    ],
    "RBF SVM": lambda: [
        (c, make_pipeline(StandardScaler(), SVC(C=c, class_weight="balanced"))) for c in (0.3, 1.0, 3.0, 10.0)
    ],
}


def _nested(x: np.ndarray, y: np.ndarray, groups: np.ndarray, recipe, seed: int) -> tuple[np.ndarray, list]:
    """Out-of-fold predictions; each outer fold picks the recipe's setting by inner group CV."""
    predicted = np.zeros(len(y), dtype=int)
    chosen = []
    for k, (train, test) in enumerate(group_splits(y, groups, 5, seed)):
        inner = group_splits(y[train], groups[train], 5, seed + k + 1)
        best = None
        for setting, model in recipe():
            accuracy = np.mean(cross_val_predict(model, x[train], y[train], cv=inner) == y[train])
            if best is None or accuracy > best[0] + 1e-9:
                best = (accuracy, setting, model)
        chosen.append(best[1])
        predicted[test] = best[2].fit(x[train], y[train]).predict(x[test])
    return predicted, chosen


def _factorised(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Arousal (Q1/Q2) and valence (Q1/Q4) as two logistic regressions, each with its own C."""
    axes = (np.isin(y, (0, 1)).astype(int), np.isin(y, (0, 3)).astype(int))
    predicted = np.zeros(len(y), dtype=int)
    for k, (train, test) in enumerate(group_splits(y, groups, 5, seed)):
        inner = group_splits(y[train], groups[train], 5, seed + k + 1)
        said = []
        for target in axes:
            scores = [
                roc_auc_score(
                    target[train],
                    cross_val_predict(
                        _logistic(c), x[train], target[train], cv=inner, method="decision_function"
                    ),
                )
                for c in C_WIDE
            ]
            c = C_WIDE[int(np.argmax(scores))]
            said.append(_logistic(c).fit(x[train], target[train]).predict(x[test]))
        high, positive = (column.astype(bool) for column in said)
        predicted[test] = np.select([high & positive, high & ~positive, ~high & ~positive], [0, 1, 2], 3)
    return predicted


def _key_features(paths: list[str]) -> np.ndarray:
    """Per clip: mode (+1 major / -1 minor, times the key's confidence), tempo / 100, tempo confidence,
    tonal share: what ``tag``'s tempo/key stage measures."""
    rows = []
    for path in paths:
        estimate = estimate_tempo_key(load_audio(path, 16000), 16000, (70.0, 180.0), None)
        key = estimate.key.key
        mode = 0.0 if key is None else (-1.0 if key.is_minor else 1.0) * estimate.key.confidence
        rows.append(
            [mode, (estimate.tempo.bpm or 120.0) / 100, estimate.tempo.confidence, estimate.key.tonal_share]
        )
    return np.array(rows)


DESCRIPTOR_RATE = 22050
MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def _mean_std(a: np.ndarray) -> np.ndarray:
    a = np.atleast_2d(a)
    return np.concatenate([a.mean(axis=1), a.std(axis=1)])


def _descriptors(path: str) -> np.ndarray:
    """Hand-made descriptors of one clip, in the spirit of Panda et al.'s: timbre (MFCC, spectral shape and
    contrast), dynamics, rhythm (onsets, tempo, pulse clarity), harmonic/percussive balance, tonality (major
    vs minor key clarity, chroma entropy, tonnetz spread): 109 numbers."""
    y = load_audio(path, DESCRIPTOR_RATE).astype(np.float32)
    if y.ndim > 1:
        y = y.mean(axis=0)
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    P = S**2
    mel = librosa.feature.melspectrogram(S=P, sr=DESCRIPTOR_RATE, n_mels=96)
    logmel = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=20)
    out = [_mean_std(mfcc), librosa.feature.delta(mfcc).std(axis=1)]
    out.append(_mean_std(librosa.feature.spectral_centroid(S=S, sr=DESCRIPTOR_RATE)))
    out.append(_mean_std(librosa.feature.spectral_bandwidth(S=S, sr=DESCRIPTOR_RATE)))
    out.append(_mean_std(librosa.feature.spectral_rolloff(S=S, sr=DESCRIPTOR_RATE)))
    out.append(_mean_std(librosa.feature.spectral_flatness(S=S)))
    out.append(_mean_std(librosa.feature.spectral_contrast(S=S, sr=DESCRIPTOR_RATE)))
    out.append(_mean_std(librosa.feature.zero_crossing_rate(y)))
    rms = librosa.feature.rms(S=S)[0]
    db = librosa.amplitude_to_db(rms + 1e-9)
    out.append(
        np.array(
            [db.mean(), db.std(), np.percentile(db, 95) - np.percentile(db, 5), np.mean(rms < rms.mean())]
        )
    )
    flux = np.sqrt((np.diff(S, axis=1).clip(min=0) ** 2).sum(axis=0))
    out.append(_mean_std(np.log1p(flux)))
    onset = librosa.onset.onset_strength(S=logmel, sr=DESCRIPTOR_RATE)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=DESCRIPTOR_RATE)[0]
    pulse = librosa.beat.plp(onset_envelope=onset, sr=DESCRIPTOR_RATE)
    n_onsets = len(librosa.onset.onset_detect(onset_envelope=onset, sr=DESCRIPTOR_RATE))
    out.append(
        np.array(
            [
                onset.mean(),
                onset.std(),
                tempo / 100,
                pulse.mean(),
                pulse.std(),
                n_onsets / (len(y) / DESCRIPTOR_RATE),
            ]
        )
    )
    H, Pc = librosa.decompose.hpss(S)
    eh, ep = (H**2).sum(), (Pc**2).sum()
    out.append(np.array([np.log((eh + 1e-9) / (ep + 1e-9))]))
    chroma = librosa.feature.chroma_stft(S=H**2, sr=DESCRIPTOR_RATE)
    c = chroma.mean(axis=1)
    maj = [np.corrcoef(np.roll(MAJOR, k), c)[0, 1] for k in range(12)]
    mnr = [np.corrcoef(np.roll(MINOR, k), c)[0, 1] for k in range(12)]
    ent = -(
        chroma
        / (chroma.sum(axis=0, keepdims=True) + 1e-9)
        * np.log(chroma / (chroma.sum(axis=0, keepdims=True) + 1e-9) + 1e-9)
    ).sum(axis=0)
    out.append(
        np.array(
            [
                max(maj),
                max(mnr),
                max(maj) - max(mnr),
                np.sort(c)[-3:].sum() / (c.sum() + 1e-9),
                ent.mean(),
                ent.std(),
            ]
        )
    )
    tonnetz = librosa.feature.tonnetz(chroma=chroma)
    out.append(tonnetz.std(axis=1))
    return np.concatenate([np.ravel(o) for o in out]).astype(np.float64)


def _per_patch(paths: list[str], name: str, take) -> list[np.ndarray]:
    """Per clip, ``take(MusicnnOutput)`` of each of its patches, both taggers side by side: an
    ``(n_patches, features)`` array; the full analysis, fp32. Cached beside the analyses
    (``MUSICTAGGER_CACHE_DIR``) as ``bench-quadrant-{name}.npz``."""
    from musictagger.paths import cache_dir

    cache = cache_dir() / f"bench-quadrant-{name}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            if "counts" in stored.files and list(stored["paths"]) == list(paths):
                return np.split(stored["features"], np.cumsum(stored["counts"])[:-1])
    analyzer = Analyzer(INPUTS, device="cpu", heads=(), precision="fp32")
    captured: dict[str, list[np.ndarray]] = {}

    def keep(model: str):
        def hook(_module, _inputs, out) -> None:
            captured.setdefault(model, []).append(take(out).float().cpu().numpy())

        return hook

    handles = [analyzer.model(model)[0].register_forward_hook(keep(model)) for model in INPUTS]
    clips = []
    try:
        for path in paths:
            captured.clear()
            analyzer.analyse_file(path)
            clips.append(np.concatenate([np.concatenate(captured[model]) for model in INPUTS], axis=1))
    finally:
        for handle in handles:
            handle.remove()
    counts = np.array([len(clip) for clip in clips])
    np.savez(cache, paths=np.array(paths), features=np.concatenate(clips), counts=counts)
    return clips


def _mid_end_pools(paths: list[str]) -> np.ndarray:
    """Per clip and tagger: the mid-end map's mean and max over time (``MusicnnOutput.mean_pool`` and
    ``max_pool``), each averaged over the clip's patches."""
    clips = _per_patch(paths, "mid-end", lambda out: torch.cat([out.mean_pool, out.max_pool], dim=1))
    return np.stack([clip.mean(axis=0) for clip in clips]).astype(float)


def patch_log_proba(clips: list[np.ndarray], y: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold log-probabilities of the per-patch logistic regression: a clip's mean log-probability
    over its patches, renormalised."""
    owner = np.concatenate([np.full(len(clip), k) for k, clip in enumerate(clips)])
    x = np.concatenate(clips).astype(float)
    counts = np.array([len(clip) for clip in clips], dtype=float)

    def clip_log_p(train: np.ndarray, test: np.ndarray, c: float) -> np.ndarray:
        fit = np.isin(owner, train)
        model = _logistic(c).fit(x[fit], y[owner[fit]])
        summed = np.zeros((len(clips), len(QUADRANTS)))
        scored = np.isin(owner, test)
        np.add.at(summed, owner[scored], model.predict_log_proba(x[scored]))
        mean = summed[test] / counts[test, None]
        return mean - np.logaddexp.reduce(mean, axis=1, keepdims=True)

    out = np.zeros((len(y), len(QUADRANTS)))
    for k, (train, test) in enumerate(group_splits(y, groups, 5, seed)):
        inner = group_splits(y[train], groups[train], 5, seed + k + 1)
        scores = [
            np.mean(
                np.concatenate([clip_log_p(train[a], train[b], c).argmax(1) == y[train[b]] for a, b in inner])
            )
            for c in C_GRID
        ]
        out[test] = clip_log_p(train, test, C_GRID[int(np.argmax(scores))])
    return out


def _nested_patches(clips: list[np.ndarray], y: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """A logistic regression fitted on every patch's embedding (each with its clip's quadrant); a clip's
    quadrant is the one with the highest mean log-probability over its patches. C by inner group CV."""
    return patch_log_proba(clips, y, groups, seed).argmax(1)


def _vgg_features(paths: list[str], tf_python: str, musicnn_pkg: str) -> np.ndarray | None:
    """The VGG taggers' clip features (``bench/musicnn_vgg_features.py``), in ``paths``' order."""
    if not (Path(tf_python).exists() and Path(musicnn_pkg, "MTT_vgg").is_dir()):
        print(f"--vgg: the original's set-up is missing ({tf_python}, {musicnn_pkg}): see ../shared/tools")
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "vgg.npz"
        started = time.time()
        subprocess.run(
            [tf_python, str(REPO / "bench" / "musicnn_vgg_features.py"), musicnn_pkg, str(out), *paths],
            check=True,
        )
        with np.load(out) as saved:
            features = np.stack([saved[Path(path).name] for path in paths]).astype(float)
    print(f"VGG taggers' features of every clip in {time.time() - started:.0f} s ({features.shape[1]} each)")
    return features


def _mood_word_matrix(rows: list[dict], min_tracks: int = 5) -> np.ndarray:
    """Per clip, which of AllMusic's mood words (mer4q's ``moods``; those of at least ``min_tracks``
    clips) it carries: finer labels than the quadrant, from which the quadrants were derived."""
    words = [{w.strip() for w in row["moods"].split(";") if w.strip()} for row in rows]
    counts = Counter(word for clip in words for word in clip)
    vocabulary = sorted(word for word, n in counts.items() if n >= min_tracks)
    return np.array([[word in clip for word in vocabulary] for clip in words], dtype=float)


def _nested_with_mood_words(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, words: np.ndarray, seed: int, how: str
) -> np.ndarray:
    """The quadrant with AllMusic's mood words as a second teacher (known for training clips only): ``pls``
    projects the embeddings on 32 partial-least-squares directions that predict the words and the
    quadrant together; ``stacked`` adds ridge predictions of the words (out of fold on the training part)
    beside the embeddings. Then the shipped logistic regression, C by inner group CV."""
    predicted = np.zeros(len(y), dtype=int)
    for k, (train, test) in enumerate(group_splits(y, groups, 5, seed)):
        inner = group_splits(y[train], groups[train], 5, seed + k + 1)
        if how == "pls":
            scaler = StandardScaler().fit(x[train])
            targets = np.hstack([words, np.eye(len(QUADRANTS))[y]])
            pls = PLSRegression(n_components=32).fit(scaler.transform(x[train]), targets[train])
            fit_x, test_x = (pls.transform(scaler.transform(x[part])) for part in (train, test))
        else:
            ridge = make_pipeline(StandardScaler(), Ridge(alpha=10.0 * x.shape[1]))
            out_of_fold = np.zeros((len(train), words.shape[1]))
            for a, b in inner:
                out_of_fold[b] = ridge.fit(x[train][a], words[train][a]).predict(x[train][b])
            fit_x = np.hstack([x[train], out_of_fold])
            test_x = np.hstack([x[test], ridge.fit(x[train], words[train]).predict(x[test])])
        scores = [
            np.mean(cross_val_predict(_logistic(c), fit_x, y[train], cv=inner) == y[train]) for c in C_GRID
        ]
        predicted[test] = _logistic(C_GRID[int(np.argmax(scores))]).fit(fit_x, y[train]).predict(test_x)
    return predicted


def load_mer4q(shared: Path):
    """mer4q's analysed clips as the quadrant benches read them: ``(tracks, label rows, quadrant indices,
    artist groups, MSD + MTT embeddings)``, or None (said) without ``shared``. Analyses are cached
    (``MUSICTAGGER_CACHE_DIR``)."""
    root = shared / "eval" / "mer4q"
    if not (root / "labels.csv").is_file():
        print(f"{root} not found: nothing to measure")
        return None
    warnings.simplefilter("ignore", ConvergenceWarning)
    with (root / "labels.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    paths = [str(root / row["file"]) for row in rows]
    tracks = dataset_tracks(
        paths, [("-",)] * len(paths), [None] * len(paths), Analyzer(device="cpu", heads=(), precision="fp32")
    )
    kept = set(tracks.paths)
    rows = [row for row, path in zip(rows, paths, strict=True) if path in kept]
    embeddings = np.stack([np.concatenate([o[m].embedding for m in INPUTS]) for o in tracks.outputs]).astype(
        float
    )
    y = np.array([QUADRANTS.index(row["quadrant"]) for row in rows])
    groups = np.array([f"mer4q:{row.get('artist') or row['file']}" for row in rows])
    return tracks, rows, y, groups, embeddings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--descriptors",
        action="store_true",
        help="also the embeddings + 109 hand-made descriptors (decodes every clip again: ~20 minutes)",
    )
    parser.add_argument(
        "--mid-end",
        action="store_true",
        help="also the taggers' mid-level features (mean and max over time of the mid-end map; ~15 minutes)",
    )
    parser.add_argument(
        "--patches",
        action="store_true",
        help="also a logistic regression on every patch's embedding, clips by mean log-probability "
        "(one pass of the taggers over the clips, ~5 minutes; ~10 minutes of fitting per repeat)",
    )
    parser.add_argument(
        "--patch-stats",
        action="store_true",
        help="also the embeddings + the spread (std) or peak (max) of the patch embeddings over the clip "
        "(the per-patch pass of --patches, cached; ~20 minutes of fitting)",
    )
    parser.add_argument(
        "--mood-words",
        action="store_true",
        help="also AllMusic's mood words as a second teacher (partial least squares; stacked ridge)",
    )
    parser.add_argument(
        "--vgg",
        action="store_true",
        help="also musicnn's VGG-style taggers' features (needs --tf-python and --musicnn-pkg; ~2 minutes)",
    )
    parser.add_argument("--tf-python", default="/tmp/tfvenv/bin/python")
    parser.add_argument("--musicnn-pkg", default="/tmp/musicnn_pkg/musicnn")
    args = parser.parse_args(argv)
    clips = load_mer4q(args.shared)
    if clips is None:
        return 0
    tracks, rows, y, groups, embeddings = clips
    tag_probs = np.stack([np.concatenate([o[m].scores for m in INPUTS]) for o in tracks.outputs]).astype(
        float
    )
    started = time.time()
    key = _key_features(tracks.paths)
    print(f"{len(y)} clips; tempo/key of every clip in {time.time() - started:.0f} s")

    trials = [(name, embeddings, recipe) for name, recipe in RECIPES.items()]
    trials.append(
        ("logistic on embeddings + 100 tag probabilities", np.hstack([embeddings, tag_probs]), None)
    )
    trials.append(("logistic on embeddings + mode, tempo, confidences", np.hstack([embeddings, key]), None))
    if args.descriptors:
        started = time.time()
        descriptors = np.stack([_descriptors(path) for path in tracks.paths])
        print(f"hand-made descriptors of every clip in {time.time() - started:.0f} s")
        wide = RECIPES["logistic, wider C grid"]
        trials.append(("logistic, wider C grid, on the descriptors alone", descriptors, wide))
        trials.append(
            ("logistic, wider C grid, embeddings + descriptors", np.hstack([embeddings, descriptors]), wide)
        )
    if args.mid_end:
        started = time.time()
        mid = _mid_end_pools(tracks.paths)
        print(f"mid-level features of every clip in {time.time() - started:.0f} s ({mid.shape[1]} each)")
        strong = lambda: [(c, _logistic(c)) for c in C_MID]  # noqa: E731
        trials.append(("logistic on the mid-level features", mid, strong))
        trials.append(("logistic on embeddings + mid-level features", np.hstack([embeddings, mid]), strong))
    if args.vgg:
        vgg = _vgg_features(tracks.paths, args.tf_python, args.musicnn_pkg)
        if vgg is not None:
            wide = RECIPES["logistic, wider C grid"]
            trials.append(("logistic, wider C grid, on the VGG taggers' features", vgg, wide))
            trials.append(
                ("logistic, wider C grid, embeddings + VGG features", np.hstack([embeddings, vgg]), wide)
            )
    if args.patch_stats:
        clips = _per_patch(tracks.paths, "patches", lambda out: out.penultimate)
        wide = RECIPES["logistic, wider C grid"]
        for how, pool in (("std", np.std), ("max", np.max)):
            spread = np.stack([pool(clip, axis=0) for clip in clips]).astype(float)
            trials.append(
                (f"logistic, wider C grid, embeddings + patch {how}", np.hstack([embeddings, spread]), wide)
            )
    # Trials with x None: the recipe maps a split seed to out-of-fold predictions itself.
    if args.mood_words:
        words = _mood_word_matrix(rows)
        for how in ("pls", "stacked"):
            trials.append(
                (
                    f"mood words as second teacher: {how}",
                    None,
                    partial(_nested_with_mood_words, embeddings, y, groups, words, how=how),
                )
            )
    if args.patches:
        started = time.time()
        clips = _per_patch(tracks.paths, "patches", lambda out: out.penultimate)
        print(f"embeddings of every patch in {time.time() - started:.0f} s ({sum(map(len, clips))} patches)")
        trials.append(
            ("logistic on each patch, clip = mean log p", None, partial(_nested_patches, clips, y, groups))
        )
    seeds = range(args.repeats)
    print(f"{'recipe':<52} {'mean':>6}  {'range':<13} chosen settings")
    for name, x, recipe in [
        *trials,
        ("arousal x valence, two logistic regressions", embeddings, "factorised"),
    ]:
        chosen: set = set()
        accuracies = []
        for seed in seeds:
            if x is None:
                predicted = recipe(seed=seed)
            elif recipe == "factorised":
                predicted = _factorised(x, y, groups, seed)
            else:
                predicted, picks = _nested(
                    x, y, groups, recipe or RECIPES["shipped: logistic, C grid of the tool"], seed
                )
                chosen.update(picks)
            accuracies.append(float(np.mean(predicted == y)))
        spread = f"{min(accuracies):.3f}-{max(accuracies):.3f}"
        print(
            f"{name:<52} {np.mean(accuracies):.3f}  {spread:<13} {sorted(chosen) if chosen else ''}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
