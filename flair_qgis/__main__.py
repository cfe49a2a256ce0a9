"""`python -m flair_qgis`: the engine's command line (no QGIS needed)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
