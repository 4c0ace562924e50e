"""Options and helpers shared by the commands that use the library index."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from musictagger.library import Library, default_url, open_library


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH|URL",
        help=f"library index: a file path or a SQLAlchemy URL (default: $MUSICTAGGER_DB or {default_url()})",
    )


def open_db(args: argparse.Namespace) -> Library:
    return open_library(args.db)


def progress(total: int | None, unit: str, quiet: bool) -> tqdm:
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=quiet, dynamic_ncols=True)


def report_errors(errors) -> None:
    """One line per file that failed, on stderr: the batch went on without it."""
    for path, cause in errors:
        print(f"  {path}: {cause}", file=sys.stderr)
