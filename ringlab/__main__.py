"""``python -m ringlab``: the same command line as ``ringlab``."""

import sys

from ringlab.cli import main

sys.exit(main())
