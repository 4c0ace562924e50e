"""The launcher: ``musictagger`` (console script), ``python -m musictagger`` and ``python main.py``.

With no argument it opens the desktop app; with any argument it runs the command line. It is the one
module that knows both front ends: ``cli`` and ``gui`` never import each other (pyproject.toml's
import-linter contracts), and neither is imported before it is needed, so ``musictagger tag`` never
loads Qt and the app never parses command-line options it does not have.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from musictagger.logs import configure_logging

    args = list(sys.argv[1:] if argv is None else argv)
    configure_logging()  # once, for either front end: a rotating file in the user's log folder
    if not args:
        from musictagger.gui.app import main as open_app

        return open_app(["musictagger"])
    from musictagger.cli import main as run_command

    return run_command(args)


if __name__ == "__main__":
    # A frozen app (PyInstaller) must let the tempo/key worker process start here (tempo_key.py).
    multiprocessing.freeze_support()
    sys.exit(main())
