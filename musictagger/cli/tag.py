"""``tag PATH...``: analyse audio files and folders and print what the models hear. Modifies no file.

Each file's record also has its tempo and key (``tempo_key_fields``): ``bpm`` (one decimal), ``key``
("A minor"), ``camelot`` ("8A"), ``open_key`` ("1m"), their confidences, and for a value that is absent
(``null``) a ``bpm_reason`` / ``key_reason`` saying why.

With ``--write`` (or ``--dry-run``) it is the app's Write from the command line: the same services, the
same settings.toml, the same reviews, the same kind of undoable batch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from musictagger.cli.common import (
    POLICY_MODES,
    SETTINGS_NOTE,
    add_analysis_options,
    add_db_option,
    open_db,
    progress,
    report_errors,
    score,
    style_text,
    with_changes,
)
from musictagger.cli.scan import add_full_option, add_ray_option, analysis_runner, full_settings, running_on
from musictagger.keys import KEY_NOTATIONS
from musictagger.library.policy import ENERGY_MODES, TEMPO_KEY_MODES
from musictagger.services.analysis import Models, analyse_paths, audio_files
from musictagger.services.suggest import SECTIONS, analysis_record
from musictagger.services.writes import format_diff, plan_write, track_ids_under, unsure_fields, write
from musictagger.settings import Settings
from musictagger.tempo_key import TempoKey

# Why a record has no tempo or key when the analysis ran no tempo/key stage at all.
STAGE_OFF = "tempo and key analysis is off ([analysis] tempo_key = false)"

__all__ = ["SECTIONS", "add_parser", "run", "track_record"]

track_record = analysis_record  # the JSON object of one file (kept under its old name)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tag",
        help="print the genres and moods of files and folders; with --write, write them into the tags",
        description="Analyse audio files (folders are walked recursively) and print, per file, the top "
        "genres and moods and every raw model tag. Without --write files are never modified; with "
        f"--write (or --dry-run) see 'writing tags' below. {SETTINGS_NOTE}.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument("--json", action="store_true", help="print one JSON object per file (JSON lines)")
    add_analysis_options(p)
    add_full_option(p)
    add_ray_option(p)
    p.add_argument(
        "--top",
        type=int,
        metavar="N",
        help="at most N genres and N moods printed (default: [display] cap, 3)",
    )
    p.add_argument(
        "--min-score",
        type=score,
        metavar="P",
        help="leave out labels scoring below P (default: [display] threshold, 0.1, when printing; "
        "[write] min_score, auto = each label at its calibrated threshold, when writing)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    w = p.add_argument_group(
        "writing tags",
        "With --write (or --dry-run) the paths are scanned into the library index, what it lacks is "
        "analysed, and the suggestions are written into the files' tags, as the app's Write does: the "
        "[write] settings, and the reviews made in the app (a rejected field is left alone, a reviewed "
        "one gets the reviewed values). Every write is verified, atomic and journaled: 'undo' reverts the "
        "whole batch.",
    )
    w.add_argument("--write", action="store_true", help="write genre and mood tags into the files")
    w.add_argument("--dry-run", action="store_true", help="print what --write would change, write nothing")
    w.add_argument(
        "--policy",
        choices=POLICY_MODES,
        help="for genre and mood: fill only empty fields, merge with what is there, replace, or skip "
        "(default: [write] genre_mode / mood_mode, fill)",
    )
    w.add_argument("--genre-policy", choices=POLICY_MODES, help="override --policy for genre")
    w.add_argument("--mood-policy", choices=POLICY_MODES, help="override --policy for mood")
    w.add_argument(
        "--max-genres", type=int, metavar="N", help="genres to write (default: [write] max_genres, 2)"
    )
    w.add_argument(
        "--max-moods", type=int, metavar="N", help="moods to write (default: [write] max_moods, 2)"
    )
    w.add_argument(
        "--comment-block",
        action=argparse.BooleanOptionalAction,
        help="also keep a '[mood: …; … | genre: … | energy: N]' block in the comment, for DJ software that "
        "shows no MOOD (default: [write] comment_block)",
    )
    w.add_argument(
        "--from-copies",
        action=argparse.BooleanOptionalAction,
        help="fill an empty genre or mood no label fills with confidence from the same recording's other "
        "files in the library, when they agree (default: [write] from_copies, on)",
    )
    w.add_argument(
        "--energy-policy",
        choices=ENERGY_MODES,
        help="the EnergyLevel field (1-10, as Mixed In Key writes it): fill only if empty, replace, or skip "
        "(default: [write] energy_mode, fill)",
    )
    w.add_argument(
        "--bpm-policy",
        choices=TEMPO_KEY_MODES,
        help="BPM (TBPM and its equivalents, a whole number): fill only if empty, replace, or skip "
        "(default: [write] bpm_mode, fill)",
    )
    w.add_argument(
        "--key-policy",
        choices=TEMPO_KEY_MODES,
        help="the key (TKEY and its equivalents): fill only if the file has none, replace, or skip "
        "(default: [write] key_mode, fill)",
    )
    w.add_argument(
        "--key-notation",
        choices=KEY_NOTATIONS,
        help="how a written key is spelled: short (Am), camelot (8A), open_key (1m) or musical (A minor) "
        "(default: [write] key_notation, short)",
    )
    add_db_option(w)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.write or args.dry_run:
        return write_library_tags(args)
    settings = with_changes(full_settings(args), "display", cap=args.top, threshold=args.min_score)
    models = Models.load(settings)
    selection = settings.selection_policy()
    if not args.quiet:
        print(f"musictagger: {models.describe()}", file=sys.stderr)

    files, walk_errors = audio_files(args.paths)
    failures = len(walk_errors)
    for error in walk_errors:
        _emit({"path": error.path, "error": error.cause, "error_type": "WalkError"}, args.json)

    started = time.perf_counter()
    analysed = 0
    audio_seconds = 0.0
    with (
        analysis_runner(args, settings, models) as runner,
        progress(len(files), "track", args.quiet, running_on(models, runner)) as bar,
    ):
        for result in analyse_paths(files, models, runner=runner):
            record = analysis_record(result, models.vocabulary, selection, args.min_score)
            if result.analysis is not None:
                record.update(tempo_key_fields(result.analysis.tempo_key))
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


def tempo_key_fields(tempo_key: TempoKey | None) -> dict[str, object]:
    """The tempo and key of one record: values, confidences, and the reason for each absent one."""
    if tempo_key is not None:
        return tempo_key.as_json()
    return {
        "bpm": None,
        "bpm_reason": STAGE_OFF,
        "key": None,
        "camelot": None,
        "open_key": None,
        "key_reason": STAGE_OFF,
    }


def _human_line(record: dict) -> str:
    if "error" in record:
        return f"{record['path']}: ERROR {record['error']}"
    minutes, seconds = divmod(round(record["duration_s"]), 60)

    confident = record.get("confident", {})

    def fmt(items: list[dict], field: str) -> str:
        # ✓ as in the app: confident (at its calibrated threshold, or --min-score); a write takes the
        # best of these, up to the field's maximum
        sure = set(confident.get(field, []))
        return (
            ", ".join(f"{i['label']} {i['score']:.2f}{' ✓' if i['label'] in sure else ''}" for i in items)
            or "-"
        )

    hint = style_text(record.get("style"))
    dimensions = ""
    if "energy" in record:
        dimensions = f"  energy: {record['energy']:.1f}  valence: {record['valence']:+.2f}"
    notes = "".join(f"  ({note})" for note in record.get("notes", []))
    bpm = f"{record['bpm']:.1f}" if record.get("bpm") is not None else "-"
    key = f"{record['key']} ({record['camelot']})" if record.get("key") else "-"
    return (
        f"{record['path']}  [{minutes}:{seconds:02d}]  bpm: {bpm}  key: {key}  "
        f"genres: {fmt(record['genres'], 'genre')}{hint}  moods: {fmt(record['moods'], 'mood')}{dimensions}"
        f"{notes}"
    )


def _emit(record: dict, as_json: bool) -> None:
    line = json.dumps(record, ensure_ascii=False) if as_json else _human_line(record)
    # Paths that are not valid UTF-8 hold lone surrogates (os.fsdecode); print them escaped, never crash.
    sys.stdout.write(line.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stdout.flush()


def write_settings(args: argparse.Namespace) -> Settings:
    """settings.toml with this run's analysis and [write] options. A field given a mode on the command
    line is written even if the settings turned it off."""
    settings = full_settings(args)
    genre_mode = args.genre_policy or args.policy
    mood_mode = args.mood_policy or args.policy
    return with_changes(
        settings,
        "write",
        genre_mode=genre_mode,
        write_genre=True if genre_mode else None,
        mood_mode=mood_mode,
        write_mood=True if mood_mode else None,
        max_genres=args.max_genres,
        max_moods=args.max_moods,
        min_score=args.min_score,
        comment_block=args.comment_block,
        from_copies=args.from_copies,
        energy_mode=args.energy_policy,
        bpm_mode=args.bpm_policy,
        key_mode=args.key_policy,
        key_notation=args.key_notation,
    )


def write_library_tags(args: argparse.Namespace) -> int:
    """``tag --write`` / ``--dry-run``: scan, analyse what the index lacks, plan (reviews honoured), then
    print the diff or write one undoable batch."""
    from musictagger.cli.scan import scan_and_report

    settings = write_settings(args)
    models = Models.load(settings)
    with analysis_runner(args, settings, models) as runner, open_db(args) as library:
        failures = scan_and_report(library, args.paths, models, quiet=args.quiet, runner=runner)
        track_ids = track_ids_under(library, args.paths)
        plans = plan_write(library, models.vocabulary, track_ids, settings)
        print(format_diff(plans) or "nothing to change", flush=True)
        unsure = unsure_fields(plans)
        if unsure:
            options = " ".join(f"--no-{field}" for field in unsure)
            print(
                f"musictagger: a write leaves those fields as they are; to tag them by hand, ./run.sh list "
                f"{options} lists them (the app: No confident {' / '.join(unsure)})",
                file=sys.stderr,
            )
        if args.dry_run:
            print("musictagger: dry run: no file was changed", file=sys.stderr)
            return 1 if failures else 0
        with progress(sum(1 for p in plans if p.new), "file", args.quiet) as bar:
            report = write(
                library,
                plans,
                settings,
                description="tag --write " + " ".join(args.paths),
                on_progress=lambda done, _total: bar.update(done - bar.n),
            )
    if report.batch_id is None:
        print("musictagger: nothing to write", file=sys.stderr)
    else:
        print(
            f"musictagger: batch {report.batch_id}: {report.written} files written, "
            f"{len(report.failed)} failed"
            + (f"; undo with: ./run.sh undo {report.batch_id}" if report.written else ""),
            file=sys.stderr,
        )
    report_errors(report.failed)
    return 1 if failures or report.failed else 0
