"""Builds the shipped calibrated heads from the dev sets in ``../shared/eval`` and prints how good they are.

    .venv/bin/python tools/train_dj_heads.py [--shared ../shared] [--out models] [--json FILE]

Heads (inputs: the MSD and MTT musicnn embeddings, 400 numbers per track):

* ``dj_moods``: the moods DJs browse by (multi-label). Targets come from the AllMusic mood words of
  ``mer4q`` (``MOOD_WORDS`` below: a track is "Dark" when AllMusic calls it gloomy, bleak, ominous...).
  Each mood is a logistic regression with Platt scaling, and is written only above a threshold chosen for
  ``MOOD_PRECISION``.
* ``genres``: genre families (multi-label), from the genre columns of all three sets (``GENRE_OF``). A set
  says nothing about a family it cannot tell apart (mer4q's AllMusic "Pop/Rock" says neither Pop nor Rock),
  so those tracks are left out of that family's fit. Platt scaling; thresholds for ``GENRE_PRECISION``.
* ``mood_quadrants``: Russell's four quadrants on mer4q, temperature-scaled softmax.
* ``energy_valence``: ridge regressions of arousal and valence (±1 from the quadrant) on mer4q, shipped as
  energy 1-10 and valence -1..1; checked against emotify's GEMS ratings, which it never saw.

Every figure printed is nested, artist-disjoint (mer4q) or clip-disjoint cross-validation; the shipped
weights are then fitted on all the data. Embeddings are cached (``MUSICTAGGER_CACHE_DIR``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from musictagger.analysis import Analyzer  # noqa: E402
from musictagger.head_training.calibration import (  # noqa: E402
    calibration_error,
    fit_binary,
    fit_multiclass,
    fit_regression,
)
from musictagger.head_training.sources import dataset_tracks  # noqa: E402
from musictagger.heads.model import HeadCard, head_from_linear, predict, save_head  # noqa: E402
from musictagger.research.metrics import bootstrap_interval, classification_report, wilson_interval  # noqa: E402

INPUTS = ("MSD_musicnn", "MTT_musicnn")
SEED = 0
# The precision a written label must reach, out of fold. AllMusic lists a handful of moods per track, so a
# mood it did not list may still be heard: the measured precision of moods is a lower bound.
MOOD_PRECISION = 0.5
GENRE_PRECISION = 0.7
# Energy and valence are scaled so that this share (%) of the out-of-fold predictions lies inside the range.
SPREAD_PERCENTILE = 95

# DJ mood -> the AllMusic mood words (mer4q's "moods" column) that mean it.
MOOD_WORDS = {
    "Happy": "Happy Cheerful Joyous Fun Playful Carefree Sunny Bright Light Sweet Positive Good-Natured "
    "Amiable Whimsical Lively Sparkling Silly Humorous",
    "Euphoric": "Exciting Rousing Energetic Euphoric Exuberant Triumphant Ecstatic Pulsing Explosive "
    "Cathartic Celebratory",
    "Dark": "Gloomy Bleak Ominous Menacing Malevolent Brooding Nocturnal Somber Nihilistic Paranoid "
    "Sinister Dark Eerie Spooky Cold",
    "Aggressive": "Hostile Harsh Angry Fierce Volatile Uncompromising Fiery Rebellious Outrageous Reckless "
    "Outraged Aggressive Intense Brash Confrontational Raucous Visceral Rowdy",
    "Melancholic": "Sad Melancholy Bitter Anguished Distraught Weary Lonely Poignant Nostalgic Wistful "
    "Yearning Bittersweet Angst-Ridden",
    "Chill": "Calm Peaceful Soothing Relaxed Laid-Back Mellow Gentle Soft Quiet Dreamy Ethereal Lazy Smooth "
    "Serene Tranquil Meditative Atmospheric",
    "Romantic": "Romantic Sensual Sexy Sexual Intimate Passionate Tender Warm Sentimental Lush",
    "Party": "Fun Party Rowdy Rollicking Celebratory Festive Boisterous Exuberant Lively Energetic Sexy "
    "Confident Stylish Slick",
}
MOOD_LABELS = tuple(MOOD_WORDS)

# Genre family -> per set, the set's own genre names that mean it. A set lists in KNOWS the families it
# can speak about; a track of that set not named for a family is a negative for it.
GENRE_OF = {
    "Electronic": {"mer4q": ["Electronic"], "emotify": ["electronic"], "gtzan_mini": []},
    "Rock": {"emotify": ["rock"], "gtzan_mini": ["rock", "metal"]},
    "Pop": {"emotify": ["pop"], "gtzan_mini": ["pop"]},
    "Hip-Hop": {"mer4q": ["Rap"], "gtzan_mini": ["hiphop"], "emotify": []},
    "R&B": {"mer4q": ["R&B"]},
    "Jazz": {"mer4q": ["Jazz"], "gtzan_mini": ["jazz"], "emotify": []},
    "Blues": {"mer4q": ["Blues"], "gtzan_mini": ["blues"], "emotify": []},
    "Country": {"mer4q": ["Country"], "gtzan_mini": ["country"], "emotify": []},
    "Classical": {"mer4q": ["Classical"], "gtzan_mini": ["classical"], "emotify": ["classical"]},
    "Reggae": {"mer4q": ["Reggae"], "gtzan_mini": ["reggae"], "emotify": []},
    "Folk": {"mer4q": ["Folk"]},
    "Latin": {"mer4q": ["Latin"]},
}
# mer4q's "Pop/Rock" cannot tell Pop from Rock: its tracks are left out of both (and counted for neither).
UNKNOWN_IF = {"Rock": {"mer4q": "Pop/Rock"}, "Pop": {"mer4q": "Pop/Rock"}}
# GTZAN's disco is dance music that may or may not be called electronic or pop.
UNKNOWN_IF_GTZAN = {"Electronic": "disco", "Pop": "disco"}
GENRE_LABELS = tuple(GENRE_OF)

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
QUADRANT_NAMES = {"Q1": "happy/excited", "Q2": "angry/tense", "Q3": "sad/depressed", "Q4": "calm/relaxed"}
AROUSAL_UP, AROUSAL_DOWN = ("power", "joyful_activation", "tension"), ("calmness", "tenderness", "sadness")
VALENCE_UP, VALENCE_DOWN = ("joyful_activation", "tenderness", "amazement"), ("sadness", "tension")
# DJ mood -> the GEMS emotions of emotify's listeners that come nearest to it (their mean share), for the
# out-of-domain check of the mood head: declared here, before looking, and never fitted.
GEMS_OF_MOOD = {
    "Happy": ("joyful_activation",),
    "Euphoric": ("joyful_activation", "power"),
    "Dark": ("tension",),
    "Aggressive": ("power", "tension"),
    "Melancholic": ("sadness",),
    "Chill": ("calmness",),
    "Romantic": ("tenderness",),
    "Party": ("joyful_activation",),
}
LICENCE = (
    "Trained by musictagger on the dev excerpts of {sets} (research use); weights only, no audio. "
    "Recipe: tools/train_dj_heads.py"
)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


class DevSet:
    """One labelled set: its CSV rows and their embedding matrix (tracks that failed are dropped)."""

    def __init__(self, name: str, root: Path, analyzer: Analyzer):
        self.name = name
        with (root / "labels.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        paths = [str(root / row["file"]) for row in rows]
        tracks = dataset_tracks(paths, [("-",)] * len(paths), [None] * len(paths), analyzer)
        for path, cause in tracks.errors:
            print(f"  {name}: skipped {path}: {cause}", file=sys.stderr)
        kept = set(tracks.paths)
        self.rows = [row for row, path in zip(rows, paths, strict=True) if path in kept]
        self.x = np.stack(
            [np.concatenate([out[m].embedding for m in INPUTS]) for out in tracks.outputs]
        ).astype(np.float64)
        self.groups = [
            f"{name}:{row.get('artist') or row['file']}" for row in self.rows
        ]  # artist-disjoint where the set names artists, else clip-disjoint


def mood_targets(mer4q: DevSet) -> np.ndarray:
    words = {label: set(text.split()) for label, text in MOOD_WORDS.items()}
    out = np.zeros((len(mer4q.rows), len(MOOD_LABELS)), dtype=int)
    for i, row in enumerate(mer4q.rows):
        said = set(_split(row["moods"]))
        for j, label in enumerate(MOOD_LABELS):
            out[i, j] = bool(said & words[label])
    return out


def genre_targets(sets: list[DevSet], family: str) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """x, y, groups and a description of the tracks that can speak about ``family``."""
    xs, ys, groups = [], [], []
    counts = []
    for dev in sets:
        if dev.name not in GENRE_OF[family]:
            continue
        names = set(GENRE_OF[family][dev.name])
        column = "genres" if dev.name == "mer4q" else "genre"
        used = positive = 0
        for i, row in enumerate(dev.rows):
            genres = set(_split(row[column]))
            if UNKNOWN_IF.get(family, {}).get(dev.name) in genres:
                continue
            if dev.name == "gtzan_mini" and UNKNOWN_IF_GTZAN.get(family) in genres:
                continue
            label = int(bool(genres & names))
            xs.append(dev.x[i])
            ys.append(label)
            groups.append(dev.groups[i])
            used += 1
            positive += label
        counts.append(f"{dev.name} {positive}/{used}")
    return np.stack(xs), np.array(ys), groups, counts


def _multilabel_head(
    name: str,
    labels: tuple[str, ...],
    problems: dict[str, tuple[np.ndarray, np.ndarray, list[str]]],
    precision: float,
    category: str,
    sets: str,
    all_x: np.ndarray,
    provenance: dict,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fit every label; returns (metrics, stacked out-of-fold probs, outcomes) for calibration figures."""
    weights, biases, thresholds, per_label = [], [], {}, {}
    probs, outcomes, written_p, written_y = [], [], [], []
    for label in labels:
        x, y, groups = problems[label]
        linear, threshold, report, oof = fit_binary(label, x, y, groups, precision=precision, seed=SEED)
        weights.append(linear.weight[0])
        biases.append(linear.bias[0])
        thresholds[label] = threshold
        per_label[label] = report.as_json()
        probs.append(oof)
        outcomes.append(y)
        fold_written = oof >= min(threshold, 1.0)
        written_p.append(oof[fold_written])
        written_y.append(y[fold_written])
        print(
            f"  {name} {label:<12} n={report.n:<4} pos={report.positives:<4} AUC {report.roc_auc:.3f} "
            f"AP {report.pr_auc:.3f} thr {threshold:.3f} -> precision {report.precision_at_threshold:.3f} "
            f"recall {report.recall_at_threshold:.3f} (written {report.written})"
        )
    p, o = np.concatenate(probs), np.concatenate(outcomes)
    wp, wy = np.concatenate(written_p), np.concatenate(written_y)
    metrics = {
        "task": "multilabel",
        "per_label": per_label,
        "ece_all": calibration_error(p, o),
        "ece_written": calibration_error(wp, wy),
        "written_precision": float(wy.mean()) if len(wy) else None,
        "macro_roc_auc": float(np.mean([per_label[label]["roc_auc"] for label in labels])),
        "protocol": (
            "nested 5-fold cross-validation, artist-disjoint (mer4q) / clip-disjoint; per fold: L2 by inner "
            "group CV (ROC-AUC), Platt scaling by CalibratedClassifierCV(method='sigmoid', ensemble=False) "
            "on inner out-of-fold decisions, threshold on the inner calibrated probabilities"
        ),
    }
    print(
        f"  {name}: ECE all labels {metrics['ece_all']:.3f}, written labels {metrics['ece_written']:.3f} "
        f"(precision of written {metrics['written_precision']:.3f}, n={len(wy)})"
    )
    card = HeadCard(
        name=name,
        version="2",
        task="multilabel",
        labels=labels,
        category=category,
        inputs=INPUTS,
        features="embedding",
        input_dim=all_x.shape[1],
        hidden=0,
        licence=LICENCE.format(sets=sets),
        provenance=provenance,
        metrics=metrics,
        calibration={
            "method": "Platt scaling (scikit-learn CalibratedClassifierCV, method='sigmoid', "
            "ensemble=False), folded into the linear layer",
            "fitted_on": sets,
            "target_precision": precision,
            "thresholds": {k: round(v, 4) for k, v in thresholds.items()},
            "version": 1,
        },
    )
    head = head_from_linear(np.stack(weights), np.array(biases), all_x)
    return {"card": card, "head": head, "metrics": metrics}, p, o


def build(shared: Path, out: Path) -> dict:
    # fp32: the shipped heads were fitted on fp32 embeddings, and the recipe must give them again.
    analyzer = Analyzer(device="cpu", heads=(), precision="fp32")
    started = time.time()
    sets = {
        name: DevSet(name, shared / "eval" / name, analyzer) for name in ("mer4q", "emotify", "gtzan_mini")
    }
    print(f"embeddings of {sum(len(s.rows) for s in sets.values())} clips in {time.time() - started:.0f} s")
    mer4q = sets["mer4q"]
    summary: dict = {}

    # -- moods DJs browse by ------------------------------------------------------------------------------
    targets = mood_targets(mer4q)
    problems = {label: (mer4q.x, targets[:, j], mer4q.groups) for j, label in enumerate(MOOD_LABELS)}
    moods, _, _ = _multilabel_head(
        "dj_moods",
        MOOD_LABELS,
        problems,
        MOOD_PRECISION,
        "mood",
        "mer4q (AllMusic mood words)",
        mer4q.x,
        {"source": "../shared/eval/mer4q/labels.csv, column moods", "mood_words": MOOD_WORDS},
    )
    moods["metrics"]["emotify"] = _moods_vs_listeners(moods, sets["emotify"])
    # -- genre families -----------------------------------------------------------------------------------
    all_x = np.concatenate([s.x for s in sets.values()])
    problems, counts = {}, {}
    for family in GENRE_LABELS:
        x, y, groups, described = genre_targets(list(sets.values()), family)
        problems[family] = (x, y, groups)
        counts[family] = described
    genres, _, _ = _multilabel_head(
        "genres",
        GENRE_LABELS,
        problems,
        GENRE_PRECISION,
        "genre",
        "mer4q, emotify and gtzan_mini (their genre columns)",
        all_x,
        {
            "source": "../shared/eval/{mer4q,emotify,gtzan_mini}/labels.csv",
            "genre_of": GENRE_OF,
            "tracks": counts,
        },
    )
    # -- Russell quadrants --------------------------------------------------------------------------------
    y = np.array([QUADRANTS.index(row["quadrant"]) for row in mer4q.rows])
    linear, oof = fit_multiclass(mer4q.x, y, mer4q.groups, seed=SEED)
    names = [QUADRANT_NAMES[q] for q in QUADRANTS]
    report = classification_report(y, oof.argmax(axis=1), names)
    high = np.isin(y, (0, 1))
    positive = np.isin(y, (0, 3))
    arousal_ok = ((oof[:, 0] + oof[:, 1]) >= 0.5) == high
    valence_ok = ((oof[:, 0] + oof[:, 3]) >= 0.5) == positive
    top = oof.max(axis=1)
    quadrant_metrics = {
        **{k: v for k, v in report.items() if k != "labels"},
        "ece_top_label": calibration_error(top, oof.argmax(axis=1) == y),
        "arousal_accuracy": float(arousal_ok.mean()),
        "arousal_accuracy_ci": wilson_interval(int(arousal_ok.sum()), len(y)),
        "valence_accuracy": float(valence_ok.mean()),
        "valence_accuracy_ci": wilson_interval(int(valence_ok.sum()), len(y)),
        "protocol": "nested 5-fold cross-validation, artist-disjoint; temperature scaling by "
        "CalibratedClassifierCV(method='temperature', ensemble=False)",
    }
    print(
        f"  mood_quadrants: accuracy {report['accuracy']:.3f} {_ci(report['accuracy_ci'])}, macro-F1 "
        f"{report['macro_f1']:.3f} {_ci(report['macro_f1_ci'])}, "
        f"ECE {quadrant_metrics['ece_top_label']:.3f}, "
        f"arousal {arousal_ok.mean():.3f}, valence {valence_ok.mean():.3f}"
    )
    quadrant_card = HeadCard(
        name="mood_quadrants",
        version="2",
        task="multiclass",
        labels=tuple(names),
        category="mood",
        inputs=INPUTS,
        features="embedding",
        input_dim=mer4q.x.shape[1],
        hidden=0,
        licence=LICENCE.format(sets="mer4q (Panda, Malheiro & Paiva 2018)"),
        provenance={
            "source": "../shared/eval/mer4q/labels.csv, column quadrant",
            "renamed": QUADRANT_NAMES,
            "tracks_per_label": {n: int((y == i).sum()) for i, n in enumerate(names)},
        },
        metrics=quadrant_metrics,
        calibration={
            "method": "temperature scaling (scikit-learn CalibratedClassifierCV, method='temperature')",
            "fitted_on": "mer4q",
            "version": 1,
        },
    )
    quadrants = {"card": quadrant_card, "head": head_from_linear(linear.weight, linear.bias, mer4q.x)}
    # -- energy and valence -------------------------------------------------------------------------------
    axes = np.stack([np.where(high, 1.0, -1.0), np.where(positive, 1.0, -1.0)], axis=1)
    linear, oof = fit_regression(mer4q.x, axes, mer4q.groups, seed=SEED)
    # Ridge on +-1 targets overshoots: clear tracks land beyond +-1 and would pile up at 1 and 10. Each
    # axis is scaled so that 95 % of the out-of-fold predictions fall inside the range (only the most
    # extreme 5 % reach the ends), a linear map that keeps the order and the fold into the weights.
    reach = np.percentile(np.abs(oof), SPREAD_PERCENTILE, axis=0)
    oof = oof / reach
    energy_oof = np.clip(5.5 + 4.5 * oof[:, 0], 1, 10)
    valence_oof = np.clip(oof[:, 1], -1, 1)
    arousal_ok = (energy_oof >= 5.5) == high
    valence_ok = (valence_oof >= 0) == positive
    emotify = sets["emotify"]
    scale = np.array([[4.5], [1.0]]) / reach[:, None]
    weight, bias = linear.weight * scale, linear.bias * scale[:, 0] + np.array([5.5, 0.0])
    predicted = emotify.x @ weight.T + bias
    gems = emotify.rows

    def proxy(up, down):
        return np.array(
            [np.mean([float(g[k]) for k in up]) - np.mean([float(g[k]) for k in down]) for g in gems]
        )

    rho_e = _spearman(predicted[:, 0], proxy(AROUSAL_UP, AROUSAL_DOWN))
    rho_e_ci = bootstrap_interval(_spearman, predicted[:, 0], proxy(AROUSAL_UP, AROUSAL_DOWN))
    rho_v = _spearman(predicted[:, 1], proxy(VALENCE_UP, VALENCE_DOWN))
    rho_v_ci = bootstrap_interval(_spearman, predicted[:, 1], proxy(VALENCE_UP, VALENCE_DOWN))
    corners = float(np.mean((np.abs(oof[:, 0]) > 0.9) & (np.abs(oof[:, 1]) > 0.9)))
    at_ends = float(np.mean((energy_oof <= 1.0) | (energy_oof >= 10.0)))
    ev_metrics = {
        "task": "regression",
        "n": len(y),
        "arousal_accuracy": float(arousal_ok.mean()),
        "arousal_accuracy_ci": wilson_interval(int(arousal_ok.sum()), len(y)),
        "valence_accuracy": float(valence_ok.mean()),
        "valence_accuracy_ci": wilson_interval(int(valence_ok.sum()), len(y)),
        "energy_spread": {
            "std": float(energy_oof.std()),
            "percentiles_10_50_90": np.percentile(energy_oof, [10, 50, 90]).round(2).tolist(),
            "share_at_1_or_10": at_ends,
            "axis_scale_reach": reach.round(4).tolist(),
        },
        "share_in_corners": corners,
        "emotify_spearman_energy_vs_arousal_proxy": [rho_e, *rho_e_ci],
        "emotify_spearman_valence_vs_valence_proxy": [rho_v, *rho_v_ci],
        "protocol": "nested 5-fold cross-validation on mer4q, artist-disjoint; ridge L2 by inner group CV; "
        "emotify never trained on",
    }
    print(
        f"  energy_valence: arousal {arousal_ok.mean():.3f} {_ci(ev_metrics['arousal_accuracy_ci'])}, "
        f"valence {valence_ok.mean():.3f} {_ci(ev_metrics['valence_accuracy_ci'])}, "
        f"energy std {energy_oof.std():.2f} p10/50/90 {ev_metrics['energy_spread']['percentiles_10_50_90']}, "
        f"at 1 or 10 {at_ends:.3f}, corners {corners:.3f}; emotify rho energy {rho_e:+.2f} {_ci(rho_e_ci)}, "
        f"valence {rho_v:+.2f} {_ci(rho_v_ci)}"
    )
    ev_card = HeadCard(
        name="energy_valence",
        version="1",
        task="regression",
        labels=("energy", "valence"),
        category="other",
        inputs=INPUTS,
        features="embedding",
        input_dim=mer4q.x.shape[1],
        hidden=0,
        licence=LICENCE.format(sets="mer4q"),
        provenance={
            "source": "../shared/eval/mer4q/labels.csv: arousal +1 in Q1/Q2 else -1, "
            "valence +1 in Q1/Q4 else -1",
            "scale": "energy = 5.5 + 4.5 * arousal (clipped to 1..10, Mixed In Key's scale); "
            "valence as fitted",
        },
        metrics=ev_metrics,
        ranges={"energy": (1.0, 10.0), "valence": (-1.0, 1.0)},
    )
    energy = {"card": ev_card, "head": head_from_linear(weight, bias, mer4q.x)}

    for built in (moods, genres, quadrants, energy):
        card = built["card"]
        save_head(out / card.name, built["head"], card)
        summary[card.name] = card.metrics
    return summary


def _moods_vs_listeners(moods: dict, emotify: DevSet) -> dict:
    """Spearman's rho of each mood's calibrated probability with the share of emotify's listeners who felt
    the nearest GEMS emotions (GEMS_OF_MOOD), on clips the head never saw: overall with a bootstrap 95 %
    interval, and within each of emotify's genres."""
    probabilities = predict(moods["head"], moods["card"], emotify.x.astype(np.float32))
    genres = np.array([row["genre"] for row in emotify.rows])
    found = {"protocol": "emotify, never trained on; the GEMS emotions of each mood", "gems": GEMS_OF_MOOD}
    for j, mood in enumerate(moods["card"].labels):
        felt = np.array([np.mean([float(row[k]) for k in GEMS_OF_MOOD[mood]]) for row in emotify.rows])
        rho = _spearman(probabilities[:, j], felt)
        low, high = bootstrap_interval(_spearman, probabilities[:, j], felt)
        within = {
            genre: round(_spearman(probabilities[genres == genre, j], felt[genres == genre]), 3)
            for genre in sorted(set(genres))
        }
        found[mood] = {"spearman": [round(rho, 3), round(low, 3), round(high, 3)], "within_genre": within}
        print(
            f"  dj_moods {mood:<12} vs emotify {'+'.join(GEMS_OF_MOOD[mood]):<24} rho {rho:+.2f} "
            f"{_ci((low, high))}; within genre "
            + ", ".join(f"{genre} {value:+.2f}" for genre, value in within.items())
        )
    return found


def _spearman(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _ci(bounds) -> str:
    return f"({bounds[0]:.2f}-{bounds[1]:.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "models")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (args.shared / "eval").is_dir():
        print(f"{args.shared / 'eval'} not found: nothing to train on")
        return 0
    summary = build(args.shared, args.out)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
