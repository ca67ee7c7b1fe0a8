"""``Server``: the standalone threaded workflow server.

A :class:`Server` maps request paths to :class:`~relaysync.Workflow` objects and
serves them.  Its I/O thread (see :mod:`relaysync.reactor`) owns every socket;
each accepted Relay connection becomes a :class:`~relaysync.connection.Connection`
whose handlers run on a worker thread of its own.
"""

import logging
import os
import signal
import weakref
import socket
import ssl
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from . import handshake
from .connection import Connection
from .exceptions import ServerException
from .reactor import Channel, Reactor
from .timeouts import Timeouts
from .version import SERVER_NAME, __version__

logger = logging.getLogger('relaysync.server')
package_logger = logging.getLogger('relaysync')

#: Default largest inbound message (bytes).  Speech events with
#: ``transcribe=False`` carry audio, so several MiB are allowed.
DEFAULT_MAX_MESSAGE_SIZE = 8 * 1024 * 1024

_OPTIONS = {
    'log_level': None,
    'log_handler': None,
    'ssl_key_filename': None,
    'ssl_cert_filename': None,
    'timeouts': None,
    'max_message_size': DEFAULT_MAX_MESSAGE_SIZE,
    'max_connections': 4096,
    'handshake_timeout': 10.0,
    'ping_interval': 20.0,
    'ping_timeout': 20.0,
    'drain_timeout': 10.0,
    'health_paths': ('/', '/health', '/healthz'),
}


class FallbackHandler(logging.StreamHandler):
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
        **kwargs: the keyword options below, all optional.  relay-py's four
            options (``log_level``, ``log_handler``, ``ssl_key_filename``,
            ``ssl_cert_filename``) keep their meaning.

    Keyword Args:
        log_level (int): level of the ``relaysync`` logger, e.g. ``logging.INFO``
            (default: leave it alone).  See :func:`configure_logging`.
        log_handler (logging.Handler): a handler added to the ``relaysync``
            logger (default: none).
        ssl_key_filename (str): PEM private key file; together with
            ``ssl_cert_filename`` it turns on TLS (default: plaintext).
        ssl_cert_filename (str): PEM certificate (chain) file.
        timeouts (Timeouts): the :class:`~relaysync.Timeouts` every instance
            starts with (default ``Timeouts()``).
        max_message_size (int): largest inbound message in bytes (default
            8 MiB); a larger one closes the connection with code 1009.
        max_connections (int): most concurrent workflow instances (default
            4096); further upgrade requests get ``503 Service Unavailable``.
        handshake_timeout (float): seconds a client has to finish the TLS and
            HTTP handshakes (default 10).
        ping_interval (float | None): seconds of silence before a keepalive
            ping (default 20; None turns keepalive off).
        ping_timeout (float): seconds to wait for the pong before dropping the
            peer (default 20).
        drain_timeout (float): on :meth:`stop` or SIGTERM, seconds running
            instances get to finish before they are closed with code 1001
            (default 10; 0 closes them at once).
        health_paths (tuple[str, ...]): paths answered ``200`` with a JSON
            status (:meth:`health`) to a plain HTTP GET (default ``/``,
            ``/health``, ``/healthz``).

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

    def __init__(self, host: str = '0.0.0.0', port: Any = 8080, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(_OPTIONS)
        if unknown:
            raise TypeError(f'Server() got unexpected keyword argument(s): '
                            f'{", ".join(sorted(unknown))}')
        opts = dict(_OPTIONS, **kwargs)
        self.host = host
        try:
            self._requested_port = int(port)
        except (TypeError, ValueError):
            raise ServerException(f'port must be an integer, got {port!r}') from None
        if not 0 <= self._requested_port <= 65535:
            raise ServerException(f'port out of range: {self._requested_port}')
        configure_logging(opts['log_level'], opts['log_handler'])
        timeouts = opts['timeouts']
        if timeouts is not None and not isinstance(timeouts, Timeouts):
            raise ServerException(f'timeouts must be a relaysync.Timeouts, got {timeouts!r}')
        self.timeouts = timeouts or Timeouts()
        self.max_message_size = int(_number('max_message_size', opts['max_message_size']))
        self.max_connections = int(_number('max_connections', opts['max_connections']))
        self.max_sockets = self.max_connections + 256
        self.handshake_timeout = _number('handshake_timeout', opts['handshake_timeout'])
        self.ping_interval = _number('ping_interval', opts['ping_interval'], allow_none=True)
        self.ping_timeout = _number('ping_timeout', opts['ping_timeout'])
        self.drain_timeout = _number('drain_timeout', opts['drain_timeout'], minimum=-1)
        self.health_paths = tuple(handshake.normalize_path(p) for p in opts['health_paths'])
        self.ssl_context = self._make_ssl_context(opts['ssl_key_filename'],
                                                  opts['ssl_cert_filename'])
        self._workflows: Dict[str, Any] = {}
        self._connections: Dict[str, Connection] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._reactor: Optional[Reactor] = None
        self._listener: Optional[socket.socket] = None
        self._started = threading.Event()
        self._stopped = threading.Event()
        self._stopping = False
        self._embedded: Any = None   # relaysync.wsgi.EmbeddedIO, once embedded
        self._error_listeners: List[Callable[[Connection, str, BaseException], None]] = []
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

    def new_connection(self, workflow: Any, transport: Any, path: str,
                       own_worker: bool = True) -> Connection:
        """Create and track the engine of a new connection.

        Used by the transports (the standalone server, WSGI embedding); an
        application does not call it.

        Args:
            workflow: the workflow to run.
            transport: the connection's transport (``send_text``, ``close``).
            path: the request path.
            own_worker: True starts a worker thread for the handlers; False
                leaves it to the caller (the WSGI request thread).

        Returns:
            The new ``relaysync.connection.Connection``.
        """
        with self._lock:
            self._counter += 1
            conn_id = f'c{self._counter}'
        conn = Connection(workflow, transport, conn_id, self.timeouts, path,
                          on_finished=self._connection_finished, own_worker=own_worker,
                          on_handler_error=self._handler_error)
        self._connections[conn_id] = conn
        logger.debug('[%s] connected at %s', conn_id, path)
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

    def _connection_finished(self, conn: Connection) -> None:
        self._connections.pop(conn.id, None)
        logger.debug('[%s] finished (close code %s)', conn.id, conn.close_code)

    def embedded_reactor(self) -> Reactor:
        """The I/O thread serving this server's sockets adopted from a WSGI host.

        Started on first use in each process (so after gunicorn forks).  Used by
        :mod:`relaysync.wsgi`.

        Returns:
            The process's ``relaysync.reactor.Reactor``.
        """
        if self._embedded is None:
            from .wsgi import EmbeddedIO
            with self._lock:
                if self._embedded is None:
                    self._embedded = EmbeddedIO()
                    EMBEDDED_SERVERS.add(self)
        return self._embedded.get(self)

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
            ``{'status': 'ok' | 'stopping', 'version': __version__, 'connections': N}``.
        """
        return {'status': 'stopping' if self._stopping else 'ok', 'version': __version__,
                'connections': self.total_connections()}

    def handle_http(self, channel: Channel, request: handshake.Request, rest: bytes) -> None:
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
            logger.warning('refused a connection to unknown path %.200s', request.path)
            raise handshake.HandshakeError(404, f'no workflow at {request.path}')
        if self._stopping:
            raise handshake.HandshakeError(503, 'server is shutting down')
        if self.at_capacity():
            logger.warning('refused a connection to %s: %d connections (max_connections)',
                           path, len(self._connections))
            raise handshake.HandshakeError(503, 'too many connections', {'Retry-After': '5'})
        conn = self.new_connection(workflow, channel, path)
        channel.upgrade(key, conn, rest)

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
        if self._reactor is not None:
            raise ServerException('server already started')
        sock = self._bind()    # first: a port in use leaves no reactor behind
        reactor = Reactor(self, max_message_size=self.max_message_size,
                          handshake_timeout=self.handshake_timeout,
                          ping_interval=self.ping_interval, ping_timeout=self.ping_timeout)
        reactor.ssl_context = self.ssl_context
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
            ServerException: the port cannot be bound, or the server already started.
        """
        reactor = self._prepare()
        restore = self._install_signal_handlers()
        try:
            self._serve(reactor)
        except KeyboardInterrupt:
            logger.info('interrupted: server stopped')
        finally:
            restore()

    def start_in_background(self) -> 'Server':
        """Listen, then serve on a daemon thread; returns once listening.

        Read the bound port from :attr:`port` (useful with port 0) and end with
        :meth:`stop`.  The server is also a context manager whose exit stops it
        without draining: ``with Server('127.0.0.1', 0).start_in_background() as s: ...``.

        Returns:
            The server itself.

        Raises:
            ServerException: the port cannot be bound, or the server already started.
        """
        reactor = self._prepare()
        thread = threading.Thread(target=self._serve, args=(reactor,), daemon=True,
                                  name=f'relaysync-io-{self.port}')
        reactor.thread = thread
        thread.start()
        self._started.wait(5)
        return self

    def _install_signal_handlers(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: Any) -> None:
            logger.info('SIGTERM: draining for up to %g s', self.drain_timeout)
            threading.Thread(target=self.stop, daemon=True, name='relaysync-stop').start()

        try:
            signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:  # pragma: no cover - not the main interpreter
            return lambda: None
        return lambda: signal.signal(signal.SIGTERM, previous)

    def stop(self, drain_timeout: Optional[float] = None) -> None:
        """Stop gracefully.

        Refuses new instances (upgrade requests get 503, health checks report
        ``stopping``), lets running instances finish for up to ``drain_timeout``
        seconds, then closes the rest with close code 1001 (logging how many) and
        stops the I/O thread.  Works standalone and embedded, from any thread;
        calling it again waits for the first call's work.

        Args:
            drain_timeout: seconds to let instances finish (default: the server's
                ``drain_timeout`` option; 0 closes them at once).
        """
        with self._lock:
            already = self._stopping
            self._stopping = True
        if already:
            self._stopped.wait(30)
            return
        reactor = self._reactor
        if reactor is None and self._embedded is not None:
            current, pid = self._embedded.current()
            reactor = current if pid == os.getpid() else None
        wait = self.drain_timeout if drain_timeout is None else drain_timeout
        # While draining, the listener stays open: upgrades get 503 and the
        # health check reports "stopping" (503), so load balancers move on.
        deadline = time.monotonic() + max(0.0, wait)
        while self._connections and time.monotonic() < deadline:
            time.sleep(0.05)
        if reactor is not None:
            reactor.call_soon(reactor.stop_listening)
        remaining = list(self._connections.values())
        if remaining:
            logger.warning('shutting down: closing %d running workflow instance(s) with 1001',
                           len(remaining))
            for conn in remaining:
                conn.close(1001, 'server shutting down')
            if reactor is not None:
                # Give the peers a moment to answer the close frames.
                close_deadline = time.monotonic() + reactor.close_timeout + 0.5
                while reactor.socket_count() and time.monotonic() < close_deadline:
                    time.sleep(0.02)
        elif wait > 0:
            logger.info('shutting down: every workflow instance finished')
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
