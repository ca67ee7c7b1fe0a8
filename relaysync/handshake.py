"""The HTTP side of a WebSocket connection: the opening handshake and plain HTTP replies.

Pure functions over bytes, used by the standalone server's reactor:
:func:`parse_request` reads a bounded request head, :func:`check_upgrade`
validates a WebSocket upgrade (RFC 6455 §4.2.1), and the ``*_response``
helpers build complete HTTP responses.  No extension (permessage-deflate) and no
sub-protocol is ever negotiated: Relay messages are small JSON texts, and
compression would only open the door to decompression bombs.
"""

import base64
import binascii
import hashlib
import json
from typing import Dict, NamedTuple, Optional

from .version import SERVER_NAME

#: The largest request head accepted (request line plus headers).
MAX_HEAD = 16 * 1024
MAX_HEADERS = 100
_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

_REASONS = {101: 'Switching Protocols', 200: 'OK', 400: 'Bad Request', 404: 'Not Found',
            405: 'Method Not Allowed', 408: 'Request Timeout',
            426: 'Upgrade Required', 431: 'Request Header Fields Too Large',
            503: 'Service Unavailable', 505: 'HTTP Version Not Supported'}


class HandshakeError(Exception):
    """The request cannot be served; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Request(NamedTuple):
    """A parsed HTTP request head."""
    method: str
    path: str
    query: str
    headers: Dict[str, str]  # lower-cased names; repeated headers joined with ', '


def head_complete(buf: bytes) -> int:
    """Return the length of the request head in ``buf`` (through the blank line), or 0.

    Raises HandshakeError(431) when no complete head fits in :data:`MAX_HEAD`.
    """
    end = buf.find(b'\r\n\r\n', 0, MAX_HEAD + 4)
    if end >= 0:
        return end + 4
    if len(buf) > MAX_HEAD:
        raise HandshakeError(431, 'request head too large')
    return 0


def parse_request(head: bytes) -> Request:
    """Parse a complete request head (as delimited by :func:`head_complete`)."""
    try:
        text = head.decode('latin-1')
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise HandshakeError(400, 'undecodable request')
    lines = text.split('\r\n')
    parts = lines[0].split(' ')
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith('HTTP/'):
        raise HandshakeError(400, 'malformed request line')
    method, target, version = parts
    if version not in ('HTTP/1.1', 'HTTP/1.0'):
        raise HandshakeError(505, f'unsupported {version}')
    headers: Dict[str, str] = {}
    count = 0
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(':')
        if not sep or not name or name != name.strip() or ' ' in name:
            raise HandshakeError(400, 'malformed header line')
        count += 1
        if count > MAX_HEADERS:
            raise HandshakeError(431, 'too many headers')
        key = name.lower()
        value = value.strip()
        headers[key] = f'{headers[key]}, {value}' if key in headers else value
    path, _, query = target.partition('?')
    if not path.startswith('/'):
        raise HandshakeError(400, 'request target must be a path')
    return Request(method.upper(), path, query, headers)


def is_upgrade(request: Request) -> bool:
    """True when the request asks for a WebSocket upgrade."""
    return 'websocket' in request.headers.get('upgrade', '').lower()


def check_upgrade(request: Request) -> str:
    """Validate a WebSocket upgrade request; return its ``Sec-WebSocket-Key``.

    Raises HandshakeError with the status to answer (400, 405 or 426).
    """
    if request.method != 'GET':
        raise HandshakeError(405, 'WebSocket upgrade requires GET', {'Allow': 'GET'})
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
    lines = [f'HTTP/1.1 {status} {_REASONS.get(status, "Error")}',
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


def json_response(status: int, payload: Dict, head_only: bool = False) -> bytes:
    """A JSON HTTP response (used for the health check)."""
    return http_response(status, json.dumps(payload).encode('utf-8'), 'application/json',
                         head_only=head_only)


def normalize_path(path: str) -> str:
    """The form paths are registered and looked up in: one leading ``/``, no
    trailing ``/``, no query string (``'hellopath'`` → ``'/hellopath'``)."""
    path = path.split('?', 1)[0].strip()
    return '/' + path.strip('/')

