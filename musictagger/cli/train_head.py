"""``train-head NAME``: teach the tagger a taxonomy of your own from tracks you already labelled.

The head reads the musicnn embeddings, so training takes seconds once the tracks are analysed. Its
cross-validated numbers are printed before anything is saved; ``--dry-run`` stops there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from musictagger.catalog import CATEGORIES, TAGGER_ARCHITECTURES, available_models, user_models_dir
from musictagger.cli.common import add_db_option, open_db
from musictagger.errors import MusictaggerError
from musictagger.head_training.report import format_head_report
from musictagger.heads.model import FEATURE_SETS, save_head


class HeadTrainingError(MusictaggerError):
    """Not enough labelled tracks (or labels) to train and evaluate a head."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-head",
        help="train a genre/mood head of your own on the models' embeddings (cross-validated first)",
        description="Train a small classifier on the musicnn embeddings of labelled tracks: from a "
        "dataset (--dataset) or from your library's existing tags and your corrections in the app "
        "(--library genre|mood). Cross-validated accuracy and macro-F1, with 95%% intervals, are printed "
        "before the head is saved; the app and 'tag' then run it on every track.",
    )
    p.add_argument("name", help="the head's name (a folder name: letters, digits, - and _)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--dataset",
        metavar="SPEC",
        help="folder:DIR (a folder per label), csv:FILE (file,label[;label][,artist]), "
        "fma:METADATA_DIR[,AUDIO_DIR], multilabel:FILE, or a path (guessed)",
    )
    source.add_argument(
        "--library",
        choices=("genre", "mood"),
        metavar="FIELD",
        help="learn FIELD (genre or mood) from the library index: scan and analyse it first",
    )
    p.add_argument(
        "--from",
        dest="library_source",
        choices=("tags", "reviews", "both"),
        default="both",
        help="with --library: the files' tags, your reviews in the app, or both (default; a review wins)",
    )
    p.add_argument(
        "--category",
        choices=CATEGORIES,
        help="what the labels are (default: the --library field, else genre)",
    )
    p.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="tagger whose embedding the head reads (repeatable; default: every tagger)",
    )
    p.add_argument(
        "--features", choices=FEATURE_SETS, default="embedding", help="head input (default: embedding)"
    )
    p.add_argument(
        "--hidden", type=int, default=0, metavar="N", help="a hidden layer of N units (default 0: linear)"
    )
    p.add_argument("--folds", type=int, default=5, metavar="K", help="cross-validation folds (default 5)")
    p.add_argument(
        "--min-tracks",
        type=int,
        metavar="N",
        help="leave out labels with fewer than N tracks (default: 5 with --library, 2 with --dataset, "
        "whose labels were chosen on purpose; labels with fewer tracks than folds are cross-validated "
        "leave-one-out)",
    )
    p.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="show label OLD as NEW (repeatable), e.g. --rename Q1=happy/excited",
    )
    p.add_argument("--licence", default="", metavar="TEXT", help="the licence or terms to record in the card")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", help="save here instead of your models folder")
    p.add_argument("--dry-run", action="store_true", help="report the cross-validated numbers, save nothing")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--device", default="auto", help="for analysing dataset audio: auto (default), cpu, cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_db_option(p)
    p.set_defaults(run=run)


def _valid_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_." for c in name) and name not in (".", "..")


def run(args: argparse.Namespace) -> int:
    from musictagger.head_training.build import train_head

    if not _valid_name(args.name):
        raise HeadTrainingError(f"{args.name!r}: a head name may hold letters, digits, '-', '_' and '.'")
    if args.folds < 2:
        raise HeadTrainingError("--folds must be at least 2")
    models = args.models or available_models(TAGGER_ARCHITECTURES)
    category = args.category or args.library or "genre"
    renames = _renames(args.rename)
    tracks, source = _collect(args, models)
    tracks.labels = [tuple(renames.get(x, x) for x in labels) for labels in tracks.labels]
    for path, cause in tracks.errors:
        print(f"musictagger: {path}: {cause}", file=sys.stderr)
    min_tracks = args.min_tracks if args.min_tracks is not None else (5 if args.library else 2)
    tracks = tracks.drop_rare(min_tracks)
    for label, n in sorted(tracks.dropped.items()):
        print(
            f"musictagger: label {label!r} left out: {n} track(s), fewer than {min_tracks}", file=sys.stderr
        )
    if len(tracks.label_names()) < 2:
        raise HeadTrainingError(
            f"need at least two labels with {min_tracks}+ tracks each; have {list(tracks.label_names())}"
        )
    bar = tqdm(total=args.folds, unit="fold", file=sys.stderr, disable=args.quiet, desc="cross-validating")
    with bar:
        try:
            result = train_head(
                tracks,
                name=args.name,
                category=category,
                inputs=models,
                features=args.features,
                hidden=args.hidden,
                folds=args.folds,
                seed=args.seed,
                source=source,
                licence=args.licence,
                extra_provenance={"renamed": renames} if renames else None,
                on_fold=lambda i, n: (setattr(bar, "total", n), bar.update(1)),
            )
        except ValueError as exc:
            raise HeadTrainingError(str(exc)) from exc
    saved = None
    if not args.dry_run:
        saved = save_head(
            Path(args.out) if args.out else user_models_dir() / args.name, result.head, result.card
        )
    if args.json:
        print(json.dumps({"head": args.name, "saved": str(saved) if saved else None, **result.card.metrics}))
    else:
        print(format_head_report(result.card.metrics, result.card.labels))
        print(f"saved to {saved}" if saved else "dry run: nothing saved")
    return 0


def _renames(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise HeadTrainingError(f"--rename {pair!r}: expected OLD=NEW")
        out[old.strip()] = new.strip()
    return out


def _collect(args: argparse.Namespace, models: list[str]):
    from musictagger.analysis import Analyzer
    from musictagger.head_training.sources import dataset_tracks, library_tracks

    if args.library:
        with open_db(args) as library, library.session() as session:
            tracks = library_tracks(session, args.library, models, source=args.library_source)
        return tracks, f"library {args.library} ({args.library_source})"
    from musictagger.research.datasets import open_dataset

    dataset = open_dataset(args.dataset)
    analyzer = Analyzer(models, device=args.device, heads=())
    bar = tqdm(
        total=len(dataset.examples), unit="track", file=sys.stderr, disable=args.quiet, desc="analysing"
    )
    with bar:
        tracks = dataset_tracks(
            [e.path for e in dataset.examples],
            [e.labels for e in dataset.examples],
            [e.artist for e in dataset.examples],
            analyzer,
            progress=lambda done, total: bar.update(done - bar.n),
        )
    return tracks, f"dataset {args.dataset}"
