"""``scan PATH...``: index audio files (incrementally) and analyse what is new or changed."""

from __future__ import annotations

import argparse
import sys

from musictagger.analysis import Analyzer
from musictagger.cli.common import add_db_option, open_db, progress, report_errors
from musictagger.library.scanner import scan
from musictagger.library.store import analyse_pending
from musictagger.taxonomy import load_vocabulary


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="index files and folders into the library and analyse what is new or changed",
        description="Walk the paths, add new files to the library index, update changed ones, follow moved "
        "ones and mark deleted ones; then analyse every track the index has no current analysis for. "
        "Unchanged files are skipped, so a rescan is fast and an interrupted scan resumes. "
        "Audio files are only read.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_db_option(p)
    p.add_argument("--no-analyse", action="store_true", help="only index files, do not analyse them")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--model", action="append", dest="models", metavar="NAME", help="model to run (repeatable)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_db(args) as library:
        if not args.quiet:
            print(f"musictagger: library {library.url}", file=sys.stderr)
        failures = index_paths(library, args.paths, quiet=args.quiet)
        if not args.no_analyse:
            failures += analyse_library(library, args.models, args.device, quiet=args.quiet)
    return 1 if failures else 0


def index_paths(library, paths, *, quiet: bool) -> int:
    """Scan ``paths`` into the index with a progress bar; returns how many files failed."""
    with progress(None, "file", quiet) as bar:
        report = scan(library, paths, on_progress=lambda *_: bar.update(1))
    print(
        f"musictagger: scanned in {report.elapsed_s:.1f} s: {report.added} added, {report.updated} updated, "
        f"{report.moved} moved, {report.unchanged} unchanged, {report.missing} missing, "
        f"{len(report.errors)} unreadable",
        file=sys.stderr,
    )
    report_errors(report.errors)
    return len(report.errors)


def analyse_library(library, models, device: str, *, quiet: bool) -> int:
    """Analyse every track lacking a current analysis; returns how many failed."""
    analyzer = Analyzer(models, device=device)
    vocabulary = load_vocabulary()
    with progress(None, "track", quiet) as bar:
        report = analyse_pending(library, analyzer, vocabulary, on_result=lambda *_: bar.update(1))
    print(
        f"musictagger: analysed {report.analysed} tracks on {analyzer.device_name}, "
        f"{len(report.errors)} failed",
        file=sys.stderr,
    )
    report_errors(report.errors)
    return len(report.errors)
