import sys

from musictagger.gui.app import main

sys.exit(main(sys.argv))
