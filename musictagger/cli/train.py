"""``train ARCH DATASET --name NAME``: train a research classifier on your own labelled audio.

Prints the held-out test numbers (never training accuracy) with their intervals and how the data was split,
and saves the model (card + safetensors weights) where the app finds it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from musictagger import catalog
from musictagger.cli.common import report_errors

ARCHITECTURES = ("resnet50_trust", "parallel_cnn", "emotion_cnn")
# The balanced trusted loss is what makes ResNet50 "_trust"; the other nets default to plain cross-entropy.
LOSS_DEFAULTS = {
    "resnet50_trust": {"alpha": 1.0, "beta": 1.0, "class_weights": "effective"},
    "parallel_cnn": {"alpha": 1.0, "beta": 0.0, "class_weights": "uniform"},
    "emotion_cnn": {"alpha": 1.0, "beta": 0.0, "class_weights": "uniform"},
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a genre or mood classifier on your own labelled audio",
        description="Train ARCH on DATASET and save it as a model the app can use. DATASET is a folder "
        "with one subfolder per label, a CSV (file,label[;label...][,artist]), "
        "'fma:METADATA_DIR[,AUDIO_DIR]' "
        "or 'multilabel:FILE' (a file column + one 0/1 column per tag). The clips are split into train, "
        "validation and test (artist-disjoint when artists are known; the official split for FMA); the "
        "printed numbers are on the test clips only. Files that cannot be decoded are listed and skipped.",
    )
    p.add_argument("architecture", choices=ARCHITECTURES, metavar="ARCH", help=", ".join(ARCHITECTURES))
    p.add_argument("dataset", metavar="DATASET", help="labelled audio: folder, CSV, fma:..., multilabel:...")
    p.add_argument("--name", required=True, help="model name (the folder name under your models folder)")
    p.add_argument("--out", metavar="DIR", help="save into DIR instead of <your models folder>/NAME")
    p.add_argument("--overwrite", action="store_true", help="replace a model already saved there")
    p.add_argument(
        "--category",
        choices=("genre", "mood", "other"),
        help="what the labels are (default: mood for emotion_cnn, else genre)",
    )
    p.add_argument("--epochs", type=int, default=30, metavar="N", help="at most N epochs (default 30)")
    p.add_argument(
        "--patience",
        type=int,
        default=8,
        metavar="N",
        help="stop after N epochs without a better validation score (default 8)",
    )
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="patches per step (default 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 0.001)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default 0.0001)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, initialisation and shuffling")
    p.add_argument(
        "--device", default="auto", help="auto (default: a GPU when present), cpu, cuda, cuda:N, mps"
    )
    p.add_argument("--val", type=float, default=0.15, metavar="F", help="validation fraction (default 0.15)")
    p.add_argument("--test", type=float, default=0.15, metavar="F", help="test fraction (default 0.15)")
    p.add_argument(
        "--max-patches",
        type=int,
        default=10,
        metavar="N",
        help="3-s patches per clip, from its centre (default 10 = 30 s)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    loss = p.add_argument_group(
        "balanced trusted loss (single-label)",
        "alpha*CE + beta*RCE (symmetric cross-entropy, robust to wrong labels), weighted per class; "
        "resnet50_trust defaults to alpha 1, beta 1, effective-number weights, the others to plain CE",
    )
    loss.add_argument("--alpha", type=float, help="weight of cross-entropy")
    loss.add_argument("--beta", type=float, help="weight of reverse cross-entropy")
    loss.add_argument(
        "--class-weights", choices=("uniform", "inverse", "effective"), help="per-class weights"
    )
    loss.add_argument(
        "--margin-angle",
        type=float,
        default=0.0,
        metavar="M1",
        help="AMCM additive angular margin in radians (needs --classifier cosine)",
    )
    loss.add_argument(
        "--margin-cos",
        type=float,
        default=0.0,
        metavar="M2",
        help="AMCM additive cosine margin (needs --classifier cosine)",
    )
    loss.add_argument("--scale", type=float, help="cosine classifier scale s (default 30)")
    arch = p.add_argument_group("architecture")
    arch.add_argument(
        "--classifier",
        choices=("linear", "cosine"),
        default=None,
        help="resnet50_trust's last layer (default linear; cosine when margins are given)",
    )
    arch.add_argument(
        "--imagenet-weights",
        metavar="FILE",
        help="resnet50_trust: start from torchvision's ResNet-50 ImageNet weights in FILE "
        "(.safetensors or .pth; nothing is downloaded)",
    )
    arch.add_argument(
        "--interaction",
        choices=("none", "audio_to_visual", "visual_to_audio", "two_way"),
        default="audio_to_visual",
        help="parallel_cnn: middle-level feature interaction (default audio_to_visual)",
    )
    arch.add_argument(
        "--arch-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another hyper-parameter of the net, VALUE in JSON (repeatable), e.g. "
        "visual_channels=[8,16,32] or dropout=0.5; stored in the model card",
    )
    p.set_defaults(run=run)


def parse_arch_options(items: list[str]) -> dict:
    from musictagger.research.training import TrainingError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TrainingError(f"--arch-option {item!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value  # a bare word is a string
    return options


def build_config(args: argparse.Namespace):
    """The :class:`TrainConfig` the options describe, with the architecture's loss defaults filled in."""
    from musictagger.research.training import TrainConfig

    defaults = LOSS_DEFAULTS[args.architecture]
    margins = bool(args.margin_angle or args.margin_cos)
    return TrainConfig(
        architecture=args.architecture,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        device=args.device,
        patience=args.patience,
        val=args.val,
        test=args.test,
        max_patches=args.max_patches,
        alpha=defaults["alpha"] if args.alpha is None else args.alpha,
        beta=defaults["beta"] if args.beta is None else args.beta,
        class_weights=args.class_weights or defaults["class_weights"],
        margin_angle=args.margin_angle,
        margin_cos=args.margin_cos,
        scale=args.scale,
        classifier=args.classifier or ("cosine" if margins else "linear"),
        imagenet_weights=args.imagenet_weights,
        interaction=args.interaction,
        arch_options=parse_arch_options(args.arch_option),
    )


def output_folder(args: argparse.Namespace) -> Path:
    from musictagger.research.training import TrainingError

    name = args.name
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise TrainingError(f"{name!r}: not a model name (no slashes)")
    folder = Path(args.out) if args.out else catalog.user_models_dir() / name
    if (folder / catalog.CARD_FILE).exists() and not args.overwrite:
        raise TrainingError(f"{folder}: a model is already saved there (use --overwrite or another --name)")
    return folder


def run(args: argparse.Namespace) -> int:
    # Imported here so that 'musictagger --help' and the other commands do not pay for torch/sklearn.
    from musictagger.research import metrics
    from musictagger.research.cache import PatchCache
    from musictagger.research.datasets import open_dataset
    from musictagger.research.training import format_report, save_checkpoint, train

    config = build_config(args)
    config.validate()
    folder = output_folder(args)
    category = args.category or ("mood" if args.architecture == "emotion_cnn" else "genre")
    dataset = open_dataset(args.dataset)
    cache = PatchCache(with_features=config.uses_features, max_patches=config.max_patches)
    trained = train(config, dataset, cache=cache, progress=not args.quiet)
    if trained.failures:
        print(f"{len(trained.failures)} file(s) could not be decoded and were left out:", file=sys.stderr)
        report_errors(trained.failures)
    save_checkpoint(trained, folder, args.name, category, dataset_spec=args.dataset)
    print(format_report(trained.report))
    if trained.task == "multiclass":
        png = folder / "confusion.png"
        metrics.save_confusion_matrix_png(
            trained.report["confusion"],
            list(trained.labels),
            png,
            f"{args.name}: {trained.report['n_clips']} held-out test clips",
        )
        print(f"confusion matrix: {png}")
    print(f"best epoch {trained.best_epoch} of {len(trained.history)}; saved {args.name} to {folder}")
    return 1 if trained.failures else 0
