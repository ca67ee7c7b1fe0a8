"""The ``relaysync`` command line (work in progress)."""
import sys


def main(argv=None) -> int:
    print('relaysync: no command implemented yet', file=sys.stderr)
    return 2
