"""``list``: query the library index by genre, mood and text, or for the tracks that sound like one."""

from __future__ import annotations

import argparse
import json
import sys

from musictagger.cli.common import add_db_option, open_db, run_settings, score
from musictagger.services.search import find
from musictagger.services.similar import (
    DEFAULT_BPM_TOLERANCE,
    SimilarTrack,
    more_like,
    similarity_models,
    track_id_at,
)
from musictagger.services.suggest import track_suggestions
from musictagger.settings import Settings

DEFAULT_LIMIT = 20


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list indexed tracks by genre, mood or text",
        description="List the indexed tracks having every genre and mood asked for (any spelling the "
        "vocabulary knows) and whose title, artist, album or path contains the text (case, accents and "
        "width ignored, as in the app's search), with the genres and moods the app shows for them. "
        "With --like, the tracks that sound most like a track instead, nearest first.",
    )
    add_query_options(p)
    add_like_options(p)
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


def add_like_options(p: argparse.ArgumentParser) -> None:
    like = p.add_argument_group(
        "more like this",
        "the tracks whose sound (the musicnn embeddings of their analysis) is nearest to a track's, by "
        "cosine similarity; --genre, --mood and --search narrow the candidates",
    )
    like.add_argument(
        "--like", metavar="PATH", help="tracks that sound like this indexed file, nearest first"
    )
    like.add_argument("--limit", type=_count, metavar="N", help=f"at most N tracks (default {DEFAULT_LIMIT})")
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


def query_settings(args: argparse.Namespace) -> Settings:
    """settings.toml with --min-score as the display threshold (the suggestions shown)."""
    settings = run_settings(args)
    if args.min_score is not None:
        settings = settings.replace(display={"threshold": args.min_score})
    return settings


def run(args: argparse.Namespace) -> int:
    if args.like is None and (args.limit, args.key_rule, args.bpm_tolerance) != (None, None, None):
        print(
            "musictagger: --limit, --same-key, --compatible-key and --bpm-tolerance need --like",
            file=sys.stderr,
        )
        return 2
    settings = query_settings(args)
    vocabulary = settings.load_vocabulary()
    filtered = bool(args.genre or args.mood or args.search)
    with open_db(args) as library, library.session() as session:
        tracks = []
        if args.like is None or filtered:
            tracks = find(
                session,
                vocabulary,
                genres=args.genre,
                moods=args.mood,
                text=args.search,
                min_score=args.min_score,  # None: confidently, as the app's facets
            )
        if args.like is None:
            rows = [(t.id, t.path, t.duration_s, {}) for t in tracks]
        else:
            neighbours = more_like(
                session,
                track_id_at(session, args.like),
                limit=args.limit or DEFAULT_LIMIT,
                key_rule=args.key_rule,
                bpm_tolerance=None if args.bpm_tolerance is None else args.bpm_tolerance / 100,
                half_double=args.half_double,
                among=[t.id for t in tracks] if filtered else None,
                models=similarity_models(settings),
            )
            rows = [(n.track_id, n.path, n.duration_s, _like_fields(n)) for n in neighbours]
        suggestions = track_suggestions(session, vocabulary, [row[0] for row in rows], settings)
        for track_id, path, duration_s, extra in rows:
            fields = suggestions[track_id]
            if args.json:
                record = {
                    "path": path,
                    "duration_s": duration_s,
                    "genres": fields["genre"].as_dict()["suggested"],
                    "moods": fields["mood"].as_dict()["suggested"],
                    **extra,
                }
                reviews = {name: f.as_dict()["review"] for name, f in fields.items() if f.review is not None}
                if reviews:
                    record["reviews"] = reviews
                print(json.dumps(record, ensure_ascii=False))
            else:
                names = {name: ", ".join(label for label, _ in f.shown) or "-" for name, f in fields.items()}
                line = f"{path}  genres: {names['genre']}  moods: {names['mood']}"
                if extra:
                    line += _like_text(extra)
                print(line)
    return 0


def _like_fields(track: SimilarTrack) -> dict:
    """What --like adds to a track's line: its similarity, tempo and key."""
    return {"similarity": round(track.similarity, 4), "bpm": track.bpm, "key": track.key}


def _like_text(extra: dict) -> str:
    bpm = "-" if extra["bpm"] is None else f"{extra['bpm']:.1f}"
    return f"  similarity: {extra['similarity']:.3f}  bpm: {bpm}  key: {extra['key'] or '-'}"
