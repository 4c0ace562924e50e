"""``evaluate MODEL DATASET``: measure a trained model on labelled audio, with intervals.

On the dataset a model was trained on, only its held-out test clips are scored (the same split ``train``
made, rebuilt from the seed and fractions in the card); on any other dataset every clip is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from musictagger.cli.common import report_errors


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure a trained model on labelled audio (accuracy/F1 or ROC-AUC/PR-AUC, with intervals)",
        description="Run MODEL (a model name or a model folder) over DATASET (as for 'train') and print "
        "the metrics with 95% intervals: accuracy, macro-F1 and a confusion matrix for single-label models; "
        "macro ROC-AUC, PR-AUC and F1 (at the card's per-tag thresholds) for multi-label ones.",
    )
    p.add_argument("model", metavar="MODEL", help="model name, or the folder a model was saved in")
    p.add_argument("dataset", metavar="DATASET", help="labelled audio: folder, CSV, fma:..., multilabel:...")
    p.add_argument(
        "--split",
        choices=("auto", "test", "all"),
        default="auto",
        help="test: only the clips the model's training run held out for testing; all: every clip; "
        "auto (default): test on the dataset it was trained on, else all",
    )
    p.add_argument("--png", metavar="FILE", help="write the confusion matrix (single-label) to FILE")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--seed", type=int, help="bootstrap seed (default: the training seed in the card)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="patches per model call")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def load(model: str, device):
    """A model by folder path (one holding a card.json) or by name from the model folders."""
    from musictagger import catalog

    path = Path(model)
    if (path / catalog.CARD_FILE).is_file():
        return catalog.load_model(path.resolve(), device=device)
    return catalog.load_model(model, device=device)


def _same_dataset(spec: str, dataset_name: str, provenance) -> bool:
    trained_on = provenance.get("dataset", {}) if isinstance(provenance, dict) else {}
    if (
        trained_on.get("spec")
        and Path(str(trained_on["spec"])).expanduser().resolve() == Path(spec).expanduser().resolve()
    ):
        return True
    return trained_on.get("name") == dataset_name and trained_on.get("spec") in (None, spec)


def run(args: argparse.Namespace) -> int:
    from musictagger.device import resolve_device
    from musictagger.research import metrics
    from musictagger.research.cache import PatchCache
    from musictagger.research.datasets import describe_split, open_dataset, train_val_test_split
    from musictagger.research.training import (
        TrainingError,
        card_uses_features,
        format_report,
        held_out_report,
        load_clips,
        predict_clips,
    )

    device = resolve_device(args.device)
    model, card = load(args.model, device)
    dataset = open_dataset(args.dataset)
    provenance = dict(card.provenance)
    settings = provenance.get("settings", {})
    uses_features = card_uses_features(card)
    # The same patches per clip as in training (a clip's centre), so test numbers can be reproduced.
    cache = PatchCache(with_features=uses_features, max_patches=int(card.config.get("max_patches", 10)))
    clips, kept, failures = load_clips(cache, [e.path for e in dataset.examples], progress=not args.quiet)
    if failures:
        print(f"{len(failures)} file(s) could not be decoded and were left out:", file=sys.stderr)
        report_errors(failures)
    if not kept:
        raise TrainingError(f"{dataset.name}: none of its {len(dataset.examples)} clips could be read")
    usable = dataset.subset(np.asarray(kept, dtype=np.int64))
    same = _same_dataset(args.dataset, dataset.name, provenance)
    split = args.split if args.split != "auto" else ("test" if same else "all")
    if split == "test":
        if not {"val", "test", "seed"} <= set(settings):
            raise TrainingError(f"{card.name}: its card does not say how it was split; use --split all")
        # The same split train made: same usable clips, fractions and seed.
        parts = train_val_test_split(
            usable, val=settings["val"], test=settings["test"], seed=settings["seed"]
        )
        chosen = parts[2]
        split_text = f"test split of {describe_split(usable, parts, seed=settings['seed'])}"
    else:
        chosen = np.arange(len(usable.examples))
        split_text = f"all {len(chosen)} clips"
        if same:
            split_text += " (INCLUDES the clips it was trained on: not a held-out estimate)"

    labels = list(card.labels)
    index = {label: i for i, label in enumerate(labels)}
    multilabel = card.task == "multilabel"
    examples = [usable.examples[i] for i in chosen]
    if multilabel:
        targets = np.zeros((len(examples), len(labels)), dtype=np.int64)
        for row, example in enumerate(examples):
            for label in example.labels:
                if label in index:
                    targets[row, index[label]] = 1
        keep = np.arange(len(examples))
    else:
        # Clips whose label the model does not know cannot be scored: say so rather than count them wrong.
        keep = np.array(
            [i for i, e in enumerate(examples) if e.labels and e.labels[0] in index], dtype=np.int64
        )
        unknown = sorted({e.labels[0] for e in examples if e.labels and e.labels[0] not in index})
        if unknown:
            print(
                f"{len(examples) - len(keep)} clip(s) left out: labels the model does not know: "
                f"{', '.join(unknown)}",
                file=sys.stderr,
            )
        targets = np.array([index[examples[i].labels[0]] for i in keep], dtype=np.int64)
    if len(keep) == 0:
        raise TrainingError(
            f"{dataset.name}: no clip has a label that {card.name} knows ({', '.join(labels)})"
        )
    probs = predict_clips(
        model,
        clips,
        np.asarray(chosen)[keep],
        uses_features=uses_features,
        device=device,
        batch_size=args.batch_size,
    )
    thresholds = None
    if multilabel:
        by_label = card.config.get("thresholds", {})
        thresholds = np.array([float(by_label.get(label, 0.5)) for label in labels])
    report = held_out_report(
        multilabel=multilabel,
        labels=labels,
        probs=probs,
        targets=targets,
        thresholds=thresholds,
        seed=settings.get("seed", 0) if args.seed is None else args.seed,
        split=split_text,
        dataset=dataset.name,
    )
    report["model"] = card.name
    if args.png and not multilabel:
        metrics.save_confusion_matrix_png(
            report["confusion"], labels, Path(args.png), f"{card.name}: {report['n_clips']} clips"
        )
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(f"model {card.name}")
        print(format_report(report))
        if args.png and not multilabel:
            print(f"confusion matrix: {args.png}")
    return 1 if failures else 0
