"""``scan PATH...``: index audio files (incrementally) and analyse what is new or changed."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager, nullcontext

from musictagger.cli.common import (
    SETTINGS_NOTE,
    add_analysis_options,
    add_db_option,
    open_db,
    progress,
    report_errors,
    run_settings,
    with_changes,
)
from musictagger.device import describe_device
from musictagger.library.db import Library
from musictagger.library.store import IN_PROCESS, AnalysisRunner
from musictagger.services.analysis import Models, pending_analyses, scan_and_analyse
from musictagger.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="index files and folders into the library and analyse what is new or changed",
        description="Walk the paths, add new files to the library index, update changed ones, follow moved "
        "ones and mark deleted ones; then analyse every track the index has no current analysis for. "
        "Unchanged files are skipped, so a rescan is fast and an interrupted scan resumes. "
        f"Audio files are only read. Analysis {SETTINGS_NOTE}.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_db_option(p)
    p.add_argument("--no-analyse", action="store_true", help="only index files, do not analyse them")
    add_analysis_options(p)
    add_full_option(p)
    add_ray_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def add_ray_option(parser: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]``: the analyses on a Ray cluster (services/ray_analysis.py)."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="analyse on a Ray cluster: the head node's HOST:PORT (or auto); without ADDRESS a local "
        "cluster on this machine's CPUs. Put it after the paths (scan ~/Music --ray). Every worker "
        "needs musictagger, its models and the music at the same paths as here (README)",
    )


def analysis_runner(
    args: argparse.Namespace, settings: Settings, models: Models | None
) -> AbstractContextManager[AnalysisRunner]:
    """Where this run's analyses run: this process, or with ``--ray`` a Ray cluster (connected, and its
    workers' models loaded, before the index is touched: an unreachable cluster changes nothing)."""
    if getattr(args, "ray", None) is None or models is None:
        return nullcontext(IN_PROCESS)
    from musictagger.services.ray_analysis import RayRunner  # Ray only for a run that asks for it

    runner = RayRunner.start(settings, models, address=args.ray or None)
    if not getattr(args, "quiet", False):
        print(f"musictagger: {runner.describe()}", file=sys.stderr)
    return runner


def running_on(models: Models, runner: AnalysisRunner) -> str:
    """Where the analyses run, in a few words for the progress line: "CPU (2 threads), int8" (library
    mode's int8 networks), "NVIDIA H100 …, bf16", or "Ray (4 workers)"."""
    if runner is not IN_PROCESS:
        return f"Ray ({len(getattr(runner, 'workers', ()))} workers)"
    analyzer = models.analyzer
    if models.patch_budget is not None and analyzer.library_int8:
        return f"{describe_device(analyzer.device)}, int8"
    return analyzer.device_name


def add_full_option(parser: argparse.ArgumentParser) -> None:
    """``--full``: [analysis] full for this run (every patch, not library mode's sample)."""
    parser.add_argument(
        "--full",
        action="store_true",
        default=None,
        help="analyse every 3-s patch of each track instead of library mode's patches spread over it "
        "(default: [analysis] full, false: [analysis] library_patches per track)",
    )


def full_settings(args: argparse.Namespace) -> Settings:
    """The run's settings (run_settings) with ``--full`` applied."""
    return with_changes(run_settings(args), "analysis", full=getattr(args, "full", None))


def run(args: argparse.Namespace) -> int:
    settings = full_settings(args)
    # The models load before the index is touched: a bad model or device stops the run at once.
    models = None if args.no_analyse else Models.load(settings)
    with analysis_runner(args, settings, models) as runner, open_db(args) as library:
        if not args.quiet:
            print(f"musictagger: library {library.url}", file=sys.stderr)
        return 1 if scan_and_report(library, args.paths, models, quiet=args.quiet, runner=runner) else 0


def scan_and_report(
    library: Library,
    paths,
    models: Models | None,
    *,
    quiet: bool,
    runner: AnalysisRunner = IN_PROCESS,
) -> int:
    """services.analysis.scan_and_analyse with progress bars and the reports on stderr; returns how many
    files failed (unreadable, or failing analysis). ``runner``: where the analyses run."""
    with progress(None, "file", quiet) as bar:
        scanned, _ = scan_and_analyse(library, paths, None, on_scan_progress=lambda *_: bar.update(1))
    print(
        f"musictagger: scanned in {scanned.elapsed_s:.1f} s: {scanned.added} added, {scanned.updated} "
        f"updated, {scanned.moved} moved, {scanned.unchanged} unchanged, {scanned.missing} missing, "
        f"{len(scanned.errors)} unreadable",
        file=sys.stderr,
    )
    report_errors(scanned.errors)
    if models is None:
        return len(scanned.errors)
    with progress(pending_analyses(library, models), "track", quiet, running_on(models, runner)) as bar:
        _, analysed = scan_and_analyse(library, (), models, on_track=lambda *_: bar.update(1), runner=runner)
    print(
        f"musictagger: analysed {analysed.analysed} tracks with {models.describe()}"
        f"{'' if runner is IN_PROCESS else ' on ' + runner.describe()}, "
        f"{len(analysed.errors)} failed",
        file=sys.stderr,
    )
    report_errors(analysed.errors)
    return len(scanned.errors) + len(analysed.errors)
