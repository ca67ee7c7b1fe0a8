"""A test helper that plays the Relay server ("ibot") against a relaysync server.

The Relay server is the WebSocket *client* of a workflow server: it connects to a
workflow path, sends events and answers the workflow's requests.  :class:`RelayPeer`
does the same over a real socket, so tests can check the exact JSON a workflow
sends and feed it the answers they choose::

    with RelayPeer(f'ws://127.0.0.1:{server.port}/wf') as peer:
        peer.start(DEVICE)
        request = peer.expect('wf_api_say_request')
        peer.respond(request, id=request['_id'])

It is built on ``simple_websocket.Client``: the reader thread is a daemon, the TCP,
TLS and HTTP handshakes are bounded by ``handshake_timeout``, every receive is
bounded by a timeout, and the socket is always closed (context manager).

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
from urllib.parse import urlsplit

import simple_websocket
from simple_websocket.ws import Base
from wsproto import ConnectionType
from wsproto.events import (AcceptConnection, BytesMessage, RejectConnection, Request,
                            TextMessage)

from relaysync.simulator import messages

#: URNs used throughout the tests.
DEVICE = 'urn:relay-resource:name:device:Alice'
INTERACTION = ('urn:relay-resource:name:interaction:hello?device='
               'urn%3Arelay-resource%3Aname%3Adevice%3AAlice')

DEFAULT_TIMEOUT = 5.0


class DaemonThread(threading.Thread):
    """The reader thread class for clients: a daemon, so a forgotten client can
    never keep the test process alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs['daemon'] = True
        super().__init__(*args, **kwargs)


class HandshakeRejected(ConnectionError):
    """The server answered the WebSocket upgrade with an HTTP status other than 101."""

    def __init__(self, status: int) -> None:
        super().__init__(f'WebSocket upgrade refused with HTTP {status}')
        self.status = status


class BoundedClient(simple_websocket.Client):
    """``simple_websocket.Client`` with a bounded connect/TLS/HTTP handshake.

    The library's own constructor connects and handshakes without any timeout;
    this one gives the socket a timeout for the whole opening phase, raises
    :class:`HandshakeRejected` for a refused upgrade and ``ConnectionError`` when
    the server closes the socket mid-handshake, and removes the timeout before
    the reader thread starts.  Frames are written with ``sendall``.
    """

    def __init__(self, url: str, *, ssl_context: Optional[ssl.SSLContext] = None,
                 handshake_timeout: float = DEFAULT_TIMEOUT) -> None:
        parsed = urlsplit(url)
        secure = parsed.scheme in ('wss', 'https')
        self.host = parsed.hostname
        self.port = parsed.port or (443 if secure else 80)
        self.path = (parsed.path or '/') + (f'?{parsed.query}' if parsed.query else '')
        self.subprotocols: List[str] = []
        self.extra_headeers: List[Tuple[str, str]] = []  # the library's attribute name
        self._deadline = time.monotonic() + handshake_timeout
        self._send_lock = threading.Lock()
        sock = socket.create_connection((self.host, self.port), timeout=handshake_timeout)
        try:
            # Small frames back to back (a response, then a close) must not wait
            # for delayed ACKs.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if secure:
                context = ssl_context or ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=self.host)
            Base.__init__(self, sock, connection_type=ConnectionType.CLIENT,
                          thread_class=DaemonThread)
        except BaseException:
            sock.close()
            raise

    def handshake(self) -> None:
        self.sock.sendall(self.ws.send(Request(host=self.host, target=self.path)))
        while True:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError('WebSocket handshake timed out')
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(self.receive_bytes)
            except socket.timeout:   # not a TimeoutError before Python 3.10
                raise TimeoutError('WebSocket handshake timed out') from None
            if not data:
                raise ConnectionError('server closed the socket during the handshake')
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, AcceptConnection):
                    self.sock.settimeout(None)
                    self.connected = True
                    return
                if isinstance(event, RejectConnection):
                    raise HandshakeRejected(event.status_code)

    def send(self, data: Any) -> None:
        if not self.connected:
            raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)
        frame = BytesMessage(data=data) if isinstance(data, bytes) else TextMessage(data=data)
        with self._send_lock:
            self.sock.sendall(self.ws.send(frame))


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


class RelayPeer(PeerMessages):
    """Plays the Relay server on one WebSocket connection to a workflow path.

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
        self.ws = BoundedClient(url, ssl_context=ssl_context,
                                handshake_timeout=handshake_timeout)
        #: Every message received, parsed, in order.
        self.received: List[Dict[str, Any]] = []

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

    # ----------------------------------------------------------- sending
    def send_text(self, text: str) -> None:
        """Send one raw text frame."""
        self.ws.send(text)

    # --------------------------------------------------------- receiving
    def recv_text(self, timeout: Optional[float] = None) -> str:
        """The next text message; AssertionError if none arrives in time or the
        connection closes first."""
        timeout = self.timeout if timeout is None else timeout
        try:
            data = self.ws.receive(timeout=timeout)
        except simple_websocket.ConnectionClosed:
            raise AssertionError(f'connection closed (code {self.ws.close_reason}) '
                                 f'while waiting for a message') from None
        if data is None:
            raise AssertionError(f'no message within {timeout} s')
        assert isinstance(data, str), f'expected a text frame, got {data!r}'
        return data

    def expect_nothing(self, timeout: float = 0.3) -> None:
        """Assert that no message arrives within ``timeout`` seconds."""
        try:
            data = self.ws.receive(timeout=timeout)
        except simple_websocket.ConnectionClosed:
            return
        assert data is None, f'unexpected message {data!r}'

    # ----------------------------------------------------------- closing
    @property
    def connected(self) -> bool:
        return bool(self.ws.connected)

    @property
    def close_code(self) -> Optional[int]:
        """The close code the server sent, once the connection is closed."""
        return None if self.ws.connected else int(self.ws.close_reason)

    def wait_closed(self, timeout: Optional[float] = None) -> int:
        """Wait until the server closes the connection; return its close code.
        Messages still arriving meanwhile are kept in :attr:`received`."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while self.ws.connected:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f'connection still open after {timeout} s')
            try:
                data = self.ws.receive(timeout=min(remaining, 0.1))
            except simple_websocket.ConnectionClosed:
                break
            if isinstance(data, str):
                self.received.append(json.loads(data))
        return int(self.ws.close_reason)

    def close(self, code: int = 1000, reason: Optional[str] = None) -> None:
        """Close with a WebSocket close frame (idempotent) and wait, bounded, for
        the reader thread to end."""
        if self.ws.connected:
            try:
                self.ws.close(code, reason)
            except (simple_websocket.ConnectionClosed, OSError):
                pass
        self._finish()

    def reset(self) -> None:
        """Drop the connection with a TCP reset (no close frame, no FIN)."""
        sock = self.ws.sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            # Wake the reader thread without sending anything; it then closes
            # the socket, which (linger 0) sends RST.
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
        self._finish()

    def _finish(self) -> None:
        thread = getattr(self.ws, 'thread', None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(DEFAULT_TIMEOUT)
            if thread.is_alive():
                try:
                    self.ws.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                thread.join(DEFAULT_TIMEOUT)
        self.ws.connected = False
        try:
            self.ws.sock.close()
        except OSError:
            pass

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
