"""Options and helpers shared by the commands: the library index, and settings.toml with the flags that
override it for one run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm import tqdm

from musictagger.device import LIBRARY_PRECISIONS, PRECISIONS
from musictagger.errors import MusictaggerError
from musictagger.library import Library, default_url, open_library
from musictagger.settings import Settings, load_settings

POLICY_MODES = ("fill", "merge", "replace", "skip")
SETTINGS_NOTE = "defaults come from settings.toml (docs/settings.md); options override it for this run"


def add_db_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help=f"library index: a file path or a SQLAlchemy URL (default: $MUSICTAGGER_DB or {default_url()})",
    )


def open_db(args: argparse.Namespace) -> Library:
    return open_library(args.db)


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """--device, --precision, --library-precision, --model, --head, --no-heads, --batch-size, --workers,
    --vocabulary: [analysis] and the vocabulary of settings.toml, for this run."""
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="model to run (repeatable; default: [analysis] models, else every tagger in models/)",
    )
    parser.add_argument(
        "--head",
        action="append",
        dest="heads",
        metavar="NAME",
        help="head to run on the models' embeddings (repeatable; default: [analysis] heads, else every "
        "head whose models run)",
    )
    parser.add_argument("--no-heads", action="store_true", default=None, help="run no head")
    parser.add_argument(
        "--device", help="auto, cpu, cuda, cuda:N or mps (default: [analysis] device, else auto)"
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="how the networks compute (default: [analysis] precision, else auto: bf16 on a CPU with AMX, "
        "else fp32)",
    )
    parser.add_argument(
        "--library-precision",
        choices=LIBRARY_PRECISIONS,
        help="how library mode's networks compute (default: [analysis] library_precision, else auto: int8 "
        "on a CPU with VNNI or AMX, else as --precision); --full never runs int8",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive,
        metavar="N",
        help="patches per model call (default: [analysis] batch_size, else 16 on CPU, 64 on GPU)",
    )
    parser.add_argument(
        "--workers", type=_positive, metavar="N", help="decoding threads (default: [analysis] workers, 2)"
    )
    parser.add_argument(
        "--vocabulary",
        metavar="FILE",
        help="vocabulary JSON (default: settings' vocabulary, yours, else shipped)",
    )


def run_settings(args: argparse.Namespace) -> Settings:
    """settings.toml with this run's options applied (options absent from ``args`` change nothing)."""
    settings = load_settings()
    analysis: dict[str, Any] = {}
    if getattr(args, "device", None) is not None:
        analysis["device"] = args.device
    if getattr(args, "precision", None) is not None:
        analysis["precision"] = args.precision
    if getattr(args, "library_precision", None) is not None:
        analysis["library_precision"] = args.library_precision
    if getattr(args, "models", None):
        analysis["models"] = tuple(args.models)
    if getattr(args, "heads", None):
        analysis["heads"], analysis["run_heads"] = tuple(args.heads), True
    if getattr(args, "no_heads", None):
        analysis["run_heads"] = False
    if getattr(args, "batch_size", None) is not None:
        analysis["batch_size"] = args.batch_size
    if getattr(args, "workers", None) is not None:
        analysis["workers"] = args.workers
    changes: dict[str, Any] = {}
    if analysis:
        changes["analysis"] = analysis
    if getattr(args, "vocabulary", None):
        changes["vocabulary"] = args.vocabulary
    try:
        return settings.replace(**changes)
    except ValueError as exc:  # e.g. --device tpu: the message names the option's setting
        raise MusictaggerError(str(exc)) from None


def with_changes(settings: Settings, table: str, **values: Any) -> Settings:
    """``settings`` with the non-None ``values`` set in ``table``."""
    given = {key: value for key, value in values.items() if value is not None}
    try:
        return settings.replace(**{table: given}) if given else settings
    except ValueError as exc:
        raise MusictaggerError(str(exc)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def score(text: str) -> float:
    """A confidence from 0 to 1 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {value}")
    return value


def progress(total: int | None, unit: str, quiet: bool, where: str | None = None) -> tqdm:
    """A progress line on stderr: done / total, rate, time left, and ``where`` the work runs (the
    device, or the Ray cluster) at its start, so a long run says what it runs on the whole time."""
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=quiet, dynamic_ncols=True, desc=where)


def report_errors(errors) -> None:
    """One line per file that failed, on stderr: the batch went on without it."""
    for path, cause in errors:
        print(f"  {path}: {cause}", file=sys.stderr)


def style_text(style: dict | None) -> str:
    """A printed line's style hint ("  style: Metal (Rock)"), with no score: a raw tag's, never written."""
    if not style:
        return ""
    return f"  style: {style['label']}" + (f" ({style['family']})" if style.get("family") else "")
