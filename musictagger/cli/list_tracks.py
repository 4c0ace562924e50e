"""``list``: query the library index by genre, mood, text, energy, BPM and key (the app's filter), or for
the tracks that sound like one, or for the recordings held in more than one file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from musictagger.cli.common import add_db_option, open_db, run_settings, score, style_text
from musictagger.keys import KeyParseError, compatible_keys, parse_key, try_parse_key
from musictagger.library.queries import tracks_by_id
from musictagger.services.search import SORT_COLUMNS, TrackQuery, find
from musictagger.services.similar import (
    DEFAULT_BPM_TOLERANCE,
    RecordingFile,
    more_like,
    recordings_in_several_files,
    similarity_models,
    track_id_at,
)
from musictagger.services.suggest import style_hint, track_suggestions
from musictagger.settings import Settings

DEFAULT_LIMIT = 20


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list indexed tracks by genre, mood or text",
        description="List the indexed tracks having every genre and mood asked for (any spelling the "
        "vocabulary knows), whose title, artist, album or path contains the text (case, accents and "
        "width ignored, as in the app's search) and whose energy, BPM and key are in the ranges asked for: "
        "the tracks the app's table shows for the same choices, in the same order. Each with its genres, "
        "moods, BPM, key and energy. With --like, the tracks that sound most like a track instead, "
        "nearest first.",
    )
    add_query_options(p)
    add_like_options(p)
    p.add_argument(
        "--duplicates",
        action="store_true",
        help="the recordings held in more than one file (a FLAC and its MP3, found by sound), each with "
        "its files, lossless first; the other options narrow them to recordings one of whose files matches",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per track, with its reviews")
    add_db_option(p)
    p.set_defaults(run=run)


def add_query_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--genre", action="append", default=[], metavar="G", help="has genre G (repeatable: all of them)"
    )
    p.add_argument(
        "--mood", action="append", default=[], metavar="M", help="has mood M (repeatable: all of them)"
    )
    for category, plural in (("genre", "genres"), ("mood", "moods")):
        p.add_argument(
            f"--no-{category}",
            dest="without",
            action="append_const",
            const=category,
            help=f"analysed, but no {category} is confident (with --min-score P: none scores P or more): "
            f"the tracks a write leaves without {plural}, to tag by hand",
        )
    p.add_argument(
        "--search",
        metavar="TEXT",
        help="title, artist, album or path contains TEXT (case and accents ignored)",
    )
    p.add_argument(
        "--min-score",
        type=score,
        metavar="P",
        help="--genre and --mood count a label at confidence P or more, and the suggestions shown start at "
        "P (default: a label counts when it is confident, at its calibrated threshold, as the app's "
        "facets count it; suggestions are shown from the [display] threshold of settings.toml, 0.1)",
    )
    p.add_argument("--vocabulary", metavar="FILE", help="vocabulary JSON (default: as in settings.toml)")
    crate = p.add_argument_group(
        "energy, tempo and key",
        "as the app's facets: a track not analysed for one is left out when it is asked",
    )
    crate.add_argument(
        "--energy",
        type=energy_range,
        metavar="LOW-HIGH",
        help="energy (1-10) in this range, as whole numbers a DJ reads: 6-8 holds 5.5 up to 8.5; also 7 "
        "(6.5 up to 7.5), 7- (7 and up) or -4 (up to 4)",
    )
    crate.add_argument(
        "--bpm",
        type=bpm_range,
        metavar="LOW-HIGH",
        help="tempo in this range, inclusive: 120-128, 170- or -100; one number N is N-0.5 to N+0.5",
    )
    crate.add_argument(
        "--key",
        dest="keys",
        action="append",
        type=key_name,
        metavar="K",
        help="in key K, in any notation (8A, Am, A minor, 1m); repeatable: any of them",
    )
    crate.add_argument(
        "--mixes-with",
        action="append",
        type=key_name,
        metavar="K",
        help="in a key that mixes with K (Camelot: the same, one step round the wheel, the relative "
        "major/minor); repeatable, and with --key: any of them",
    )
    crate.add_argument(
        "--sort",
        type=sort_column,
        default="path",
        metavar="COLUMN",
        help=f"order by {', '.join(SORT_COLUMNS)}; COLUMN- for descending, e.g. energy- (default: path), "
        "as the app's table sorts (unknown values last)",
    )


def add_like_options(p: argparse.ArgumentParser) -> None:
    like = p.add_argument_group(
        "more like this",
        "the tracks whose sound (the musicnn embeddings of their analysis) is nearest to a track's, by "
        "cosine similarity; --genre, --mood and --search narrow the candidates",
    )
    like.add_argument(
        "--like", metavar="PATH", help="tracks that sound like this indexed file, nearest first"
    )
    like.add_argument(
        "--limit",
        type=_count,
        metavar="N",
        help=f"at most N tracks, the first in --sort's order (with --like: the N nearest, default "
        f"{DEFAULT_LIMIT})",
    )
    keys = like.add_mutually_exclusive_group()
    keys.add_argument(
        "--compatible-key",
        dest="key_rule",
        action="store_const",
        const="compatible",
        help="only keys that mix with the track's: the same, one step round the Camelot wheel, relative "
        "major/minor",
    )
    keys.add_argument(
        "--same-key", dest="key_rule", action="store_const", const="same", help="only the track's own key"
    )
    like.add_argument(
        "--bpm-tolerance",
        type=_percent,
        nargs="?",
        const=DEFAULT_BPM_TOLERANCE * 100,
        metavar="PCT",
        help=f"only tempos within PCT %% of the track's (default {DEFAULT_BPM_TOLERANCE * 100:g}), half and "
        "double tempo included",
    )
    like.add_argument(
        "--no-half-double",
        dest="half_double",
        action="store_false",
        help="with --bpm-tolerance: half and double tempo do not count",
    )


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive count")
    return value


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value < 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage in [0, 100)")
    return value


def energy_range(text: str) -> tuple[float, float]:
    """LOW-HIGH, N, N- or -N on the 1-10 energy scale (argparse type)."""
    return _range(text, 1, 10, "energy", single_halfwidth=0.0)


def bpm_range(text: str) -> tuple[float, float]:
    """LOW-HIGH, N, N- or -N in beats per minute; N alone is N ± 0.5, the tempo shown rounded (argparse
    type)."""
    return _range(text, 0, 999, "BPM", single_halfwidth=0.5)


def _range(
    text: str, lowest: float, highest: float, what: str, single_halfwidth: float
) -> tuple[float, float]:
    low_text, dash, high_text = text.strip().partition("-")
    try:
        low = float(low_text) if low_text.strip() else lowest
        high = (float(high_text) if high_text.strip() else highest) if dash else low
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {what} range (expected LOW-HIGH)") from None
    if not lowest <= low <= high <= highest:
        raise argparse.ArgumentTypeError(f"{text!r}: {what} runs from {lowest:g} to {highest:g}, low first")
    return (low, high) if dash else (low - single_halfwidth, high + single_halfwidth)


def key_name(text: str) -> str:
    """The canonical name of a key given in any notation (argparse type)."""
    try:
        return parse_key(text).musical
    except KeyParseError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def sort_column(text: str) -> str:
    """COLUMN, COLUMN+ (ascending) or COLUMN- (descending), as beets sorts (argparse type); the query's
    spelling, "-COLUMN" for descending."""
    column = text.strip().rstrip("+-")
    if column not in SORT_COLUMNS:
        raise argparse.ArgumentTypeError(f"cannot sort by {text!r}; use one of {', '.join(SORT_COLUMNS)}")
    return "-" + column if text.strip().endswith("-") else column


def track_query(args: argparse.Namespace) -> TrackQuery:
    """What the query options ask for (``list`` and ``export`` share them)."""
    keys = None
    if args.keys or args.mixes_with:
        mixing = [k.musical for name in args.mixes_with or () for k in compatible_keys(parse_key(name))]
        keys = tuple(dict.fromkeys([*(args.keys or ()), *mixing]))
    return TrackQuery(
        genres=tuple(args.genre),
        moods=tuple(args.mood),
        without=tuple(dict.fromkeys(args.without or ())),
        text=args.search,
        min_score=args.min_score,  # None: confidently, as the app's facets
        energy=args.energy,
        bpm=args.bpm,
        keys=keys,
        sort=args.sort,
    )


def query_settings(args: argparse.Namespace) -> Settings:
    """settings.toml with --min-score as the display threshold (the suggestions shown)."""
    settings = run_settings(args)
    if args.min_score is not None:
        settings = settings.replace(display={"threshold": args.min_score})
    return settings


def run(args: argparse.Namespace) -> int:
    if args.like is None and (args.key_rule, args.bpm_tolerance) != (None, None):
        print(
            "musictagger: --same-key, --compatible-key and --bpm-tolerance need --like",
            file=sys.stderr,
        )
        return 2
    if args.duplicates and args.like is not None:
        print(
            "musictagger: --duplicates and --like ask two different questions: one at a time", file=sys.stderr
        )
        return 2
    settings = query_settings(args)
    vocabulary = settings.load_vocabulary()
    query = track_query(args)
    filtered = query != TrackQuery(sort=query.sort, min_score=query.min_score)  # anything narrows it
    notation = settings.display.key_notation
    with open_db(args) as library, library.session() as session:
        if args.duplicates:
            among = [t.id for t in find(session, vocabulary, query)] if filtered else None
            groups = recordings_in_several_files(session, among=among, models=similarity_models(settings))
            print_duplicates(groups, args.json)
            return 0
        if args.like is None:
            tracks = find(session, vocabulary, query, limit=args.limit)
            rows = [(t.id, t.path, t.duration_s, {}) for t in tracks]
        else:
            # Every track that matches is a candidate: the limit is the neighbours'.
            candidates = find(session, vocabulary, query) if filtered else []
            neighbours = more_like(
                session,
                track_id_at(session, args.like),
                limit=args.limit or DEFAULT_LIMIT,
                key_rule=args.key_rule,
                bpm_tolerance=None if args.bpm_tolerance is None else args.bpm_tolerance / 100,
                half_double=args.half_double,
                among=[t.id for t in candidates] if filtered else None,
                models=similarity_models(settings),
            )
            rows = [
                (n.track_id, n.path, n.duration_s, {"similarity": round(n.similarity, 4), "copies": n.copies})
                for n in neighbours
            ]
            tracks = list(tracks_by_id(session, [n.track_id for n in neighbours]).values())
        dj = {t.id: dj_fields(t.bpm, t.key, t.energy, t.valence) for t in tracks}
        styles = {t.id: stored_style(t, vocabulary) for t in tracks}
        suggestions = track_suggestions(session, vocabulary, [row[0] for row in rows], settings)
        for track_id, path, duration_s, extra in rows:
            fields = suggestions[track_id]
            if args.json:
                record = {
                    "path": path,
                    "duration_s": duration_s,
                    "genres": fields["genre"].as_dict()["suggested"],
                    "moods": fields["mood"].as_dict()["suggested"],
                    "style": styles[track_id],
                    **dj[track_id],
                    **extra,
                }
                reviews = {name: f.as_dict()["review"] for name, f in fields.items() if f.review is not None}
                if reviews:
                    record["reviews"] = reviews
                print(json.dumps(record, ensure_ascii=False))
            else:
                # ✓ as in the app's Review panel: the values a write takes (reviews honoured)
                names = {
                    name: ", ".join(label + " ✓" * (label in f.values) for label, _ in f.shown) or "-"
                    for name, f in fields.items()
                }
                style = style_text(styles[track_id])
                line = f"{path}  genres: {names['genre']}{style}  moods: {names['mood']}"
                line += _dj_text(dj[track_id], notation)
                if extra:
                    line += f"  similarity: {extra['similarity']:.3f}"
                    # The neighbour's further files, listed once: "(+10 copies)", as the app's panel says.
                    copies = extra["copies"]
                    line += f"  (+{copies} cop{'ies' if copies > 1 else 'y'})" if copies else ""
                print(line)
    return 0


def print_duplicates(groups: list[list[RecordingFile]], as_json: bool) -> None:
    """Each recording held in several files: its files (JSON: one object per recording), then a count."""
    for number, files in enumerate(groups, 1):
        if as_json:
            record = {"recording": number, "files": [dataclasses.asdict(f) for f in files]}
            print(json.dumps(record, ensure_ascii=False))
            continue
        duration = files[0].duration_s
        print(f"recording {number}: {len(files)} files" + (f", {duration:.1f} s" if duration else ""))
        for f in files:
            tags = f"genre: {'; '.join(f.genre) or '-'}  mood: {'; '.join(f.mood) or '-'}"
            print(f"  {f.path}  {f.format_text}  {f.size / 1e6:.1f} MB  {tags}")
    if not as_json:
        extra = sum(len(files) - 1 for files in groups)
        print(
            f"{len(groups)} recording{'s' if len(groups) != 1 else ''} in more than one file"
            + (f": {extra} file{'s' if extra != 1 else ''} more than one per recording" if groups else "")
        )


def stored_style(track, vocabulary) -> dict | None:
    """The style hint of an indexed track (its labels loaded), by the rule every front end shows it."""
    labels = track.labels
    confident_genre = any(label.category == "genre" and label.confident for label in labels)
    styles = [(label.label, label.score) for label in labels if label.category == "style"]
    return style_hint(styles, confident_genre, vocabulary)


def dj_fields(bpm: float | None, key: str | None, energy: float | None, valence: float | None) -> dict:
    """A listed track's tempo, key (canonical, and Camelot) and energy / valence, as ``tag --json`` names
    them; None where the track was not analysed for one."""
    parsed = try_parse_key(key)
    return {
        "bpm": None if bpm is None else round(bpm, 1),
        "key": None if parsed is None else parsed.musical,
        "camelot": None if parsed is None else parsed.camelot,
        "energy": None if energy is None else round(energy, 1),
        "valence": None if valence is None else round(valence, 2),
    }


def _dj_text(fields: dict, notation) -> str:
    bpm = "-" if fields["bpm"] is None else f"{fields['bpm']:.1f}"
    key = "-" if fields["key"] is None else parse_key(fields["key"]).render(notation)
    energy = "-" if fields["energy"] is None else f"{fields['energy']:.1f}"
    return f"  bpm: {bpm}  key: {key}  energy: {energy}"
