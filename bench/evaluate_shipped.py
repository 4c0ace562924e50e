"""How good are the shipped models on the labelled dev sets in ``../shared/eval``? One table per set.

    .venv/bin/python bench/evaluate_shipped.py [--shared ../shared] [--json FILE]

For each set it prints, beside the papers' numbers:

* **head (CV)**: the shipped head's recipe re-run under nested cross-validation on that set (stratified,
  artist-disjoint where artists are known). The shipped head itself was fitted on all of gtzan_mini /
  mer4q, so scoring it on them would be training accuracy; we never print that.
* **zero-shot**: no training at all: each class is scored by the most probable of the musicnn tags
  mapped to it in ``ZERO_SHOT`` below, and the top-scoring class is the prediction.
* **shipped head, out of domain**: on emotify, which no shipped model was trained on, the genre head (for
  the genres GTZAN shares with emotify) and the mood head (its arousal and valence against the listeners'
  GEMS ratings, as a Spearman correlation).

Accuracy has a 95 % Wilson interval, macro-F1 a 95 % bootstrap interval. The sets are small (40, 201 and
81 clips), so the intervals are wide: read them, not the point estimates. Analyses are cached
(``MUSICTAGGER_CACHE_DIR``), so a second run takes seconds. Needs ``../shared``: says so and exits 0
without it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from musictagger.analysis import Analyzer  # noqa: E402
from musictagger.catalog import load_card  # noqa: E402
from musictagger.head_training.build import train_head  # noqa: E402
from musictagger.head_training.sources import TrainingTracks, dataset_tracks  # noqa: E402
from musictagger.heads import available_heads, head_input, load_head, predict  # noqa: E402
from musictagger.research.datasets import LabelledSet, read_csv  # noqa: E402
from musictagger.research.metrics import bootstrap_interval, classification_report  # noqa: E402

# Zero-shot mapping: class -> the raw musicnn tags ("model:tag") that stand for it; a class scores the max
# of its tags' probabilities. Documented in docs/evaluation.md. Classes with no tag can never be predicted
# (GTZAN's reggae: neither training vocabulary has it), which the numbers then show honestly.
ZERO_SHOT = {
    "gtzan": {
        "blues": ["MSD_musicnn:blues"],
        "classical": ["MTT_musicnn:classical", "MTT_musicnn:classic"],
        "country": ["MSD_musicnn:country", "MTT_musicnn:country"],
        "disco": ["MSD_musicnn:dance", "MSD_musicnn:funk", "MTT_musicnn:dance"],
        "hiphop": ["MSD_musicnn:Hip-Hop"],
        "jazz": ["MSD_musicnn:jazz"],
        "metal": ["MSD_musicnn:metal", "MSD_musicnn:heavy metal", "MTT_musicnn:metal"],
        "pop": ["MSD_musicnn:pop", "MTT_musicnn:pop"],
        "reggae": [],
        "rock": ["MSD_musicnn:rock", "MSD_musicnn:classic rock", "MSD_musicnn:hard rock", "MTT_musicnn:rock"],
    },
    "emotify": {
        "classical": ["MTT_musicnn:classical", "MTT_musicnn:classic"],
        "electronic": [
            "MSD_musicnn:electronic",
            "MSD_musicnn:electronica",
            "MSD_musicnn:electro",
            "MTT_musicnn:electronic",
            "MTT_musicnn:techno",
        ],
        "pop": ["MSD_musicnn:pop", "MTT_musicnn:pop"],
        "rock": ["MSD_musicnn:rock", "MSD_musicnn:classic rock", "MSD_musicnn:hard rock", "MTT_musicnn:rock"],
    },
    # Russell quadrants (Panda et al.): Q1 happy/excited, Q2 angry/tense, Q3 sad, Q4 calm.
    "quadrant": {
        "Q1": ["MSD_musicnn:happy", "MSD_musicnn:party", "MSD_musicnn:catchy", "MSD_musicnn:dance"],
        "Q2": [
            "MSD_musicnn:metal",
            "MSD_musicnn:heavy metal",
            "MSD_musicnn:hard rock",
            "MSD_musicnn:punk",
            "MTT_musicnn:loud",
            "MTT_musicnn:metal",
        ],
        "Q3": ["MSD_musicnn:sad"],
        "Q4": [
            "MSD_musicnn:chill",
            "MSD_musicnn:chillout",
            "MSD_musicnn:easy listening",
            "MSD_musicnn:Mellow",
            "MTT_musicnn:quiet",
            "MTT_musicnn:soft",
            "MTT_musicnn:ambient",
        ],
    },
}

# What the papers report (research.md). Not comparable one to one: other data sizes and splits.
PAPERS = {
    "gtzan_mini": "GTZAN ~94 % accuracy (ResNet50_trust / parallel CNN; random splits of all 1,000 clips)",
    "mer4q": "4Q audio emotion dataset 76.4 % F1 (Panda et al. 2018, 900 clips, 10-fold CV)",
    "emotify": "no published quadrant/genre number; out-of-domain check",
}
# The GEMS ratings of emotify, grouped the way the arousal/valence plane reads them (a proxy, see docs).
AROUSAL_UP, AROUSAL_DOWN = ("power", "joyful_activation", "tension"), ("calmness", "tenderness", "sadness")
VALENCE_UP, VALENCE_DOWN = ("joyful_activation", "tenderness", "amazement"), ("sadness", "tension")


def zero_shot(tracks: TrainingTracks, mapping: dict[str, list[str]]) -> list[str]:
    """The class whose most probable mapped tag is highest, per track."""
    orders = {m: list(load_card(m).labels) for m in ("MSD_musicnn", "MTT_musicnn")}
    out = []
    for outputs in tracks.outputs:
        best, best_score = None, -1.0
        for label, tags in mapping.items():
            scores = []
            for tag in tags:
                model, raw = tag.split(":", 1)
                scores.append(float(outputs[model].scores[orders[model].index(raw)]))
            score = max(scores, default=-1.0)
            if score > best_score:
                best, best_score = label, score
        out.append(best)
    return out


def _row(name: str, report: dict) -> dict:
    return {
        "what": name,
        "n": report["n"],
        "accuracy": report["accuracy"],
        "accuracy_ci": list(report["accuracy_ci"]),
        "macro_f1": report["macro_f1"],
        "macro_f1_ci": list(report.get("macro_f1_ci", (float("nan"), float("nan")))),
    }


def _print_table(title: str, rows: list[dict], paper: str) -> None:
    print(f"\n## {title}\npaper: {paper}")
    print(f"| {'what':<58} | {'n':>3} | {'accuracy (95% CI)':<21} | {'macro-F1 (95% CI)':<21} |")
    print(f"|{'-' * 60}|{'-' * 5}|{'-' * 23}|{'-' * 23}|")
    for r in rows:
        if "accuracy" in r:
            acc = f"{r['accuracy']:.3f} ({r['accuracy_ci'][0]:.2f}-{r['accuracy_ci'][1]:.2f})"
            f1 = f"{r['macro_f1']:.3f} ({r['macro_f1_ci'][0]:.2f}-{r['macro_f1_ci'][1]:.2f})"
        else:
            acc, f1 = r["value"], ""
        print(f"| {r['what']:<58} | {r['n']:>3} | {acc:<21} | {f1:<21} |")


def _shipped_head(category: str) -> tuple[str, object, object] | None:
    for name in available_heads():
        head, card = load_head(name)
        if card.category == category and card.provenance.get("source", "").startswith("dataset"):
            return name, head, card
    return None


def evaluate_single_label(
    key: str, dataset: LabelledSet, tracks: TrainingTracks, category: str, mapping: dict | None
) -> list[dict]:
    labels = list(dataset.labels)
    y_true = [t[0] for t in tracks.labels]
    rows = []
    shipped = _shipped_head(category)
    if shipped is not None:
        name, _, card = shipped
        # The head's own label names (fold assignment follows the label order, so this reproduces its card).
        renamed = dict(card.provenance.get("renamed") or {})
        named = tracks.keep(range(len(tracks.paths)))
        named.labels = [tuple(renamed.get(x, x) for x in t) for t in tracks.labels]
        back = {new: old for old, new in renamed.items()}
        cv = train_head(
            named,
            name=name,
            category=category,
            inputs=list(card.inputs),
            features=card.features,
            hidden=card.hidden,
            folds=int(card.provenance.get("folds_requested", 5)),
            seed=int(card.provenance.get("seed", 0)),
        )
        pred = [back.get(cv.card.labels[i], cv.card.labels[i]) for i in cv.oof_probs.argmax(axis=1)]
        report = classification_report(y_true, pred, labels)
        assert abs(report["accuracy"] - card.metrics["accuracy"]) < 1e-9, (
            "the card's numbers do not reproduce"
        )
        rows.append(_row(f"head {name} recipe, cross-validated", report))
        rows[-1]["protocol"] = cv.card.metrics["protocol"]
    if mapping is not None:
        pred = zero_shot(tracks, mapping)
        rows.append(
            _row("zero-shot musicnn tag mapping (no training)", classification_report(y_true, pred, labels))
        )
    return rows


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def evaluate_emotify(dataset_csv: Path, tracks: TrainingTracks) -> list[dict]:
    import csv

    ratings = {}
    with dataset_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ratings[str((dataset_csv.parent / row["file"]).resolve())] = row
    rows = []
    y_true = [t[0] for t in tracks.labels]
    pred = zero_shot(tracks, ZERO_SHOT["emotify"])
    report = classification_report(y_true, pred, sorted(set(y_true)))
    rows.append(_row("zero-shot genre (classical/electronic/pop/rock)", report))
    genre = _shipped_head("genre")
    if genre is not None:
        name, head, card = genre
        shared = [i for i, g in enumerate(y_true) if g in card.labels]
        probs = predict(head, card, np.stack([head_input(card, tracks.outputs[i]) for i in shared]))
        # Only the genres both taxonomies have can be scored; the head may still answer "disco".
        pred = [card.labels[j] for j in probs.argmax(axis=1)]
        truth = [y_true[i] for i in shared]
        labels = sorted(set(truth) | set(pred))
        rows.append(
            _row(
                f"shipped {name}, clips of {'/'.join(sorted(set(truth)))}",
                classification_report(truth, pred, labels),
            )
        )
    mood = _shipped_head("mood")
    if mood is not None:
        name, head, card = mood
        probs = predict(head, card, np.stack([head_input(card, o) for o in tracks.outputs]))
        quadrant = card.provenance.get("renamed") or {}
        index = {q: card.labels.index(quadrant.get(q, q)) for q in ("Q1", "Q2", "Q3", "Q4")}
        arousal = (
            probs[:, index["Q1"]] + probs[:, index["Q2"]] - probs[:, index["Q3"]] - probs[:, index["Q4"]]
        )
        valence = (
            probs[:, index["Q1"]] + probs[:, index["Q4"]] - probs[:, index["Q2"]] - probs[:, index["Q3"]]
        )
        gems = [ratings[str(Path(p).resolve())] for p in tracks.paths]

        def proxy(up: tuple, down: tuple) -> np.ndarray:
            return np.array(
                [
                    sum(float(g[k]) for k in up) / len(up) - sum(float(g[k]) for k in down) / len(down)
                    for g in gems
                ]
            )

        for what, pred_axis, truth_axis in (
            ("arousal", arousal, proxy(AROUSAL_UP, AROUSAL_DOWN)),
            ("valence", valence, proxy(VALENCE_UP, VALENCE_DOWN)),
        ):
            rho = _spearman(pred_axis, truth_axis)
            lo, hi = bootstrap_interval(
                lambda a, b: _spearman(np.asarray(a), np.asarray(b)), pred_axis, truth_axis
            )
            row = {"what": f"shipped {name}: {what} vs GEMS ratings (Spearman)", "n": len(gems)}
            row.update(value=f"{rho:+.2f} ({lo:+.2f}..{hi:+.2f})", spearman=rho, ci=[lo, hi])
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default=str(REPO.parent / "shared"), help="the shared data folder")
    parser.add_argument("--json", metavar="FILE", help="also write every number as JSON")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    eval_dir = Path(args.shared) / "eval"
    if not eval_dir.is_dir():
        print(f"{eval_dir}: not here (a user's clone has no ../shared); nothing to evaluate")
        return 0
    analyzer = Analyzer(device=args.device, heads=())
    results = {}
    for key, category, label_column in (
        ("gtzan_mini", "genre", "genre"),
        ("mer4q", "mood", "quadrant"),
        ("emotify", "genre", "genre"),
    ):
        csv_path = eval_dir / key / "labels.csv"
        dataset = read_csv(csv_path, label_column=label_column)
        examples = dataset.examples
        print(
            f"analysing {key} ({len(examples)} clips; cached after the first run)",
            file=sys.stderr,
            flush=True,
        )
        tracks = dataset_tracks(
            [e.path for e in examples], [e.labels for e in examples], [e.artist for e in examples], analyzer
        )
        for path, cause in tracks.errors:
            print(f"  {path}: {cause}", file=sys.stderr)
        if key == "emotify":
            rows = evaluate_emotify(csv_path, tracks)
        else:
            mapping = ZERO_SHOT["gtzan"] if key == "gtzan_mini" else ZERO_SHOT["quadrant"]
            rows = evaluate_single_label(key, dataset, tracks, category, mapping)
        _print_table(f"{key} ({len(tracks.paths)} clips)", rows, PAPERS[key])
        for r in rows:
            if "protocol" in r:
                print(f"protocol: {r['protocol']}")
        results[key] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
