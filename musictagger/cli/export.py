"""``export OUT.m3u8``: a playlist of the indexed tracks matching a genre, mood or text."""

from __future__ import annotations

import argparse
import sys

from musictagger.cli.common import add_db_option, open_db
from musictagger.cli.list_tracks import add_query_options, query
from musictagger.library.queries import export_m3u8


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write an M3U8 playlist of tracks by genre/mood (Rekordbox, Serato, Traktor import it)",
        description=__doc__,
    )
    p.add_argument("out", metavar="OUT.m3u8")
    add_query_options(p)
    add_db_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_db(args) as library, library.session() as session:
        tracks = query(session, args)
        export_m3u8(tracks, args.out)
    print(f"musictagger: {len(tracks)} tracks written to {args.out}", file=sys.stderr)
    return 0
