"""Serve workflows from a WSGI application (Flask, Django, any WSGI app) and gunicorn.

One call mounts every workflow registered on a :class:`~relaysync.Server` into an
existing app::

    server = relaysync.Server()              # host and port are not used here
    server.register(wf, '/hellopath')
    app = relaysync.wsgi.mount(flask_app, server)    # or any WSGI callable

Requests for a registered path that ask for a WebSocket upgrade become workflow
instances, and a plain HTTP request for such a path gets ``426 Upgrade
Required``; everything else goes to the wrapped app unchanged.  The server's
health paths are the app's first: where the app answers 404 for one (or there
is no app), the middleware answers with the server's health JSON instead.

How a session runs: the WSGI request thread validates the upgrade, writes the
``101`` response, hands the socket to the process's relaysync I/O thread (the
same selector loop the standalone server uses) and then *becomes the
instance's worker*: it runs the handlers until the connection closes.  So an
instance costs one host thread, and nothing else per connection.  When it ends,
the socket is shut down and the WSGI call ends by raising the exception the host
treats as "client gone" (``StopIteration`` for gunicorn, ``ConnectionError``
for Werkzeug), so no HTTP bytes are ever written onto the WebSocket.

Supported hosts: gunicorn's ``gthread`` workers and Werkzeug (the Flask
development server) -- those that expose the connection's socket in the
environ.  Under gunicorn, capacity is workers × threads concurrent instances,
less the threads kept free for the app and health checks (see
:func:`configure_host`, which :mod:`relaysync.gunicorn_conf` calls).
"""

import json
import logging
import os
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from . import handshake
from .reactor import Channel, Reactor

logger = logging.getLogger('relaysync.wsgi')

WSGIApp = Callable[[Dict[str, Any], Callable[..., Any]], Iterable[bytes]]
"""The type of a WSGI application: ``app(environ, start_response)``."""

_host: Dict[str, Optional[float]] = {'threads': None, 'graceful_timeout': None}


def configure_host(threads: Optional[int] = None,
                   graceful_timeout: Optional[float] = None) -> None:
    """Tell relaysync about this process's WSGI host (gunicorn: done by
    :func:`relaysync.gunicorn_conf.post_worker_init`).

    Args:
        threads: the host's request threads in this process.  Each instance
            holds one for its whole life, so instances beyond ``threads`` less
            a reserve of ``max(1, threads // 10)`` get ``503``: the app and the
            health checks always have a thread.  None: no limit but
            ``max_connections``.
        graceful_timeout: the seconds the host gives this process to exit
            after SIGTERM.  A server whose ``drain_timeout`` plus the closing
            handshake does not fit is warned about when it first serves here.
    """
    _host['threads'] = threads
    _host['graceful_timeout'] = graceful_timeout


def host_instance_limit() -> Optional[int]:
    """The most instances this process's WSGI host can run (see :func:`configure_host`).

    Returns:
        The limit, or None when the host's threads are not known.
    """
    threads = _host['threads']
    if not threads:
        return None
    return max(1, int(threads) - max(1, int(threads) // 10))


def _request_from_environ(environ: Dict[str, Any]) -> handshake.Request:
    headers = {}
    for key, value in environ.items():
        if key.startswith('HTTP_'):
            headers[key[5:].replace('_', '-').lower()] = value
    return handshake.Request(environ.get('REQUEST_METHOD', 'GET').upper(),
                             environ.get('PATH_INFO', '') or '/',
                             environ.get('QUERY_STRING', ''), headers)


def _plain_response(start_response: Callable[..., Any], status: int, body: bytes,
                    content_type: str = 'text/plain; charset=utf-8',
                    headers: Optional[Dict[str, str]] = None) -> List[bytes]:
    out = [('Content-Type', content_type), ('Content-Length', str(len(body)))]
    out.extend((headers or {}).items())
    start_response(f'{status} {handshake.reason(status)}', out)
    return [body]


def _health_response(server: Any, start_response: Callable[..., Any]) -> List[bytes]:
    status = 503 if server.stopping else 200
    return _plain_response(start_response, status, json.dumps(server.health()).encode(),
                           'application/json')


class _Response:
    """The app's response, started: its status is known, its body not yet sent.

    Holds what the app wrote before its status line, and forwards ``close()``
    as WSGI requires.
    """

    def __init__(self, result: Iterable[bytes], first: List[bytes],
                 rest: Iterator[bytes]) -> None:
        self._result = result
        self._first = first
        self._rest = rest

    def __iter__(self) -> Iterator[bytes]:
        yield from self._first
        yield from self._rest

    def close(self) -> None:
        close = getattr(self._result, 'close', None)
        if close is not None:
            close()


def _app_or_health(app: WSGIApp, server: Any, environ: Dict[str, Any],
                   start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Run ``app`` for a health path; answer the health JSON if the app says 404."""
    seen: Dict[str, Any] = {}

    def capture(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        seen['args'] = (status, headers, exc_info)
        return lambda data: seen.setdefault('written', []).append(data)

    result = app(environ, capture)
    first: List[bytes] = []
    rest = iter(result)
    try:
        while 'args' not in seen:       # an app may start its response lazily
            first.append(next(rest))
    except StopIteration:
        pass
    except BaseException:
        _Response(result, [], rest).close()
        raise
    status, headers, exc_info = seen.get('args', ('500 Internal Server Error', [], None))
    if status.startswith('404'):
        _Response(result, [], rest).close()
        return _health_response(server, start_response)
    write = start_response(status, headers, exc_info)
    for data in seen.get('written', []):
        write(data)
    return _Response(result, first, rest)


class WorkflowMiddleware:
    """A WSGI app serving ``server``'s workflows and passing the rest to ``app``.

    Args:
        server: the :class:`~relaysync.Server` holding the registrations,
            timeouts and limits (it is not started; its host and port are unused).
        app: the WSGI app for every other request.  Without one, the server's
            health paths answer ``200`` JSON and anything else ``404``.
    """

    def __init__(self, server: Any, app: Optional[WSGIApp] = None) -> None:
        self.server = server
        self.app = app

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = _request_from_environ(environ)
        path = handshake.normalize_path(request.path)
        workflow = self.server.workflow_for(path)
        if workflow is not None and handshake.is_upgrade(request):
            return self._session(environ, start_response, request, workflow, path)
        if workflow is not None:
            return _plain_response(start_response, 426,
                                   b'this path accepts WebSocket connections only\n',
                                   headers={'Upgrade': 'websocket'})
        health = request.method in ('GET', 'HEAD') and path in self.server.health_paths
        if self.app is not None:
            if health:
                return _app_or_health(self.app, self.server, environ, start_response)
            return self.app(environ, start_response)
        if health:
            return _health_response(self.server, start_response)
        return _plain_response(start_response, 404, f'no workflow at {request.path}\n'.encode())

    def _session(self, environ: Dict[str, Any], start_response: Callable[..., Any],
                 request: handshake.Request, workflow: Any, path: str) -> Any:
        server = self.server
        sock = environ.get('gunicorn.socket') or environ.get('werkzeug.socket')
        if sock is None:
            return _plain_response(start_response, 500,
                                   b'this WSGI server does not expose its sockets\n')
        try:
            key = handshake.check_upgrade(request)
            reactor = server._embedded_reactor()
            channel = Channel(reactor, sock, environ.get('REMOTE_ADDR'), adopted=True)
            client = handshake.describe_client(
                f"{environ.get('REMOTE_ADDR', '?')}:{environ.get('REMOTE_PORT', '?')}",
                request.headers)
            conn = server._admit(workflow, channel, path, client, own_worker=False,
                                 limit=host_instance_limit())
        except handshake.HandshakeError as exc:
            if not exc.logged:
                logger.info('refused an upgrade at %s: %d %s', handshake.escape(path), exc.status,
                            handshake.escape(exc.message))
            return _plain_response(start_response, exc.status, (exc.message + '\n').encode(),
                                   headers=exc.headers)
        channel.attach(conn)
        try:
            sock.sendall(handshake.upgrade_response(key))
        except OSError as exc:
            logger.info('peer left during the upgrade at %s: %s', handshake.escape(path), exc)
            channel.abort(1006, 'peer left during the upgrade')
            conn.run_worker()    # returns at once: the connection is closed
            raise ConnectionError('peer left during the upgrade') from None
        reactor.adopt_soon(channel)   # aborted instead if the I/O thread has stopped
        try:
            conn.run_worker()          # the handlers run here, on the request thread
        finally:
            channel.close(1000, '')    # no-op unless the worker ended first
            if not channel.finished.wait(reactor.close_timeout + 1.0):
                # The host closes the socket when this call returns: it must not
                # stay registered with the I/O thread.
                reactor.call_soon(lambda: channel.abort(1006, 'the request ended'))
                channel.finished.wait(1.0)
        # End the WSGI call without writing an HTTP response on the WebSocket.
        if 'gunicorn.socket' in environ:
            raise StopIteration()
        raise ConnectionError('WebSocket session finished')


def mount(app: Any, server: Any) -> Any:
    """Serve ``server``'s workflows from ``app``.

    * A Flask app (anything with a ``wsgi_app`` attribute): its ``wsgi_app``
      is wrapped in place and the app itself is returned, so ``app.run()`` and
      ``gunicorn module:app`` keep working.  Workflow requests never reach
      Flask's router, so no route (and no ``websocket=True``) is needed.
    * Any other WSGI callable (Django's ``get_wsgi_application()``, ...): the
      returned :class:`WorkflowMiddleware` wraps it.
    * None: a WSGI app that serves only the workflows and the health check.

    Args:
        app: the WSGI application, a Flask app, or None.
        server: the :class:`~relaysync.Server` holding the registrations and
            options; it is not started, and its host and port are not used.

    Returns:
        What to serve: ``app`` itself for a Flask app, else a
        :class:`WorkflowMiddleware`.
    """
    if app is not None and hasattr(app, 'wsgi_app'):
        app.wsgi_app = WorkflowMiddleware(server, app.wsgi_app)
        return app
    return WorkflowMiddleware(server, app)


class EmbeddedIO:
    """The relaysync I/O thread of one process, for sockets adopted from a WSGI host.

    Created on first use *in the process that serves* (after gunicorn's fork),
    re-created if the process has forked since.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reactor: Optional[Reactor] = None
        self._pid = 0

    def get(self, server: Any) -> Reactor:
        """The running I/O thread's reactor, started (or restarted after a fork) if needed.

        Args:
            server: the server whose limits (message size, timeouts, pings) apply.

        Returns:
            The ``relaysync.reactor.Reactor``.
        """
        with self._lock:
            if self._reactor is None or self._pid != os.getpid() or not self._running():
                graceful = _host['graceful_timeout']
                budget = server.drain_timeout + server._io_limits.close_timeout + 1.0
                if graceful is not None and budget >= graceful:
                    logger.warning('drain_timeout (%g s) plus the closing handshake does not fit '
                                   'in the host\'s graceful timeout (%g s): instances still '
                                   'running at shutdown will be cut off without a close frame',
                                   server.drain_timeout, graceful)
                reactor = server._make_reactor()
                thread = threading.Thread(target=reactor.run, daemon=True,
                                          name='relaysync-io-embedded')
                reactor.thread = thread
                thread.start()
                self._reactor, self._pid = reactor, os.getpid()
            return self._reactor

    def _running(self) -> bool:
        thread = self._reactor.thread if self._reactor else None
        return bool(thread and thread.is_alive())

    def current(self) -> Tuple[Optional[Reactor], int]:
        """The reactor last started and the id of the process that started it.

        Returns:
            ``(reactor or None, pid)``.
        """
        return self._reactor, self._pid
