"""`python -m bot`: Parley's command line."""

import sys

from bot.cli import main

sys.exit(main())
