"""The exceptions relaysync raises.

One root, :class:`RelaysyncError`, with precise children so callers can catch
broadly or narrowly::

    RelaysyncError
    ├── ServerException          the server cannot be configured or started
    ├── WorkflowException        a workflow action failed (relay-py's name)
    │   ├── ErrorResponse        the Relay server answered wf_api_error_response
    │   ├── RelayTimeout         no answer within the call's timeout (also a TimeoutError)
    │   ├── ConnectionClosed     the connection is gone (also a ConnectionError)
    │   ├── PlaybackFailed       say_and_wait/play_and_wait: the prompt event says "failed"
    │   ├── TokenRefreshFailed   the HTTP API could not get a new access token
    │   └── InvalidArgument      an argument is malformed; nothing was sent
    │                            (also a TypeError and a ValueError)
    └── SimulatorError           the simulator's own errors (relaysync.simulator)

Code ported from relay-py that catches ``WorkflowException`` keeps working: every
failure of a workflow action is a ``WorkflowException``, and every exception
here keeps its text in ``.message`` as relay-py's do.
"""

import sys
from typing import Optional, Tuple

if sys.version_info >= (3, 11):
    _TIMEOUT_BASES: Tuple[type, ...] = (TimeoutError,)
else:  # asyncio.TimeoutError became the builtin TimeoutError in Python 3.11
    import asyncio
    _TIMEOUT_BASES = (TimeoutError, asyncio.TimeoutError)


def printable(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x00``).

    Used wherever text from the peer becomes part of an exception's message,
    so that a traceback in a log cannot be made to forge log lines.

    Args:
        text: any text.

    Returns:
        The text, unchanged when it has no control characters.
    """
    if text.isprintable():
        return text
    return ''.join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class RelaysyncError(Exception):
    """Root of every exception raised by relaysync.

    Args:
        message: what went wrong.

    Attributes:
        message (str): the text, as relay-py's exceptions keep it (``e.message``);
            also ``str(e)``.
    """

    def __init__(self, message: str = '') -> None:
        super().__init__(message)
        self.message = message


class ServerException(RelaysyncError):
    """The workflow server cannot be configured or started.

    Raised for a path registered twice, an unreadable TLS key or certificate, a
    port that is not a number, or a listening socket that cannot be bound.
    """


class WorkflowException(RelaysyncError):
    """A workflow action failed.

    Raised directly by ``get_number_var`` for an unset variable with no
    default; its subclasses say what else went wrong.
    """


class ErrorResponse(WorkflowException):
    """The Relay server answered a request with ``wf_api_error_response``.

    ``e.message`` is the server's ``error`` text, unchanged, as relay-py keeps
    it; ``str(e)`` is the same text with any control characters escaped.

    Attributes:
        request_type: the ``_type`` of the request that failed.
        request_id: its ``_id``.
        error: the server's error text.
    """

    def __init__(self, error: str, request_type: str = '', request_id: str = '') -> None:
        super().__init__(error)
        self.args = (printable(error),)
        self.error = error
        self.request_type = request_type
        self.request_id = request_id


class RelayTimeout(WorkflowException, *_TIMEOUT_BASES):  # type: ignore[misc]
    """A request (or the event it waits for) did not arrive within its timeout.

    Also a ``TimeoutError`` (and ``asyncio.TimeoutError``, which relay-py's
    ``say_and_wait`` raised, on Python versions where the two differ).

    Attributes:
        request_type: the ``_type`` of the request that timed out.
        request_id: its ``_id``.
        timeout: the number of seconds waited since the last sign of progress.
        waiting_for: what was still missing (``'response'``, ``'prompt stopped event'``,
            ``'speech event'``).
    """

    def __init__(self, request_type: str, request_id: str, timeout: float,
                 waiting_for: str = 'response') -> None:
        super().__init__(f'{request_type} (_id {request_id}): no {waiting_for} '
                         f'within {timeout:g} s')
        self.request_type = request_type
        self.request_id = request_id
        self.timeout = timeout
        self.waiting_for = waiting_for


class ConnectionClosed(WorkflowException, ConnectionError):
    """The WebSocket connection to the Relay server is closed.

    Raised at once by every pending call when the connection drops, and by any
    call made after that.

    Attributes:
        code: the WebSocket close code (1006 when the peer vanished without one).
        reason: the close reason text, possibly empty.
        request_type: the request that was pending or attempted, if any.
    """

    def __init__(self, code: int = 1006, reason: str = '',
                 request_type: Optional[str] = None) -> None:
        what = f'{request_type}: ' if request_type else ''
        detail = f' {printable(reason)}' if reason else ''
        super().__init__(f'{what}connection closed ({code}{detail})')
        self.code = code
        self.reason = reason
        self.request_type = request_type


class PlaybackFailed(WorkflowException):
    """The device reported that a playback failed (a prompt event of type ``failed``).

    Raised by ``say_and_wait`` and ``play_and_wait``.

    Attributes:
        request_type: the ``_type`` of the say or play request.
        request_id: its ``_id``.
    """

    def __init__(self, request_type: str, request_id: str) -> None:
        super().__init__(f'{request_type} (_id {request_id}): playback failed '
                         f'(prompt event type "failed")')
        self.request_type = request_type
        self.request_id = request_id


class TokenRefreshFailed(WorkflowException):
    """The Relay auth server gave no new access token for a refresh token.

    Raised by :func:`~relaysync.http_api.refresh_access_token`, and so by the
    HTTP API calls that refresh an expired token.

    Args:
        message: what went wrong.
        status: the HTTP status of the answer (None when it was 200 but held
            no usable token).

    Attributes:
        status: the HTTP status, or None.
    """

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class InvalidArgument(WorkflowException, TypeError, ValueError):
    """An argument is malformed, so nothing was sent.

    A target that is not a Relay URN, a trigger without ``args.source_uri``,
    an LED index out of range, a subscription without an event type...  Also
    a ``TypeError`` and a ``ValueError``, so code that caught those keeps
    working, and a ``WorkflowException``, as relay-py raised for a bad trigger.
    """
