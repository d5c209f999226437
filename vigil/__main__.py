"""`python -m vigil` runs the command line."""

import sys

from vigil.cli.main import main

sys.exit(main())
