"""The command line: ``python main.py COMMAND ...`` (also ``python -m musictagger``).

With no argument at all, ``python main.py`` opens the desktop app instead: ``musictagger/__main__.py``
chooses between the two front ends, which never import each other.

Each command lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> exit code``.
Exit codes: 0 everything worked, 1 some files failed (each reported), 2 the command could not run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from musictagger import __version__
from musictagger.cli import evaluate, export, list_tracks, scan, tag, train, train_head, undo
from musictagger.errors import MusictaggerError

COMMANDS = (tag, scan, undo, list_tracks, export, train_head, train, evaluate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musictagger",
        description="Tag a music library with genre and mood from the audio itself. "
        "With no COMMAND, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"musictagger {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the launcher (musictagger/__main__.py) opens the app when no argument is given
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except MusictaggerError as exc:
        # Errors that stop the whole command (no model, bad device, bad vocabulary): one line, no traceback.
        print(f"musictagger: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("musictagger: interrupted", file=sys.stderr)
        return 130
