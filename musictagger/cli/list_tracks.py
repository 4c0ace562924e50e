"""``list``: query the library index by genre, mood and text."""

from __future__ import annotations

import argparse
import json

from musictagger.cli.common import add_db_option, open_db
from musictagger.library.queries import find_tracks
from musictagger.taxonomy import load_vocabulary


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list indexed tracks by genre, mood or text", description=__doc__)
    add_query_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per track")
    add_db_option(p)
    p.set_defaults(run=run)


def add_query_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--genre", action="append", default=[], metavar="G", help="has genre G (repeatable: all of them)"
    )
    p.add_argument(
        "--mood", action="append", default=[], metavar="M", help="has mood M (repeatable: all of them)"
    )
    p.add_argument("--search", metavar="TEXT", help="path, title, artist or album contains TEXT")
    p.add_argument(
        "--min-score", type=float, default=0.2, metavar="P", help="label confidence at least P (0.2)"
    )


def query(session, args: argparse.Namespace):
    # Users type labels their way ("hip hop", "jazz"): look them up by the vocabulary's spelling.
    vocabulary = load_vocabulary()

    def canonical(names: list[str]) -> list[str]:
        return [vocabulary.canonical_name(name) or name for name in names]

    return find_tracks(
        session,
        genres=canonical(args.genre),
        moods=canonical(args.mood),
        text=args.search,
        min_score=args.min_score,
    )


def labels_of(track, category: str, min_score: float) -> list[dict]:
    ranked = sorted(
        (lb for lb in track.labels if lb.category == category and lb.score >= min_score),
        key=lambda lb: -lb.score,
    )
    return [{"label": lb.label, "score": round(lb.score, 4)} for lb in ranked[:3]]


def run(args: argparse.Namespace) -> int:
    with open_db(args) as library, library.session() as session:
        for track in query(session, args):
            genres = labels_of(track, "genre", args.min_score)
            moods = labels_of(track, "mood", args.min_score)
            if args.json:
                print(
                    json.dumps(
                        {"path": track.path, "duration_s": track.duration_s, "genres": genres, "moods": moods}
                    )
                )
            else:
                fmt = lambda items: ", ".join(i["label"] for i in items) or "-"  # noqa: E731
                print(f"{track.path}  genres: {fmt(genres)}  moods: {fmt(moods)}")
    return 0
