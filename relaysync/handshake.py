"""The HTTP side of a WebSocket connection: the opening handshake and plain HTTP replies.

Used by the standalone server's reactor: :class:`RequestReader` parses a
bounded request head with h11 (strict RFC 9112 syntax: no bare LF in the
request line, no control characters in header values, tokens as header names),
:func:`check_upgrade` validates a WebSocket upgrade (RFC 6455 §4.2.1), and the
``*_response`` helpers build complete HTTP responses.  No extension
(permessage-deflate) and no sub-protocol is ever negotiated: Relay messages are
small JSON texts, and compression would only open the door to decompression
bombs.  :func:`escape` makes request text safe to log.
"""

import base64
import binascii
import hashlib
import json
import re
from typing import Any, Dict, NamedTuple, Optional, Tuple
from urllib.parse import urlsplit

import h11

from .version import SERVER_NAME

#: The largest request head accepted (request line plus headers).
MAX_HEAD = 16 * 1024
MAX_HEADERS = 100
# Control characters other than tab: h11 lets some through in header values.
_CONTROL = re.compile(rb'[\x00-\x08\x0a-\x1f\x7f]')
_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

_REASONS = {101: 'Switching Protocols', 200: 'OK', 400: 'Bad Request', 404: 'Not Found',
            405: 'Method Not Allowed', 408: 'Request Timeout',
            426: 'Upgrade Required', 431: 'Request Header Fields Too Large',
            500: 'Internal Server Error', 503: 'Service Unavailable',
            505: 'HTTP Version Not Supported'}


def reason(status: int) -> str:
    """The reason phrase for an HTTP status code (``'Error'`` for one not listed)."""
    return _REASONS.get(status, 'Error')


def escape(text: str, limit: int = 200) -> str:
    """``text`` made safe for one log line: at most ``limit`` characters, with
    control characters, backslashes and non-ASCII written as Python escapes.

    Example:
        >>> print(escape('/a\\nFAKE-LOG-LINE'))
        /a\\nFAKE-LOG-LINE
    """
    out = ascii(text[:limit])[1:-1]
    return out + ('...' if len(text) > limit else '')


class HandshakeError(Exception):
    """The request cannot be served; ``status`` is the HTTP status to answer.

    ``logged`` is True when the refusal was already logged where it was decided.
    """

    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None,
                 logged: bool = False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.logged = logged


def describe_client(peer: Any, headers: Dict[str, str]) -> str:
    """Who connected, for log lines: the peer address and, behind a proxy, the
    forwarded-for header (escaped).

    Args:
        peer: the socket's peer address (a ``(host, port)`` tuple) or a string.
        headers: the request headers (lower-case names).

    Returns:
        E.g. ``'10.0.0.5:51234 (forwarded for 203.0.113.7)'``.
    """
    if isinstance(peer, tuple) and len(peer) >= 2:
        text = f'{peer[0]}:{peer[1]}'
    else:
        text = str(peer)
    forwarded = headers.get('x-forwarded-for') or headers.get('forwarded')
    if forwarded:
        text += f' (forwarded for {escape(forwarded, 100)})'
    return text


class Request(NamedTuple):
    """A parsed HTTP request head."""
    method: str
    path: str
    query: str
    headers: Dict[str, str]  # lower-cased names; repeated headers joined with ', '


class RequestReader:
    """Reads one request head, fed in pieces as they arrive.

    Parsing is h11's; the limits and replies are this module's: a head over
    :data:`MAX_HEAD` bytes or with more than :data:`MAX_HEADERS` headers is
    refused with 431, an HTTP version other than 1.0 or 1.1 with 505, and
    anything h11 finds malformed with 400.
    """

    def __init__(self) -> None:
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._fed = 0

    def feed(self, data: bytes) -> Optional[Tuple[Request, bytes]]:
        """Add received bytes.

        Returns:
            ``(request, rest)`` once the head is complete (``rest``: the bytes
            after it), else None.

        Raises:
            HandshakeError: the request is refused; its ``status`` says why.
        """
        conn = self._h11
        if not self._fed and data[:1] == b'\x16':   # a TLS handshake record
            raise HandshakeError(400, 'malformed request line (it looks like TLS: a wss:// '
                                      'client on a plaintext port?)')
        self._fed += len(data)
        conn.receive_data(data)
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise _refusal(exc) from None
        if event is h11.NEED_DATA:
            return None
        if not isinstance(event, h11.Request):   # pragma: no cover - h11 yields a Request first
            raise HandshakeError(400, 'malformed request')
        rest = conn.trailing_data[0]
        if self._fed - len(rest) > MAX_HEAD:
            raise HandshakeError(431, 'request head too large')
        return _request(event), rest


def _refusal(exc: 'h11.RemoteProtocolError') -> HandshakeError:
    text = str(exc)
    if exc.error_status_hint == 431:
        return HandshakeError(431, 'request head too large')
    for prefix in ('illegal request line', 'illegal header line'):
        if text.startswith(prefix):
            return HandshakeError(400, prefix.replace('illegal', 'malformed'))
    return HandshakeError(400, f'malformed request: {escape(text, 100)}')


def _request(event: 'h11.Request') -> Request:
    version = event.http_version.decode('ascii')
    if version not in ('1.1', '1.0'):
        raise HandshakeError(505, f'unsupported HTTP/{escape(version, 10)}')
    if len(event.headers) > MAX_HEADERS:
        raise HandshakeError(431, 'too many headers')
    headers: Dict[str, str] = {}
    for name, value in event.headers:
        if _CONTROL.search(value):
            raise HandshakeError(400, 'malformed header line')
        key = name.decode('ascii')
        text = value.decode('latin-1')
        headers[key] = f'{headers[key]}, {text}' if key in headers else text
    target = event.target.decode('ascii')
    if target.startswith('/'):
        path, _, query = target.partition('?')
    elif target.startswith(('http://', 'https://')):     # absolute form (RFC 9112 §3.2.2)
        parts = urlsplit(target)
        path, query = parts.path or '/', parts.query
    else:
        raise HandshakeError(400, 'request target must be a path')
    return Request(event.method.decode('ascii'), path, query, headers)


def is_upgrade(request: Request) -> bool:
    """True when the request asks for a WebSocket upgrade."""
    return 'websocket' in request.headers.get('upgrade', '').lower()


def check_upgrade(request: Request) -> str:
    """Validate a WebSocket upgrade request; return its ``Sec-WebSocket-Key``.

    Raises HandshakeError with the status to answer (400, 405 or 426).
    """
    if request.method != 'GET':
        raise HandshakeError(405, 'WebSocket upgrade requires GET', {'Allow': 'GET'})
    if request.headers.get('content-length', '0').strip() not in ('', '0') \
            or 'transfer-encoding' in request.headers:
        raise HandshakeError(400, 'a WebSocket upgrade request has no body')
    tokens = [t.strip().lower() for t in request.headers.get('connection', '').split(',')]
    if 'upgrade' not in tokens:
        raise HandshakeError(400, 'missing "Connection: Upgrade"')
    if request.headers.get('sec-websocket-version') != '13':
        raise HandshakeError(426, 'unsupported Sec-WebSocket-Version',
                             {'Sec-WebSocket-Version': '13'})
    key = request.headers.get('sec-websocket-key', '')
    try:
        if len(base64.b64decode(key.encode('ascii'), validate=True)) != 16:
            raise ValueError
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise HandshakeError(400, 'invalid Sec-WebSocket-Key')
    return key


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a client's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode('ascii') + _GUID).digest()).decode('ascii')


def upgrade_response(key: str) -> bytes:
    """The ``101 Switching Protocols`` response accepting a WebSocket."""
    return (f'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
            f'Connection: Upgrade\r\nSec-WebSocket-Accept: {accept_key(key)}\r\n'
            f'Server: {SERVER_NAME}\r\n\r\n').encode('ascii')


def http_response(status: int, body: bytes = b'', content_type: str = 'text/plain; charset=utf-8',
                  headers: Optional[Dict[str, str]] = None, head_only: bool = False) -> bytes:
    """A complete HTTP/1.1 response that closes the connection."""
    lines = [f'HTTP/1.1 {status} {reason(status)}',
             f'Server: {SERVER_NAME}', f'Content-Type: {content_type}',
             f'Content-Length: {len(body)}', 'Connection: close']
    for name, value in (headers or {}).items():
        lines.append(f'{name}: {value}')
    out = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
    return out if head_only else out + body


def error_response(error: HandshakeError) -> bytes:
    """The HTTP response for a refused request."""
    return http_response(error.status, (error.message + '\n').encode('utf-8'),
                         headers=error.headers)


def json_response(status: int, payload: Dict[str, Any], head_only: bool = False) -> bytes:
    """A JSON HTTP response (used for the health check)."""
    return http_response(status, json.dumps(payload).encode('utf-8'), 'application/json',
                         head_only=head_only)


def normalize_path(path: str) -> str:
    """The form paths are registered and looked up in: one leading ``/``, no
    trailing ``/``, no query string (``'hellopath'`` → ``'/hellopath'``)."""
    path = path.split('?', 1)[0].strip()
    return '/' + path.strip('/')

