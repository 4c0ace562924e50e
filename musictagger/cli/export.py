"""``export OUT.m3u8``: a playlist of the indexed tracks matching a genre, mood or text."""

from __future__ import annotations

import argparse
import sys

from musictagger.cli.common import add_db_option, open_db
from musictagger.cli.list_tracks import add_query_options, query_settings
from musictagger.services.export import export_playlist


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write an M3U8 playlist of tracks by genre/mood (Rekordbox, Serato, Traktor import it)",
        description="Write an extended M3U8 playlist of the tracks 'list' would list with the same options.",
    )
    p.add_argument("out", metavar="OUT.m3u8")
    add_query_options(p)
    add_db_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = query_settings(args)
    vocabulary = settings.load_vocabulary()
    with open_db(args) as library:
        path, count = export_playlist(
            library,
            vocabulary,
            args.out,
            genres=args.genre,
            moods=args.mood,
            text=args.search,
            min_score=settings.display.threshold,
        )
    print(f"musictagger: {count} tracks written to {path}", file=sys.stderr)
    return 0
