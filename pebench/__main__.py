import sys

from pebench.cli import main

sys.exit(main())
