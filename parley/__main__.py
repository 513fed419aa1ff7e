"""`python -m parley`: Parley's command line (also `python -m bot`)."""

import sys

from parley.cli import main

sys.exit(main())
