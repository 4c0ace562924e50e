"""musictagger's entry point: ``python main.py`` opens the app, ``python main.py COMMAND ...`` runs a
command (see ``python main.py --help``)."""

import sys

from musictagger.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
