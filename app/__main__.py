"""python -m app: the same as the livewatch command."""

import sys

from app.cli import main

sys.exit(main())
