"""``tag PATH...``: analyse audio files and folders and print what the models hear. Modifies no file."""

from __future__ import annotations

import argparse
import json
import sys
import time

from tqdm import tqdm

from musictagger.analysis import AnalysisResult, Analyzer, analyse_files
from musictagger.cli.common import add_db_option, open_db
from musictagger.files import WalkError, iter_audio_files
from musictagger.taxonomy import SelectionPolicy, Vocabulary, load_vocabulary

POLICY_MODES = ("fill", "merge", "replace", "skip")

# JSON key -> vocabulary category, in output order.
SECTIONS = {"genres": "genre", "moods": "mood", "eras": "era", "instruments": "instrument/voice"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tag",
        help="print the genres and moods of files and folders; with --write, write them into the tags",
        description="Analyse audio files (folders are walked recursively) and print, per file, the top "
        "genres and moods and every raw model tag. Without --write files are never modified; with "
        "--write (or --dry-run) see 'writing tags' below.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument("--json", action="store_true", help="print one JSON object per file (JSON lines)")
    p.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="model to run (repeatable; default: every tagger in models/)",
    )
    p.add_argument(
        "--head",
        action="append",
        dest="heads",
        metavar="NAME",
        help="head to run on the models' embeddings (repeatable; default: every head whose models run)",
    )
    p.add_argument("--no-heads", action="store_true", help="run no head")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--top", type=int, default=3, metavar="N", help="at most N genres and N moods (default 3)")
    p.add_argument(
        "--min-score",
        type=float,
        metavar="P",
        help="leave out labels whose score is below P (default 0.1 when printing, 0.2 when writing)",
    )
    p.add_argument(
        "--vocabulary", metavar="FILE", help="vocabulary JSON (default: yours, else the shipped one)"
    )
    p.add_argument(
        "--batch-size", type=int, metavar="N", help="patches per model call (default 16 on CPU, 64 on GPU)"
    )
    p.add_argument("--workers", type=int, default=2, metavar="N", help="decoding threads (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    w = p.add_argument_group(
        "writing tags",
        "With --write (or --dry-run) the paths are scanned into the library index, what it lacks is "
        "analysed, and the suggestions are written into the files' tags. Every write is verified, atomic "
        "and journaled: 'undo' reverts the whole batch.",
    )
    w.add_argument("--write", action="store_true", help="write genre and mood tags into the files")
    w.add_argument("--dry-run", action="store_true", help="print what --write would change, write nothing")
    w.add_argument(
        "--policy",
        choices=POLICY_MODES,
        default="fill",
        help="for genre and mood: fill only empty fields (default), merge with what is there, or replace",
    )
    w.add_argument("--genre-policy", choices=POLICY_MODES, help="override --policy for genre")
    w.add_argument("--mood-policy", choices=POLICY_MODES, help="override --policy for mood")
    w.add_argument("--max-genres", type=int, default=2, metavar="N", help="genres to write (default 2)")
    w.add_argument("--max-moods", type=int, default=2, metavar="N", help="moods to write (default 2)")
    w.add_argument(
        "--comment-block",
        action="store_true",
        help="also keep a '[mood: …; … | genre: …]' block in the comment, for DJ software that shows no MOOD",
    )
    add_db_option(w)
    p.set_defaults(run=run)


def track_record(result: AnalysisResult, vocabulary: Vocabulary, policy: SelectionPolicy) -> dict:
    """The JSON object for one file: its labels per category and every raw tag of every model."""
    if result.error is not None:
        return {"path": result.path, "error": _cause(result.error), "error_type": type(result.error).__name__}
    analysis = result.analysis
    raw = analysis.raw_tags()
    record: dict = {"path": analysis.path, "duration_s": round(analysis.duration_s, 3)}
    for key, category in SECTIONS.items():
        record[key] = [s.as_dict() for s in vocabulary.select(raw, category, policy)]
    record["tags"] = {model: {tag: round(p, 6) for tag, p in tags.items()} for model, tags in raw.items()}
    record["heads"] = {
        head: {label: round(p, 6) for label, p in probs.items()}
        for head, probs in analysis.head_scores().items()
    }
    return record


def _cause(error: Exception) -> str:
    return getattr(error, "cause", None) or str(error)


def _human_line(record: dict) -> str:
    if "error" in record:
        return f"{record['path']}: ERROR {record['error']}"
    minutes, seconds = divmod(round(record["duration_s"]), 60)

    def fmt(items: list[dict]) -> str:
        return ", ".join(f"{i['label']} {i['score']:.2f}" for i in items) or "-"

    heads = "".join(
        "  {}: {} {:.2f}".format(name, *max(probs.items(), key=lambda item: item[1]))
        for name, probs in record.get("heads", {}).items()
    )
    return (
        f"{record['path']}  [{minutes}:{seconds:02d}]  "
        f"genres: {fmt(record['genres'])}  moods: {fmt(record['moods'])}{heads}"
    )


def run(args: argparse.Namespace) -> int:
    if args.write or args.dry_run:
        return write_library_tags(args)
    vocabulary = load_vocabulary(args.vocabulary)
    policy = SelectionPolicy(top_n=args.top, min_score=0.1 if args.min_score is None else args.min_score)
    heads = () if args.no_heads else args.heads
    analyzer = Analyzer(args.models, device=args.device, batch_size=args.batch_size, heads=heads)
    if not args.quiet:
        with_heads = f", heads {', '.join(analyzer.heads)}" if analyzer.heads else ""
        print(
            f"musictagger: models {', '.join(analyzer.model_names)}{with_heads} on {analyzer.device_name}",
            file=sys.stderr,
        )

    files: list[str] = []
    failures = 0
    for item in iter_audio_files(args.paths):
        if isinstance(item, WalkError):
            failures += 1
            _emit({"path": item.path, "error": item.cause, "error_type": "WalkError"}, args.json)
        else:
            files.append(item)

    started = time.perf_counter()
    analysed = 0
    audio_seconds = 0.0
    bar = tqdm(total=len(files), unit="track", file=sys.stderr, disable=args.quiet, dynamic_ncols=True)
    with bar:
        for result in analyse_files(analyzer, files, decode_workers=args.workers):
            record = track_record(result, vocabulary, policy)
            if result.error is not None:
                failures += 1
            else:
                analysed += 1
                audio_seconds += result.analysis.duration_s
            bar.clear()
            _emit(record, args.json)
            bar.update(1)
    if not args.quiet:
        elapsed = time.perf_counter() - started
        speed = f", {audio_seconds / elapsed:.0f}x real time" if elapsed > 0 and audio_seconds else ""
        print(
            f"musictagger: {analysed} analysed, {failures} failed, {elapsed:.1f} s{speed}",
            file=sys.stderr,
        )
    return 1 if failures else 0


def _emit(record: dict, as_json: bool) -> None:
    line = json.dumps(record, ensure_ascii=False) if as_json else _human_line(record)
    # Paths that are not valid UTF-8 hold lone surrogates (os.fsdecode); print them escaped, never crash.
    sys.stdout.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stdout.flush()


def write_library_tags(args: argparse.Namespace) -> int:
    """``tag --write``: scan, analyse what the index lacks, plan per policy, then diff or write."""
    from musictagger.cli.scan import analyse_library, index_paths
    from musictagger.library.queries import tracks_under
    from musictagger.library.writing import WritePolicy, apply_writes, format_diff, plan_writes

    policy = WritePolicy(
        genre=args.genre_policy or args.policy,
        mood=args.mood_policy or args.policy,
        max_genres=args.max_genres,
        max_moods=args.max_moods,
        min_score=0.2 if args.min_score is None else args.min_score,
        comment_block=args.comment_block,
    )
    vocabulary = load_vocabulary(args.vocabulary)
    with open_db(args) as library:
        failures = index_paths(library, args.paths, quiet=args.quiet)
        failures += analyse_library(library, args.models, args.device, quiet=args.quiet)
        with library.session() as session:
            plans = plan_writes(session, tracks_under(session, args.paths), policy, vocabulary)
        print(format_diff(plans) or "nothing to change", flush=True)
        if args.dry_run:
            print("musictagger: dry run: no file was changed", file=sys.stderr)
            return 1 if failures else 0
        report = apply_writes(library, plans, policy, description="tag --write " + " ".join(args.paths))
    if report.batch_id is None:
        print("musictagger: nothing to write", file=sys.stderr)
    else:
        print(
            f"musictagger: batch {report.batch_id}: {report.written} files written, "
            f"{len(report.failed)} failed"
            + (f"; undo with: ./run.sh undo {report.batch_id}" if report.written else ""),
            file=sys.stderr,
        )
    for path, cause in report.failed:
        print(f"  {path}: {cause}", file=sys.stderr)
    return 1 if failures or report.failed else 0
