"""`python -m bot`: Parley's command line, which lives in the composition root (`parley.cli`)."""

import sys

from parley.cli import main

sys.exit(main())
