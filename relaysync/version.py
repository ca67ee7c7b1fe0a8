"""The package version and the name the server announces itself with."""

__version__ = '0.1.0'
"""The relaysync version."""

#: Sent in the ``Server`` header of every HTTP response and in the start-up log line.
SERVER_NAME = f'relaysync/{__version__}'
"""``'relaysync/<version>'``: the ``Server`` header and the start-up log line."""
