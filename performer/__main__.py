import sys

from performer.cli import main

sys.exit(main())
