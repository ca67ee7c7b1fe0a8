"""A small WebSocket client over wsproto: the simulator's side of one connection.

The simulator plays the Relay server, which is the WebSocket *client* of a
workflow server.  This client does exactly what that needs and no more:

* :func:`connect` opens the TCP connection and completes the opening handshake
  within a deadline (raising :class:`HandshakeFailed` with the HTTP status when
  the server refuses, for example an unknown path);
* a daemon reader thread hands every complete text message to ``on_text`` and
  answers pings; when the connection ends for any reason ``on_close(code,
  reason)`` is called exactly once;
* :meth:`WsClient.send_text` may be called from any thread (one lock guards the
  wsproto state and ``sendall``);
* :meth:`WsClient.close` runs the closing handshake with a bounded wait.
"""

import logging
import socket
import ssl
import threading
import time
from typing import Callable, List, Optional, Tuple
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (AcceptConnection, BytesMessage, CloseConnection, Event, Ping,
                            RejectConnection, RejectData, Request, TextMessage)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from .errors import SimulatorError

logger = logging.getLogger('relaysync.simulator.ws')

#: The close code reported when the peer vanished without a close frame.
ABNORMAL = 1006
#: Seconds a background close waits for the server's answer before dropping the socket.
CLOSE_GRACE = 2.0


class HandshakeFailed(SimulatorError, ConnectionError):
    """The WebSocket opening handshake did not succeed.

    Raised by :meth:`Simulator.trigger`.  Also a ``ConnectionError``.

    Args:
        message: what went wrong, with the URL.
        status: the HTTP status, when the server answered (default None).

    Attributes:
        status: the HTTP status the server answered with, or None when the
            connection failed before any answer (refused, reset, timed out).
    """

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


class WsClient:
    """One client connection.  Create it with :func:`connect`.

    Attributes:
        url: the URL connected to.
        close_code: the close code once closed (None while open).
        close_reason: the close reason text once closed.
    """

    def __init__(self, sock: socket.socket, ws: WSConnection, url: str,
                 on_text: Callable[[str], None], on_close: Callable[[int, str], None],
                 max_message_size: int) -> None:
        self.url = url
        self._sock = sock
        self._ws = ws
        self._on_text = on_text
        self._on_close = on_close
        self._max = max_message_size
        self._lock = threading.Lock()
        self._parts: List[str] = []
        self._size = 0
        self._finished = threading.Event()
        self.close_code: Optional[int] = None
        self.close_reason = ''
        self._thread = threading.Thread(target=self._read_loop, daemon=True,
                                        name='relaysync-sim-ws-reader')

    def start(self) -> None:
        """Start the reader thread."""
        self._thread.start()

    @property
    def is_open(self) -> bool:
        """True until the connection has closed."""
        return not self._finished.is_set()

    @property
    def sock(self) -> socket.socket:
        """The connection's socket (for tests that write or break it directly)."""
        return self._sock

    @property
    def thread(self) -> threading.Thread:
        """The reader thread (a daemon)."""
        return self._thread

    def send_text(self, text: str) -> None:
        """Send one text message.

        Raises:
            ConnectionError: the connection is closed or the send failed.
        """
        self._send(TextMessage(data=text))

    def send_bytes(self, data: bytes) -> None:
        """Send one binary message (the Relay server sends none; for tests).

        Raises:
            ConnectionError: the connection is closed or the send failed.
        """
        self._send(BytesMessage(data=data))

    def send_ping(self, payload: bytes = b'') -> None:
        """Send a ping (the reader thread takes the pong).

        Raises:
            ConnectionError: the connection is closed or the send failed.
        """
        self._send(Ping(payload=payload))

    def _send(self, event: Event) -> None:
        with self._lock:
            if self._ws.state is not ConnectionState.OPEN:
                raise ConnectionError('the workflow connection is closed')
            data = self._ws.send(event)
            try:
                self._sock.sendall(data)
            except OSError as exc:
                raise ConnectionError(f'send failed: {exc}') from None

    def close(self, code: int = 1000, reason: str = '', timeout: float = 2.0) -> None:
        """Start the closing handshake and wait up to ``timeout`` seconds for the
        server's answer; then release the socket.  With ``timeout=0`` it returns
        at once and the socket is released in the background after
        :data:`CLOSE_GRACE` seconds if the server has not answered.  Idempotent;
        any thread."""
        with self._lock:
            if self._ws.state is ConnectionState.OPEN:
                try:
                    self._sock.sendall(self._ws.send(CloseConnection(code=code, reason=reason)))
                except (OSError, LocalProtocolError):
                    pass
        if timeout <= 0:
            timer = threading.Timer(CLOSE_GRACE, self._shutdown_if_open)
            timer.daemon = True
            timer.start()
            return
        if not self._finished.wait(timeout):
            self._shutdown()
            self._finished.wait(timeout)

    def _shutdown_if_open(self) -> None:
        if not self._finished.is_set():
            self._shutdown()

    def wait_closed(self, timeout: Optional[float]) -> bool:
        """Block until the connection has closed; False on timeout."""
        return self._finished.wait(timeout)

    # ----------------------------------------------------------- internals
    def _shutdown(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_loop(self) -> None:
        code, reason = ABNORMAL, ''
        try:
            # Frames that arrived with the handshake answer are already buffered.
            done = self._handle_events()
            while done is None:
                data = self._sock.recv(65536)
                if not data:
                    break
                self._ws.receive_data(data)
                done = self._handle_events()
            if done is not None:
                code, reason = done
        except (OSError, RemoteProtocolError, LocalProtocolError) as exc:
            logger.debug('workflow connection %s ended: %s', self.url, exc)
        finally:
            try:
                self._sock.close()
            except OSError:
                pass
            self.close_code, self.close_reason = code, reason
            try:
                self._on_close(code, reason)
            except Exception:  # pragma: no cover - a bug in the callback
                logger.exception('on_close callback raised')
            self._finished.set()

    def _handle_events(self) -> Optional[Tuple[int, str]]:
        for event in self._ws.events():
            if isinstance(event, TextMessage):
                self._size += len(event.data)
                if self._size > self._max:
                    self._send_quietly(CloseConnection(code=1009, reason='message too big'))
                    return 1009, 'message too big'
                self._parts.append(event.data)
                if event.message_finished:
                    text = ''.join(self._parts)
                    self._parts, self._size = [], 0
                    self._on_text(text)
            elif isinstance(event, BytesMessage):
                logger.debug('ignored a binary frame from %s', self.url)
            elif isinstance(event, Ping):
                self._send_quietly(event.response())
            elif isinstance(event, CloseConnection):
                self._send_quietly(event.response())
                return event.code, event.reason or ''
        return None

    def _send_quietly(self, event: Event) -> None:
        with self._lock:
            try:
                self._sock.sendall(self._ws.send(event))
            except (OSError, LocalProtocolError):
                pass


def connect(url: str, on_text: Callable[[str], None], on_close: Callable[[int, str], None],
            timeout: float = 5.0, max_message_size: int = 16 * 1024 * 1024,
            ssl_context: Optional[ssl.SSLContext] = None) -> WsClient:
    """Open a WebSocket connection to ``url`` (``ws://`` or ``wss://``).

    Args:
        url: the workflow URL, e.g. ``ws://127.0.0.1:8080/hellopath``.
        on_text: called on the reader thread with each complete text message.
        on_close: called once, on the reader thread, with (code, reason) when
            the connection has ended (1006 when no close frame was received).
        timeout: seconds allowed for the TCP connect plus the opening handshake.
        max_message_size: larger inbound messages close the connection (1009).
        ssl_context: for ``wss://``; default: the system's verifying context.

    Returns:
        The open :class:`WsClient`, its reader thread running.

    Raises:
        HandshakeFailed: the connection was refused, timed out, or the server
            answered the upgrade with an HTTP error (``status`` set).
        ValueError: the URL is not a ``ws://``/``wss://`` URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ('ws', 'wss') or not parts.hostname:
        raise ValueError(f'not a ws:// or wss:// URL: {url!r}')
    secure = parts.scheme == 'wss'
    port = parts.port or (443 if secure else 80)
    target = (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    except OSError as exc:
        raise HandshakeFailed(f'cannot connect to {parts.hostname}:{port}: {exc}') from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if secure:
            context = ssl_context or ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        ws = WSConnection(ConnectionType.CLIENT)
        host = parts.hostname if parts.port is None else f'{parts.hostname}:{port}'
        sock.sendall(ws.send(Request(host=host, target=target)))
        _read_handshake(sock, ws, url, deadline)
    except HandshakeFailed:
        sock.close()
        raise
    except (OSError, RemoteProtocolError) as exc:
        sock.close()
        raise HandshakeFailed(f'WebSocket handshake with {url} failed: {exc}') from exc
    sock.settimeout(None)
    client = WsClient(sock, ws, url, on_text, on_close, max_message_size)
    client.start()
    return client


def _read_handshake(sock: socket.socket, ws: WSConnection, url: str, deadline: float) -> None:
    """Read until the server accepts (bytes past the answer stay buffered in
    wsproto for the reader thread), or raise HandshakeFailed."""
    status: Optional[int] = None
    body = b''
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HandshakeFailed(f'no WebSocket handshake answer from {url} in time') \
                from TimeoutError(url)
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except socket.timeout as exc:
            raise HandshakeFailed(f'no WebSocket handshake answer from {url} in time') from exc
        ws.receive_data(data or None)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                return
            if isinstance(event, RejectConnection):
                status = event.status_code
                if not event.has_body:
                    raise HandshakeFailed(f'{url} refused the WebSocket upgrade: HTTP {status}',
                                          status)
            elif isinstance(event, RejectData):
                body += event.data
                if event.body_finished:
                    text = body.decode('utf-8', 'replace').strip()[:200]
                    raise HandshakeFailed(f'{url} refused the WebSocket upgrade: HTTP {status} '
                                          f'{text}'.rstrip(), status)
        if not data:
            raise HandshakeFailed(f'{url} closed the connection during the handshake', status)
