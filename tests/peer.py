"""A test helper that plays the Relay server ("ibot") against a relaysync server.

The Relay server is the WebSocket *client* of a workflow server: it connects to a
workflow path, sends events and answers the workflow's requests.  :class:`RelayPeer`
does the same over a real socket, so tests can check the exact JSON a workflow
sends and feed it the answers they choose::

    with RelayPeer(f'ws://127.0.0.1:{server.port}/wf') as peer:
        peer.start(DEVICE)
        request = peer.expect('wf_api_say_request')
        peer.respond(request, id=request['_id'])

It is built on the simulator's WebSocket client (:mod:`relaysync.simulator.wsclient`)
and speaks the simulator's vocabulary (:mod:`relaysync.simulator.messages`), so the
tests, the simulator and the benchmark driver play the Relay server alike.  The
reader thread is a daemon, the TCP, TLS and HTTP handshakes are bounded by
``handshake_timeout``, every receive is bounded by a timeout, and the socket is
always closed (context manager).  :class:`MemoryPeer` plays the same part
against an engine in this process, through the ``Transport`` protocol alone.
Tests that need bytes no client would send use :mod:`rawws`.

:func:`http_exchange` sends one raw HTTP request and reads the whole reply, for
tests of non-WebSocket requests and refused upgrades.
"""

import base64
import json
import os
import queue
import socket
import ssl
import struct
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from relaysync.simulator import messages, wsclient
from relaysync.simulator.wsclient import WsClient

#: URNs used throughout the tests.
DEVICE = 'urn:relay-resource:name:device:Alice'
INTERACTION = ('urn:relay-resource:name:interaction:hello?device='
               'urn%3Arelay-resource%3Aname%3Adevice%3AAlice')

DEFAULT_TIMEOUT = 5.0


class PeerMessages:
    """What a peer playing the Relay server says and expects, over any wire.

    A subclass provides ``send_text(text)`` and ``recv_text(timeout)`` (which
    raises AssertionError when nothing arrives in time) and a ``received``
    list; the messages come from :mod:`relaysync.simulator.messages`, the
    vocabulary the simulator and the benchmark driver use too.
    """

    timeout: float = DEFAULT_TIMEOUT
    received: List[Dict[str, Any]]

    def send_text(self, text: str) -> None:
        raise NotImplementedError

    def recv_text(self, timeout: Optional[float] = None) -> str:
        raise NotImplementedError

    def send(self, message: Any) -> None:
        """Send a JSON message (normally an event dict)."""
        self.send_text(json.dumps(message))

    def event(self, event_type: str, **fields: Any) -> Dict[str, Any]:
        """Send the event ``event_type`` (``wf_api_<name>_event`` or just
        ``<name>``) with ``fields``; return it."""
        message = messages.event(event_type, **fields)
        self.send(message)
        return message

    def start(self, source_uri: str = DEVICE, trigger_type: str = 'phrase',
              **args: Any) -> Dict[str, Any]:
        """Send a ``wf_api_start_event`` whose trigger args hold ``source_uri``
        plus ``args``; returns the trigger dict."""
        message = messages.start_event(source_uri, trigger_type, **args)
        self.send(message)
        return message['trigger']

    def respond(self, request: Dict[str, Any], **fields: Any) -> Dict[str, Any]:
        """Answer ``request`` with ``wf_api_<name>_response`` carrying its ``_id``."""
        response = messages.response(request, **fields)
        self.send(response)
        return response

    def error(self, request: Dict[str, Any], text: str) -> None:
        """Answer ``request`` with ``wf_api_error_response`` and ``error: text``."""
        self.send(messages.error_response(request['_id'], text))

    def progress(self, request: Dict[str, Any]) -> None:
        """Send a ``wf_api_progress_event`` for ``request`` (same ``_id``)."""
        self.send(messages.progress_event(request['_id']))

    def prompt(self, prompt_id: str, prompt_type: str, source_uri: str = INTERACTION) -> None:
        """Send a ``wf_api_prompt_event`` (``started``/``stopped``/``failed``)."""
        self.event('wf_api_prompt_event', id=prompt_id, type=prompt_type,
                   source_uri=source_uri)

    def recv(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The next message, parsed; must be a JSON object."""
        text = self.recv_text(timeout)
        message = json.loads(text)
        assert isinstance(message, dict), text
        self.received.append(message)
        return message

    def expect(self, request_type: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The next message, asserting that its ``_type`` is ``request_type``
        and that it carries a 32-hex-digit ``_id``."""
        message = self.recv(timeout)
        assert message.get('_type') == request_type, \
            f'expected {request_type}, got {message!r}'
        request_id = message.get('_id')
        assert isinstance(request_id, str) and len(request_id) == 32 \
            and all(c in '0123456789abcdef' for c in request_id), message
        return message


class HandshakeRejected(ConnectionError):
    """The server answered the WebSocket upgrade with an HTTP status other than 101."""

    def __init__(self, status: int) -> None:
        super().__init__(f'WebSocket upgrade refused with HTTP {status}')
        self.status = status


_CLOSED = object()


def open_client(url: str, on_text: Any, on_close: Any, *,
                ssl_context: Optional[ssl.SSLContext] = None,
                handshake_timeout: float = DEFAULT_TIMEOUT) -> WsClient:
    """The simulator's WebSocket client, with the failures a test expects:
    :class:`HandshakeRejected` for a refused upgrade, ``TimeoutError`` for a
    handshake that does not finish in time, ``ConnectionRefusedError``..."""
    try:
        return wsclient.connect(url, on_text, on_close, timeout=handshake_timeout,
                                max_message_size=64 * 1024 * 1024, ssl_context=ssl_context)
    except wsclient.HandshakeFailed as exc:
        if exc.status is not None:
            raise HandshakeRejected(exc.status) from None
        if isinstance(exc.__cause__, OSError):   # refused, reset, timed out, TLS
            raise exc.__cause__ from None
        raise


class RelayPeer(PeerMessages):
    """Plays the Relay server on one WebSocket connection to a workflow path,
    with the simulator's client (:mod:`relaysync.simulator.wsclient`).

    Args:
        url: ``ws://host:port/path`` or ``wss://...``.
        ssl_context: client TLS context for ``wss`` (trusting the test CA).
        handshake_timeout: bound on connect + TLS + HTTP upgrade.
        timeout: default bound for :meth:`recv` / :meth:`expect`.

    Raises:
        HandshakeRejected: the server refused the upgrade (e.g. 404).
        ConnectionError, TimeoutError, ssl.SSLError: the connection failed.
    """

    def __init__(self, url: str, *, ssl_context: Optional[ssl.SSLContext] = None,
                 handshake_timeout: float = DEFAULT_TIMEOUT,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        #: Every message received, parsed, in order.
        self.received: List[Dict[str, Any]] = []
        self._inbox: 'queue.Queue[Any]' = queue.Queue()
        self.ws = open_client(url, self._inbox.put, self._closed, ssl_context=ssl_context,
                              handshake_timeout=handshake_timeout)

    def _closed(self, code: int, reason: str) -> None:
        self._inbox.put(_CLOSED)

    @classmethod
    def connect(cls, server: Any, path: str, *, host: str = '127.0.0.1',
                **kwargs: Any) -> 'RelayPeer':
        """Connect to ``path`` on a started relaysync Server (or a port number);
        ``wss`` when ``ssl_context`` is given."""
        port = server if isinstance(server, int) else server.port
        scheme = 'wss' if kwargs.get('ssl_context') is not None else 'ws'
        return cls(f'{scheme}://{host}:{port}/{path.lstrip("/")}', **kwargs)

    def __repr__(self) -> str:
        return f'<RelayPeer {self.url} {"open" if self.connected else "closed"}>'

    def send_text(self, text: str) -> None:
        """Send one text frame."""
        self.ws.send_text(text)

    def _next(self, timeout: float) -> Any:
        """The next text message, :data:`_CLOSED` once closed, None on timeout."""
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _CLOSED:
            self._inbox.put(_CLOSED)   # every later read sees it too
        return item

    def recv_text(self, timeout: Optional[float] = None) -> str:
        """The next text message; AssertionError if none arrives in time or the
        connection closes first."""
        timeout = self.timeout if timeout is None else timeout
        item = self._next(timeout)
        if item is _CLOSED:
            raise AssertionError(f'connection closed (code {self.ws.close_code}) '
                                 f'while waiting for a message')
        if item is None:
            raise AssertionError(f'no message within {timeout} s')
        return str(item)

    def expect_nothing(self, timeout: float = 0.3) -> None:
        """Assert that no message arrives within ``timeout`` seconds."""
        item = self._next(timeout)
        assert item is None or item is _CLOSED, f'unexpected message {item!r}'

    # ----------------------------------------------------------- closing
    @property
    def connected(self) -> bool:
        return self.ws.is_open

    @property
    def close_code(self) -> Optional[int]:
        """The close code the server sent, once the connection is closed."""
        return None if self.ws.is_open else self.ws.close_code

    def wait_closed(self, timeout: Optional[float] = None) -> int:
        """Wait until the server closes the connection; return its close code.
        Messages still arriving meanwhile are kept in :attr:`received`."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f'connection still open after {timeout} s')
            item = self._next(min(remaining, 0.1))
            if item is _CLOSED:
                break
            if item is not None:
                self.received.append(json.loads(item))
        assert self.ws.close_code is not None
        return self.ws.close_code

    def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        """Close with a WebSocket close frame (idempotent), waiting (bounded) for
        the server's answer and the reader thread."""
        self.ws.close(code, reason or '', timeout=DEFAULT_TIMEOUT)
        self._finish()

    def reset(self) -> None:
        """Drop the connection with a TCP reset (no close frame, no FIN)."""
        try:
            self.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            # Wake the reader thread without sending anything; it then closes
            # the socket, which (linger 0) sends RST.
            self.ws.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        self._finish()

    def _finish(self) -> None:
        if not self.ws.wait_closed(DEFAULT_TIMEOUT):
            try:
                self.ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.ws.wait_closed(DEFAULT_TIMEOUT)
        if self.ws.thread is not threading.current_thread():
            self.ws.thread.join(DEFAULT_TIMEOUT)

    def __enter__(self) -> 'RelayPeer':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------- plain HTTP
class HttpReply:
    """A parsed HTTP response: ``status``, ``headers`` (lower-case names), ``body``."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        head, _, self.body = raw.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        parts = lines[0].split(' ', 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            self.headers[name.strip().lower()] = value.strip()

    def json(self) -> Any:
        return json.loads(self.body.decode('utf-8'))


def upgrade_request(path: str, host: str = '127.0.0.1') -> bytes:
    """A valid WebSocket upgrade request for ``path``."""
    key = base64.b64encode(os.urandom(16)).decode('ascii')
    return (f'GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n'
            f'Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
            f'Sec-WebSocket-Version: 13\r\n\r\n').encode('ascii')


def http_exchange(port: int, request: bytes, host: str = '127.0.0.1',
                  timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Send raw ``request`` bytes and return everything received until the
    server closes the connection (bounded by ``timeout``)."""
    chunks = []
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f'server kept the connection open for {timeout} s')
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError(f'server kept the connection open for {timeout} s') \
                    from None
            if not data:
                break
            chunks.append(data)
    return b''.join(chunks)


def http_request(port: int, method: str, path: str, headers: Optional[Dict[str, str]] = None,
                 body: bytes = b'') -> HttpReply:
    """Send a plain HTTP/1.1 request and parse the reply."""
    lines = [f'{method} {path} HTTP/1.1', 'Host: 127.0.0.1', 'Connection: close',
             f'Content-Length: {len(body)}']
    lines += [f'{k}: {v}' for k, v in (headers or {}).items()]
    raw = ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body
    return HttpReply(http_exchange(port, raw))


# ------------------------------------------------------------- in memory
class MemoryTransport:
    """The engine's transport (``relaysync.connection.Transport``) in memory:
    what the engine sends goes to a queue the :class:`MemoryPeer` reads; it
    records the engine's pause and resume requests and its closes."""

    def __init__(self) -> None:
        self.outbox: 'queue.Queue[str]' = queue.Queue()
        self.closes: List[Tuple[int, str]] = []
        self.pauses = 0
        self.resumes = 0
        self.paused = False
        self.engine: Any = None

    def send_text(self, text: str, timeout: Optional[float] = None) -> None:
        if self.closes:
            from relaysync import ConnectionClosed
            raise ConnectionClosed(*self.closes[0])
        self.outbox.put(text)

    def close(self, code: int = 1000, reason: str = '') -> None:
        self.closes.append((code, reason))
        if self.engine is not None:
            self.engine.closed(code, reason)   # as a socket transport reports back

    def pause_reading(self) -> None:
        self.pauses += 1
        self.paused = True

    def resume_reading(self) -> None:
        self.resumes += 1
        self.paused = False


class MemoryPeer(PeerMessages):
    """Plays the Relay server against an engine in this process, through the
    ``Transport`` protocol alone: no socket.  Inbound text is handed to the
    engine on the calling thread, as a transport's reader thread does.

    Args:
        workflow: the workflow the engine runs.
        **engine_options: passed to ``relaysync.connection.Connection``.
    """

    def __init__(self, workflow: Any, timeout: float = DEFAULT_TIMEOUT,
                 **engine_options: Any) -> None:
        from relaysync import Relay
        from relaysync.connection import Connection
        self.timeout = timeout
        self.received = []
        self.transport = MemoryTransport()
        self.engine = Connection(workflow, self.transport, 'm1', context=Relay,
                                 **engine_options)
        self.transport.engine = self.engine

    def send_text(self, text: str) -> None:
        self.engine.receive_text(text)

    def recv_text(self, timeout: Optional[float] = None) -> str:
        timeout = self.timeout if timeout is None else timeout
        try:
            return self.transport.outbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f'no message within {timeout} s') from None

    def expect_nothing(self, timeout: float = 0.3) -> None:
        """Assert that the engine sends nothing within ``timeout`` seconds."""
        try:
            text = self.transport.outbox.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError(f'unexpected message {text!r}')

    def close(self, code: int = 1000, reason: str = '') -> None:
        """The peer goes away: the engine is told the connection closed."""
        self.engine.closed(code, reason)
