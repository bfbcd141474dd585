import sys

from biograd.cli import main

sys.exit(main())
