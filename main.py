"""musictagger's entry point: ``python main.py`` opens the app, ``python main.py COMMAND ...`` runs a
command (see ``python main.py --help``)."""

import multiprocessing
import sys

from musictagger.__main__ import main

if __name__ == "__main__":
    # A frozen app (PyInstaller) must let the tempo/key worker process start here (tempo_key.py).
    multiprocessing.freeze_support()
    sys.exit(main())
