"""``python -m ringlab.cli``: the command line."""

import sys

from ringlab.cli import main

sys.exit(main())
