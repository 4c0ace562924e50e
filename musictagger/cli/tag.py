"""``tag PATH...``: analyse audio files and folders and print what the models hear. Modifies no file."""

from __future__ import annotations

import argparse
import json
import sys
import time

from tqdm import tqdm

from musictagger.analysis import AnalysisResult, Analyzer, analyse_files
from musictagger.files import WalkError, iter_audio_files
from musictagger.taxonomy import SelectionPolicy, Vocabulary, load_vocabulary

# JSON key -> vocabulary category, in output order.
SECTIONS = {"genres": "genre", "moods": "mood", "eras": "era", "instruments": "instrument/voice"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tag",
        help="analyse files and folders and print their genres and moods (modifies nothing)",
        description="Analyse audio files (folders are walked recursively) and print, per file, the top "
        "genres and moods and every raw model tag. Files are never modified by this command.",
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
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--top", type=int, default=3, metavar="N", help="at most N genres and N moods (default 3)")
    p.add_argument(
        "--min-score",
        type=float,
        default=0.1,
        metavar="P",
        help="leave out labels whose score is below P (default 0.1)",
    )
    p.add_argument(
        "--vocabulary", metavar="FILE", help="vocabulary JSON (default: yours, else the shipped one)"
    )
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="patches per model call")
    p.add_argument("--workers", type=int, default=2, metavar="N", help="decoding threads (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
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
    return record


def _cause(error: Exception) -> str:
    return getattr(error, "cause", None) or str(error)


def _human_line(record: dict) -> str:
    if "error" in record:
        return f"{record['path']}: ERROR {record['error']}"
    minutes, seconds = divmod(round(record["duration_s"]), 60)

    def fmt(items: list[dict]) -> str:
        return ", ".join(f"{i['label']} {i['score']:.2f}" for i in items) or "-"

    return (
        f"{record['path']}  [{minutes}:{seconds:02d}]  "
        f"genres: {fmt(record['genres'])}  moods: {fmt(record['moods'])}"
    )


def run(args: argparse.Namespace) -> int:
    vocabulary = load_vocabulary(args.vocabulary)
    policy = SelectionPolicy(top_n=args.top, min_score=args.min_score)
    analyzer = Analyzer(args.models, device=args.device, batch_size=args.batch_size)
    if not args.quiet:
        print(
            f"musictagger: models {', '.join(analyzer.model_names)} on {analyzer.device_name}",
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
