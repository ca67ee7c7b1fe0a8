"""``python -m relaysync``: the ``relaysync`` command line (see :mod:`relaysync.cli`)."""

import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
