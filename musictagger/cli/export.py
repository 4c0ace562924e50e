"""``export OUT``: the indexed tracks ``list`` lists (genre, mood, text, energy, BPM, key) as an M3U8
playlist, or with ``--format rekordbox`` / ``traktor`` / ``serato`` as a Rekordbox XML / Traktor NML
collection or Serato crates, with a playlist (crate) per genre and mood."""

from __future__ import annotations

import argparse
import sys

from musictagger.cli.common import add_db_option, open_db
from musictagger.cli.list_tracks import add_query_options, query_settings, track_query
from musictagger.services.export import COLLECTION_WRITERS, export_collection, export_playlist

#: --format: M3U8 (the default: a playlist), or a collection for the DJ software that reads it.
FORMATS = ("m3u8", *COLLECTION_WRITERS)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write an M3U8 playlist, a Rekordbox XML or Traktor NML collection, or Serato crates, of tracks "
        "by genre/mood",
        description="Write the tracks 'list' would list with the same options: an extended M3U8 playlist "
        "(Rekordbox, Serato, Traktor import it), or with --format rekordbox a Rekordbox XML collection "
        "(Rekordbox, Lexicon and other DJ tools import it), or with --format traktor the same as a "
        "Traktor NML file (Traktor: Import Playlist): tracks with name, artist, album, genre, BPM, key and "
        "the DJ comment block with the moods, and a playlist per genre and mood; or with --format serato "
        "those playlists as crates in the _Serato_ folder OUT (Serato reads the tags from the files).",
    )
    p.add_argument(
        "out",
        metavar="OUT",
        help="the file to write (OUT.m3u8; OUT.xml for rekordbox, OUT.nml for traktor), or for serato the "
        "_Serato_ folder or the folder holding it (~/Music, a USB drive's root)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="m3u8",
        help="m3u8 (default), rekordbox (DJ_PLAYLISTS XML), traktor (NML) or serato (crates)",
    )
    add_query_options(p)
    add_db_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = query_settings(args)
    vocabulary = settings.load_vocabulary()
    query = track_query(args)
    with open_db(args) as library:
        if args.format in COLLECTION_WRITERS:
            done = export_collection(library, vocabulary, settings, args.out, query, software=args.format)
            for note in done.notes:
                print(f"musictagger: {note}", file=sys.stderr)
            print(
                f"musictagger: {done.tracks} tracks and {done.playlists} "
                f"{'crates' if args.format == 'serato' else 'playlists'} written to {done.path}",
                file=sys.stderr,
            )
            return 0
        path, count = export_playlist(library, vocabulary, args.out, query)
    print(f"musictagger: {count} tracks written to {path}", file=sys.stderr)
    return 0
