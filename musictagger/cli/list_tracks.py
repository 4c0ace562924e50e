"""``list``: query the library index by genre, mood and text."""

from __future__ import annotations

import argparse
import json

from musictagger.cli.common import add_db_option, open_db, run_settings, score
from musictagger.services.search import find
from musictagger.services.suggest import track_suggestions
from musictagger.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list indexed tracks by genre, mood or text",
        description="List the indexed tracks having every genre and mood asked for (any spelling the "
        "vocabulary knows) and whose title, artist, album or path contains the text (case, accents and "
        "width ignored, as in the app's search), with the genres and moods the app shows for them.",
    )
    add_query_options(p)
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
        help="a label counts at confidence P or more (default: [display] threshold of settings.toml, 0.1)",
    )
    p.add_argument("--vocabulary", metavar="FILE", help="vocabulary JSON (default: as in settings.toml)")


def query_settings(args: argparse.Namespace) -> Settings:
    """settings.toml with --min-score as the display threshold (the labels that count, and are shown)."""
    settings = run_settings(args)
    if args.min_score is not None:
        settings = settings.replace(display={"threshold": args.min_score})
    return settings


def run(args: argparse.Namespace) -> int:
    settings = query_settings(args)
    vocabulary = settings.load_vocabulary()
    min_score = settings.display.threshold
    with open_db(args) as library, library.session() as session:
        tracks = find(
            session, vocabulary, genres=args.genre, moods=args.mood, text=args.search, min_score=min_score
        )
        suggestions = track_suggestions(session, vocabulary, [t.id for t in tracks], settings)
        for track in tracks:
            fields = suggestions[track.id]
            if args.json:
                record = {
                    "path": track.path,
                    "duration_s": track.duration_s,
                    "genres": fields["genre"].as_dict()["suggested"],
                    "moods": fields["mood"].as_dict()["suggested"],
                }
                reviews = {name: f.as_dict()["review"] for name, f in fields.items() if f.review is not None}
                if reviews:
                    record["reviews"] = reviews
                print(json.dumps(record, ensure_ascii=False))
            else:
                names = {name: ", ".join(label for label, _ in f.shown) or "-" for name, f in fields.items()}
                print(f"{track.path}  genres: {names['genre']}  moods: {names['mood']}")
    return 0
