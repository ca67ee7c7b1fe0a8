"""``Server``: the standalone threaded workflow server.

A :class:`Server` maps request paths to :class:`~relaysync.Workflow` objects and
serves them.  Its I/O thread (see :mod:`relaysync.reactor`) owns every socket;
each accepted Relay connection becomes a :class:`~relaysync.connection.Connection`
whose handlers run on a worker thread of its own.
"""

import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
import weakref
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import handshake
from .connection import (DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_QUEUED_EVENTS, Connection,
                         current_connection)
from .exceptions import ServerException
from .reactor import Channel, IOLimits, Reactor
from .relay import Relay
from .timeouts import Timeouts
from .version import SERVER_NAME, __version__

logger = logging.getLogger('relaysync.server')
package_logger = logging.getLogger('relaysync')

#: Default largest inbound message (bytes).  Speech events with
#: ``transcribe=False`` carry audio, so several MiB are allowed.
DEFAULT_MAX_MESSAGE_SIZE = 8 * 1024 * 1024

#: Default most concurrent workflow instances of one server.
DEFAULT_MAX_CONNECTIONS = 4096
#: Default most bytes queued for one peer before a sending call waits.
DEFAULT_MAX_SEND_BUFFER = 4 * 1024 * 1024


class FallbackHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes ``relaysync`` records to stderr only while the application has
    configured no logging of its own (the root logger has no handler), so an
    explicit ``log_level`` is visible in a bare script and never duplicated
    once the application sets up logging of its own (root handlers)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` to stderr, unless the root logger has a handler.

        Args:
            record: the log record.
        """
        if not logging.getLogger().handlers:
            super().emit(record)


def configure_logging(log_level: Optional[int] = None,
                      log_handler: Optional[logging.Handler] = None) -> None:
    """Set the level of the ``relaysync`` logger and optionally add a handler.

    Called by :class:`Server` with its ``log_level`` and ``log_handler``
    options.  The root logger is never touched.  Given only ``log_level``, a
    :class:`FallbackHandler` is added so the records are seen even when the
    application configured no logging; records also propagate to the
    application's handlers as usual.

    Args:
        log_level: a ``logging`` level for the ``relaysync`` logger (None:
            leave it alone).
        log_handler: a handler to add to the ``relaysync`` logger (None: none).
    """
    if log_level is not None:
        package_logger.setLevel(log_level)
    if log_handler is not None:
        if log_handler not in package_logger.handlers:
            package_logger.addHandler(log_handler)
    elif log_level is not None and not any(isinstance(h, FallbackHandler)
                                           for h in package_logger.handlers):
        package_logger.addHandler(FallbackHandler())


def _number(name: str, value: Any, minimum: float = 0, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= minimum:
        raise ServerException(f'{name} must be a number greater than {minimum}, got {value!r}')
    return value


def _importing() -> bool:
    """Whether the calling code runs as part of an import (a module's top level)."""
    frame: Optional[FrameType] = sys._getframe(2)
    for _ in range(200):
        if frame is None:
            return False
        if frame.f_code.co_filename.startswith('<frozen importlib'):
            return True
        frame = frame.f_back
    return False


class _Throttled:
    """A WARNING at most once per ``interval`` seconds; the rest are counted
    and the count is added to the next one (a flood of refusals stays readable)."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._next = 0.0
        self._suppressed = 0

    def warn(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return
            suppressed, self._suppressed = self._suppressed, 0
            self._next = now + self.interval
        if suppressed:
            message += ' (and %d more like it in the last %g s)'
            args += (suppressed, self.interval)
        logger.warning(message, *args)


#: Servers serving sockets adopted from a WSGI host in this process (for SIGTERM draining).
EMBEDDED_SERVERS: 'weakref.WeakSet[Server]' = weakref.WeakSet()


class Server:
    """A Relay workflow server: serves registered workflows over WebSocket.

    Register workflows with :meth:`register`, then either run the server
    itself (:meth:`start`, :meth:`start_in_background`) or serve the
    workflows from a WSGI app (:meth:`wsgi_app`, :func:`relaysync.wsgi.mount`).
    Constructing a server binds nothing; it only checks and stores the options.

    Args:
        host: the address to listen on (default ``'0.0.0.0'``, every interface).
        port: the TCP port, as an int or a numeric string (``os.getenv('PORT')``);
            0 picks a free port (read it back from :attr:`port`).  Default 8080.
            Host and port are unused when the workflows are served from a WSGI
            app (:meth:`wsgi_app`).
        log_level: level of the ``relaysync`` logger, e.g. ``logging.INFO``
            (default: leave it alone).  See :func:`configure_logging`.
        log_handler: a handler added to the ``relaysync`` logger (default: none).
        ssl_key_filename: PEM private key file; together with
            ``ssl_cert_filename`` it turns on TLS (default: plaintext).
        ssl_cert_filename: PEM certificate (chain) file.
        timeouts: the :class:`~relaysync.Timeouts` every instance starts with
            (default ``Timeouts()``).
        max_message_size: largest inbound message in bytes (default 8 MiB); a
            larger one closes the connection with code 1009.
        max_connections: most concurrent workflow instances (default 4096);
            further upgrade requests get ``503 Service Unavailable``.
        handshake_timeout: seconds a client has to finish the TLS and HTTP
            handshakes (default 10).
        ping_interval: seconds of silence before a keepalive ping (default 20;
            None turns keepalive off).
        ping_timeout: seconds to wait for the pong before dropping the peer
            (default 20); also the longest a peer may take none of the data
            queued for it before it is dropped.
        drain_timeout: on :meth:`stop` or SIGTERM, seconds running instances
            get to finish before they are closed with code 1001 (default 10; 0
            closes them at once).
        health_paths: paths answered ``200`` with a JSON status
            (:meth:`health`) to a plain HTTP GET (default ``/``, ``/health``,
            ``/healthz``).
        max_send_buffer: bytes queued for one peer before an action waits for
            them to drain, within its own timeout (default 4 MiB).
        max_queued_events: events one instance may have waiting for its
            handlers (default 1000); see :attr:`max_queued_bytes`.
        max_queued_bytes: bytes of events one instance may have waiting
            (default 16 MiB).  At either limit relaysync stops reading that
            connection while none of its calls is pending; while one is, reading
            goes on (its answer may be behind the events) and the instance is
            closed with 1008 at twice the limit.
        stuck_handler_timeout: seconds a handler may keep running after its
            connection closed before it is logged at WARNING with its stack and
            stops counting against ``max_connections`` (default 30).

    relay-py's four options (``log_level``, ``log_handler``,
    ``ssl_key_filename``, ``ssl_cert_filename``) keep their meaning.

    Attributes:
        host (str): the listening address.
        port (int): the port; after :meth:`start_in_background` (or while
            :meth:`start` runs) the port actually bound, also when 0 was asked for.
        timeouts (Timeouts): the timeouts given to each new instance.
        ssl_context (ssl.SSLContext | None): the TLS context, or None for plaintext.

    Raises:
        ServerException: a bad port or option value, or an unreadable or
            invalid TLS key or certificate, or only one of the two TLS files
            (TLS never falls back to plaintext).
        TypeError: an unknown keyword argument.
    """

    def __init__(self, host: str = '0.0.0.0', port: Any = 8080, *,
                 log_level: Optional[int] = None,
                 log_handler: Optional[logging.Handler] = None,
                 ssl_key_filename: Optional[str] = None,
                 ssl_cert_filename: Optional[str] = None,
                 timeouts: Optional[Timeouts] = None,
                 max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 handshake_timeout: float = 10.0,
                 ping_interval: Optional[float] = 20.0,
                 ping_timeout: float = 20.0,
                 drain_timeout: float = 10.0,
                 health_paths: Tuple[str, ...] = ('/', '/health', '/healthz'),
                 max_send_buffer: int = DEFAULT_MAX_SEND_BUFFER,
                 max_queued_events: int = DEFAULT_MAX_QUEUED_EVENTS,
                 max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
                 stuck_handler_timeout: float = 30.0) -> None:
        self.host = host
        try:
            self._requested_port = int(port)
        except (TypeError, ValueError):
            raise ServerException(f'port must be an integer, got {port!r}') from None
        if not 0 <= self._requested_port <= 65535:
            raise ServerException(f'port out of range: {self._requested_port}')
        configure_logging(log_level, log_handler)
        if timeouts is not None and not isinstance(timeouts, Timeouts):
            raise ServerException(f'timeouts must be a relaysync.Timeouts, got {timeouts!r}')
        self.timeouts = timeouts or Timeouts()
        self.max_message_size = int(_number('max_message_size', max_message_size))
        self.max_connections = int(_number('max_connections', max_connections))
        self.max_sockets = self.max_connections + 256
        self.handshake_timeout = _number('handshake_timeout', handshake_timeout)
        self.ping_interval = _number('ping_interval', ping_interval, allow_none=True)
        self.ping_timeout = _number('ping_timeout', ping_timeout)
        if isinstance(drain_timeout, bool) or not isinstance(drain_timeout, (int, float)) \
                or drain_timeout < 0:
            raise ServerException(f'drain_timeout must be a number of seconds, 0 or more, '
                                  f'got {drain_timeout!r}')
        self.drain_timeout = drain_timeout
        self.max_send_buffer = int(_number('max_send_buffer', max_send_buffer))
        self.max_queued_events = int(_number('max_queued_events', max_queued_events))
        self.max_queued_bytes = int(_number('max_queued_bytes', max_queued_bytes))
        self.stuck_handler_timeout = _number('stuck_handler_timeout', stuck_handler_timeout)
        if isinstance(health_paths, str):
            raise ServerException(f'health_paths must be a sequence of paths, got {health_paths!r}')
        self.health_paths = tuple(handshake.normalize_path(p) for p in health_paths)
        self.ssl_context = self._make_ssl_context(ssl_key_filename, ssl_cert_filename)
        self._io_limits = IOLimits(
            max_message_size=self.max_message_size, handshake_timeout=self.handshake_timeout,
            ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
            max_send_buffer=self.max_send_buffer, max_sockets=self.max_sockets)
        self._workflows: Dict[str, Any] = {}
        self._connections: Dict[str, Connection] = {}   # running instances (counted)
        self._closed: Dict[str, Connection] = {}        # closed, handler still running
        self._stuck: Dict[str, Connection] = {}         # ... past stuck_handler_timeout
        self._lock = threading.Lock()
        self._counter = 0
        self._reactor: Optional[Reactor] = None
        self._started = threading.Event()
        self._stopped = threading.Event()       # the I/O thread has exited (or never ran)
        self._stopping = False                  # stop() has begun: nothing new is admitted
        self._stop_done = threading.Event()     # the first stop() has finished
        self._embedded: Any = None   # relaysync.wsgi.EmbeddedIO, once embedded
        self._error_listeners: List[Callable[[Connection, str, BaseException], None]] = []
        self._refusals = _Throttled()
        self._stopping_from: 'set[Connection]' = set()
        self._restore_signals: Callable[[], None] = lambda: None
        self.port: int = self._requested_port

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _make_ssl_context(key: Optional[str], cert: Optional[str]) -> Optional[ssl.SSLContext]:
        if key is None and cert is None:
            return None
        if not key or not cert:
            raise ServerException('TLS needs both ssl_key_filename and ssl_cert_filename')
        for what, path in (('key', key), ('certificate', cert)):
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise ServerException(f'TLS {what} file is not readable: {path}')
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(certfile=cert, keyfile=key)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ServerException(f'cannot load TLS key/certificate ({key}, {cert}): {exc}') \
                from None
        return context

    def register(self, workflow: Any, path: str) -> None:
        """Serve ``workflow`` at ``path``.

        Args:
            workflow: the :class:`~relaysync.Workflow` to run for each connection
                on ``path``.
            path: ``'/hellopath'`` or ``'hellopath'`` (a leading ``/`` is added, a
                trailing one and any query string are ignored).

        Raises:
            ServerException: the path is already registered (as in relay-py).
            TypeError: ``workflow`` is not a Workflow, or ``path`` not a string.
        """
        if not hasattr(workflow, 'resolve'):
            raise TypeError(f'register() needs a relaysync.Workflow, got {workflow!r}')
        if not isinstance(path, str):
            raise TypeError(f'path must be a string, got {path!r}')
        key = handshake.normalize_path(path)
        with self._lock:
            if key in self._workflows:
                raise ServerException(f'a workflow is already registered at path {key}')
            self._workflows[key] = workflow

    def workflow_for(self, path: str) -> Optional[Any]:
        """The workflow registered at ``path``.

        Args:
            path: a request path; the query string is ignored.

        Returns:
            The :class:`~relaysync.Workflow`, or None when nothing is registered there.
        """
        return self._workflows.get(handshake.normalize_path(path))

    @property
    def paths(self) -> Dict[str, Any]:
        """A copy of ``{path: workflow}``."""
        return dict(self._workflows)

    def total_connections(self) -> int:
        """The number of live workflow connections (running instances).

        Returns:
            The count, across every registered path.
        """
        return len(self._connections)

    # ----------------------------------------------------- connection life
    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` has begun: new instances are refused."""
        return self._stopping

    def _admit(self, workflow: Any, transport: Any, path: str, client: str = '',
               own_worker: bool = True, limit: Optional[int] = None) -> Connection:
        """Create and track the engine of a new instance, unless the server is
        stopping or full (checked and registered in one atomic step).

        Used by the transports (the standalone server, WSGI embedding).

        Args:
            workflow: the workflow to run.
            transport: the connection's transport (see ``relaysync.connection.Transport``).
            path: the request path.
            client: who connected, for the log (see ``handshake.describe_client``).
            own_worker: True starts a worker thread for the handlers; False
                leaves it to the caller (the WSGI request thread).
            limit: a lower cap than ``max_connections`` (a WSGI host's threads).

        Returns:
            The new ``relaysync.connection.Connection``.

        Raises:
            relaysync.handshake.HandshakeError: 503, the server is stopping or
                full.
        """
        cap = self.max_connections if limit is None else min(limit, self.max_connections)
        with self._lock:
            if self._stopping:
                raise handshake.HandshakeError(503, 'server is shutting down')
            running = len(self._connections)
            full = running >= cap
            if not full:
                self._counter += 1
                conn_id = f'c{self._counter}'
                conn = Connection(workflow, transport, conn_id, self.timeouts, path,
                                  context=Relay, on_finished=self._connection_finished,
                                  own_worker=own_worker,
                                  on_handler_error=self._handler_error,
                                  on_closed=self._connection_closed,
                                  max_queued_events=self.max_queued_events,
                                  max_queued_bytes=self.max_queued_bytes)
                self._connections[conn_id] = conn
        if full:
            what = 'max_connections' if cap == self.max_connections else 'the WSGI host\'s threads'
            self._refusals.warn('refused a connection to %s: %d connections (%s)',
                                handshake.escape(path), running, what)
            raise handshake.HandshakeError(503, 'too many connections', {'Retry-After': '5'},
                                           logged=True)
        conn.client = client
        logger.info('[%s] connected at %s from %s', conn_id, handshake.escape(path), client)
        return conn

    def add_error_listener(self,
                           callback: Callable[[Connection, str, BaseException], None]) -> None:
        """Call ``callback`` whenever a handler raises.

        The callback runs on that instance's worker thread, after the error is
        logged (for example to report it to an error tracker); the instance and the
        server carry on.  An exception raised by the callback is logged and ignored.

        Args:
            callback: called as ``callback(connection, handler_name, exception)``;
                ``connection.path`` and ``connection.id`` say where it happened.
        """
        self._error_listeners.append(callback)

    def remove_error_listener(self,
                              callback: Callable[[Connection, str, BaseException], None]) -> None:
        """Stop calling a callback added with :meth:`add_error_listener`.

        Args:
            callback: the callback; nothing happens if it was not added.
        """
        try:
            self._error_listeners.remove(callback)
        except ValueError:
            pass

    def _handler_error(self, conn: Connection, name: str, exc: BaseException) -> None:
        for callback in list(self._error_listeners):
            try:
                callback(conn, name, exc)
            except Exception:
                logger.exception('[%s] error listener %r raised', conn.id, callback)

    def _connection_closed(self, conn: Connection) -> None:
        with self._lock:
            if conn.id in self._connections:
                self._closed[conn.id] = conn

    def _connection_finished(self, conn: Connection) -> None:
        with self._lock:
            self._connections.pop(conn.id, None)
            self._closed.pop(conn.id, None)
            stuck = self._stuck.pop(conn.id, None)
        if stuck is not None:
            logger.info('[%s] the handler that was still running after the connection closed '
                        'has returned', conn.id)
        logger.debug('[%s] finished (close code %s)', conn.id, conn.close_code)

    def _housekeeping(self, now: float) -> None:
        """Find handlers still running ``stuck_handler_timeout`` after their
        connection closed (called on the I/O thread twice a second)."""
        if not self._closed:
            return
        late = []
        with self._lock:
            for conn_id, conn in list(self._closed.items()):
                if conn.closed_at is not None and now - conn.closed_at > self.stuck_handler_timeout:
                    del self._closed[conn_id]
                    if self._connections.pop(conn_id, None) is not None:
                        self._stuck[conn_id] = conn
                        late.append(conn)
        if late:
            # Formatting stacks takes time: not on the I/O thread.
            threading.Thread(target=self._report_stuck, args=(late,), daemon=True,
                             name='relaysync-report').start()

    def _report_stuck(self, late: List[Connection]) -> None:
        frames = sys._current_frames()
        for conn in late:
            logger.warning('[%s] the %s handler is still running %g s after its connection '
                           'closed (path %s); it no longer counts against max_connections. '
                           'It is at:\n%s', conn.id, conn.running_handler or '?',
                           self.stuck_handler_timeout, handshake.escape(conn.path),
                           (conn.stack(frames) or '(no stack)').rstrip())

    def _make_reactor(self, ssl_context: Optional[ssl.SSLContext] = None) -> Reactor:
        """A new I/O loop with this server's limits and request handler.

        Used for the standalone server and for sockets adopted from a WSGI host.

        Args:
            ssl_context: wrap accepted sockets in TLS (standalone only).

        Returns:
            The ``relaysync.reactor.Reactor`` (not running yet).
        """
        return Reactor(self._io_limits, self._handle_http, on_tick=self._housekeeping,
                       ssl_context=ssl_context)

    def _embedded_reactor(self) -> Reactor:
        """The I/O thread serving this server's sockets adopted from a WSGI host.

        Started on first use in each process (so after gunicorn forks).  Used by
        :mod:`relaysync.wsgi`.

        Returns:
            The process's ``relaysync.reactor.Reactor``.

        Raises:
            relaysync.handshake.HandshakeError: 503 once :meth:`stop` has begun.
        """
        with self._lock:
            if self._stopping:
                raise handshake.HandshakeError(503, 'server is shutting down')
            if self._embedded is None:
                from .wsgi import EmbeddedIO
                self._embedded = EmbeddedIO()
                EMBEDDED_SERVERS.add(self)
            reactor: Reactor = self._embedded.get(self)
            return reactor

    def wsgi_app(self, app: Any = None) -> Any:
        """Serve this server's workflows from a WSGI app.

        Same as ``relaysync.wsgi.mount(app, self)``; see :func:`relaysync.wsgi.mount`.

        Args:
            app: a Flask app, any WSGI callable, or None (default) for a WSGI app
                serving only the workflows and the health check.

        Returns:
            What to serve: the Flask app itself (its ``wsgi_app`` wrapped in
            place), or a :class:`~relaysync.wsgi.WorkflowMiddleware`.
        """
        from .wsgi import mount
        return mount(app, self)

    def at_capacity(self) -> bool:
        """Whether ``max_connections`` instances are running (new ones get 503).

        Returns:
            True at or over the limit.
        """
        return len(self._connections) >= self.max_connections

    def health(self) -> Dict[str, Any]:
        """The health-check document served on the health paths.

        Returns:
            ``{'status': 'ok' | 'stopping', 'version': __version__, 'connections': N,
            'stuck_handlers': M}``: ``connections`` counts running instances
            (what ``max_connections`` limits), ``stuck_handlers`` the handlers
            still running ``stuck_handler_timeout`` after their connection closed.
        """
        return {'status': 'stopping' if self._stopping else 'ok', 'version': __version__,
                'connections': self.total_connections(), 'stuck_handlers': len(self._stuck)}

    def _handle_http(self, channel: Channel, request: handshake.Request, rest: bytes) -> None:
        """Answer one parsed HTTP request (called on the I/O thread).

        Health checks get JSON, WebSocket upgrades on registered paths become
        workflow instances, and everything else an HTTP error.

        Args:
            channel: the connection's channel.
            request: the parsed request.
            rest: bytes received after the request head.

        Raises:
            relaysync.handshake.HandshakeError: the request is refused (the
                caller answers with its status).
        """
        path = handshake.normalize_path(request.path)
        if not handshake.is_upgrade(request):
            if request.method in ('GET', 'HEAD') and path in self.health_paths:
                status = 503 if self._stopping else 200
                channel.write_raw(handshake.json_response(status, self.health(),
                                                          head_only=request.method == 'HEAD'),
                                  then_finish=True)
                return
            if path in self._workflows:
                raise handshake.HandshakeError(426, 'this path accepts WebSocket connections only',
                                               {'Upgrade': 'websocket'})
            if request.method not in ('GET', 'HEAD'):
                raise handshake.HandshakeError(405, f'{request.method} not allowed',
                                               {'Allow': 'GET'})
            raise handshake.HandshakeError(404, f'no workflow at {request.path}')
        key = handshake.check_upgrade(request)
        workflow = self._workflows.get(path)
        if workflow is None:
            logger.info('refused a connection to unknown path %s', handshake.escape(request.path))
            raise handshake.HandshakeError(404, f'no workflow at {request.path}', logged=True)
        client = handshake.describe_client(channel.peer, request.headers)
        channel.upgrade(key, self._admit(workflow, channel, path, client), rest)

    # ------------------------------------------------------------ running
    def _bind(self) -> socket.socket:
        sock = None
        try:
            infos = socket.getaddrinfo(self.host or None, self._requested_port,
                                       type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, stype, proto, _, address = infos[0]
            sock = socket.socket(family, stype, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1024)
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise ServerException(f'cannot listen on {self.host}:{self._requested_port}: '
                                  f'{exc}') from None
        return sock

    def _prepare(self) -> Reactor:
        with self._lock:
            if self._stopping:
                raise ServerException('this server was stopped; create a new Server to '
                                      'serve again')
            if self._reactor is not None:
                raise ServerException('server already started')
            sock = self._bind()    # first: a port in use leaves no reactor behind
            reactor = self._make_reactor(self.ssl_context)
            self.port = sock.getsockname()[1]
            reactor.add_listener(sock)
            self._reactor = reactor
        mode = f'ssl_context {self.ssl_context!r}' if self.ssl_context else 'plaintext'
        logger.info('Relay workflow server (%s) listening on %s port %d with %s',
                    SERVER_NAME, self.host, self.port, mode)
        return reactor

    def _serve(self, reactor: Reactor) -> None:
        self._started.set()
        try:
            reactor.run()
        finally:
            self._stopped.set()
            logger.info('Relay workflow server on port %d stopped', self.port)

    def start(self) -> None:
        """Listen and serve on the calling thread until stopped.

        Logs ``Relay workflow server (relaysync/<version>) listening on <host> port
        <port> with plaintext`` (or ``with ssl_context ...``) once the socket is
        bound.  SIGTERM (when called on the main thread) or :meth:`stop` from
        another thread drains the running instances (see :meth:`stop`) and
        makes it return; Ctrl-C (``KeyboardInterrupt``) returns at once, closing
        every connection with code 1001.

        Raises:
            ServerException: the port cannot be bound, the server already
                started, or it was stopped (a server serves once); or it was
                called while pytest imports a module, where it would block the
                test run forever.
        """
        if 'pytest' in sys.modules and _importing():
            raise ServerException(
                'Server.start() was called while a module was being imported under pytest, '
                'where it would block forever: put it under "if __name__ == \'__main__\':" '
                '(the relay_simulator fixture serves the workflow itself)')
        reactor = self._prepare()
        restore = self._install_signal_handlers()
        try:
            self._serve(reactor)
        except KeyboardInterrupt:
            running = len(self._connections)
            if running:
                logger.warning('interrupted: closed %d running workflow instance(s) with 1001',
                               running)
            logger.info('interrupted: server stopped')
        finally:
            restore()

    def start_in_background(self, handle_sigterm: bool = True) -> 'Server':
        """Listen, then serve on a daemon thread; returns once listening.

        Read the bound port from :attr:`port` (useful with port 0) and end with
        :meth:`stop`.  The server is also a context manager whose exit stops it
        without draining: ``with Server('127.0.0.1', 0).start_in_background() as s: ...``.

        Args:
            handle_sigterm: when called on the main thread and SIGTERM still has
                its default action, SIGTERM drains the server (see :meth:`stop`)
                and then ends the program as SIGTERM would have (``SystemExit``
                with status 143, raised in the main thread).  False leaves
                SIGTERM alone.

        Returns:
            The server itself.

        Raises:
            ServerException: the port cannot be bound, the server already
                started, or it was stopped (a server serves once).
        """
        reactor = self._prepare()
        thread = threading.Thread(target=self._serve, args=(reactor,), daemon=True,
                                  name=f'relaysync-io-{self.port}')
        reactor.thread = thread
        thread.start()
        self._started.wait(5)
        if handle_sigterm:
            self._restore_signals = self._install_signal_handlers(then_exit=True)
        return self

    def _install_signal_handlers(self, then_exit: bool = False) -> Callable[[], None]:
        """Make SIGTERM drain (main thread only); returns what restores the old handler.

        ``then_exit`` (for :meth:`start_in_background`): only replaces the default
        action, and once drained raises ``SystemExit(143)`` in the main thread.
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGTERM)
        if then_exit and previous is not signal.SIG_DFL:
            return lambda: None   # the application handles SIGTERM itself

        def drain_then_exit() -> None:
            self.stop()
            os.kill(os.getpid(), signal.SIGTERM)   # back in on_sigterm, drained

        def on_sigterm(signum: int, frame: Any) -> None:
            if then_exit and self._stop_done.is_set():
                raise SystemExit(128 + signum)
            if self._stopping:
                logger.info('SIGTERM: already stopping')
                return
            logger.info('SIGTERM: draining for up to %g s', self.drain_timeout)
            threading.Thread(target=drain_then_exit if then_exit else self.stop, daemon=True,
                             name='relaysync-stop').start()

        try:
            signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:  # pragma: no cover - not the main interpreter
            return lambda: None

        def restore() -> None:
            if (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(signal.SIGTERM) is on_sigterm):
                signal.signal(signal.SIGTERM, previous)
        return restore

    def stop(self, drain_timeout: Optional[float] = None) -> None:
        """Stop gracefully.

        Refuses new instances (upgrade requests get 503, health checks report
        ``stopping``), lets running instances finish for up to ``drain_timeout``
        seconds, then closes the rest with close code 1001 (logging how many) and
        stops the I/O thread.  Works standalone and embedded, from any thread,
        also from a handler (whose own instance is not waited for).  A second
        call, concurrent or later, returns when the first has finished.  A
        stopped server cannot be started again.

        Args:
            drain_timeout: seconds to let instances finish (default: the server's
                ``drain_timeout`` option; 0 closes them at once).
        """
        own = current_connection()
        with self._lock:
            first = not self._stopping
            self._stopping = True
            if own is not None:
                self._stopping_from.add(own)   # the drain must not wait for this instance
        if not first:
            self._stop_done.wait()   # the first call's work is bounded
            return
        try:
            self._stop(self.drain_timeout if drain_timeout is None else drain_timeout)
        finally:
            self._stop_done.set()
            self._restore_signals()   # effective when called on the main thread

    def _stop(self, wait: float) -> None:
        reactor = self._reactor
        if reactor is None and self._embedded is not None:
            current, pid = self._embedded.current()
            reactor = current if pid == os.getpid() else None
        # Instances whose handler called stop(): the drain does not wait for them.
        waiting = self._stopping_from

        def running() -> List[Connection]:
            return [c for c in list(self._connections.values()) if c not in waiting]

        had_instances = bool(running())
        # While draining, the listener stays open: upgrades get 503 and the
        # health check reports "stopping" (503), so load balancers move on.
        deadline = time.monotonic() + max(0.0, wait)
        while running() and time.monotonic() < deadline:
            time.sleep(0.05)
        if reactor is not None:
            reactor.call_soon(reactor.stop_listening)
        remaining = running()
        if remaining:
            logger.warning('shutting down: closing %d running workflow instance(s) with 1001',
                           len(remaining))
        elif wait > 0 and had_instances:
            logger.info('shutting down: every workflow instance finished')
        for conn in remaining + list(waiting):
            conn.close(1001, 'server shutting down')
        if remaining and reactor is not None:
            # Give the peers a moment to answer the close frames.
            close_deadline = time.monotonic() + reactor.close_timeout + 0.5
            while reactor.socket_count() and time.monotonic() < close_deadline:
                time.sleep(0.02)
        if reactor is not None:
            reactor.shutdown()
        if self._reactor is not None:
            self._stopped.wait(10)
        else:
            self._stopped.set()

    def __enter__(self) -> 'Server':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop(drain_timeout=0)

    def __repr__(self) -> str:
        return f'<Server {self.host}:{self.port} paths={sorted(self._workflows)}>'
