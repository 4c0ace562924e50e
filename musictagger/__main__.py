import sys

from musictagger.cli import main

sys.exit(main())
