"""``undo [BATCH]``: put back the tags a write batch changed (the latest one by default)."""

from __future__ import annotations

import argparse
import sys

from musictagger.cli.common import add_db_option, open_db, report_errors
from musictagger.services.writes import list_batches, undo


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "undo",
        help="revert a batch of tag writes (default: the latest); --list shows the batches",
        description="Write back the exact tags each file of a batch had before it (fields that were absent "
        "are removed again). A file whose tags were changed since is left alone unless --force. Batches "
        "written by the app and by 'tag --write' are the same kind: either can be undone here.",
    )
    p.add_argument("batch", nargs="?", type=int, metavar="BATCH", help="batch number (see --list)")
    p.add_argument("--list", action="store_true", help="list the write batches, newest first")
    p.add_argument("--force", action="store_true", help="also revert files whose tags changed since")
    add_db_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_db(args) as library:
        if args.list:
            batches = list_batches(library)
            if not batches:
                print("no write batches")
            for b in batches:
                state = f"undone {b.undone_at:%Y-%m-%d %H:%M}" if b.undone_at else "active"
                when = f"{b.created_at:%Y-%m-%d %H:%M} UTC"
                print(f"{b.id:>5}  {when}  {b.files:>5} files  {state:<22} {b.description}")
            return 0
        report = undo(library, args.batch, force=args.force)
    print(
        f"musictagger: batch {report.batch_id}: {report.written} files restored, {len(report.failed)} not",
        file=sys.stderr,
    )
    report_errors(report.failed)
    return 1 if report.failed else 0
