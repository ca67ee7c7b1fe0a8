"""``UiServer``: serves the simulator page on 127.0.0.1 and streams the simulation to it.

* ``GET /`` is the page; ``GET /static/NAME`` its files (HTML, CSS, JavaScript
  modules, SVG shipped in the package: no build step, nothing fetched from
  elsewhere, so it works offline).
* ``GET /api/events`` is a server-sent event stream: on each connection a
  ``reset`` (with the session id), every transcript entry so far
  (``entries``), the wire messages (``messages``) and the ``state``; then each
  new ``entry``, new ``messages`` and every changed ``state`` as they happen;
  ``bye`` when the simulator stops.  The page's ``EventSource`` reconnects by
  itself, so a page left open follows a simulator restarted on the same port.
* ``POST /api/command`` carries out one command (see
  :class:`~relaysync.simulator.ui.commands.Commands`) and answers
  ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}`` (400).
* ``GET /api/state`` is the current state as JSON.

Only 127.0.0.1 is served.  Requests whose ``Host`` is not this server (DNS
rebinding) are refused, and so are commands from another origin or not sent
as JSON, so no other web page can drive the simulator.
"""

import json
import logging
import os
import queue
import re
import sys
import threading
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable, Dict, List, Optional

from ..transcript import Entry
from .commands import CommandError, Commands
from .state import dumps, entry_json, message_json, snapshot

logger = logging.getLogger('relaysync.simulator.ui')

#: Transcript entries and wire messages replayed to a page that (re)connects.
REPLAY_ENTRIES = 4000
REPLAY_MESSAGES = 2000
#: Real seconds between state refreshes while a page is connected (besides
#: the refresh after every transcript entry).
REFRESH = 0.5
KEEPALIVE = 15.0
MAX_COMMAND = 64 * 1024
CLIENT_QUEUE = 5000

_TYPES = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
          '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png'}
_STATIC_NAME = re.compile(r'^[A-Za-z0-9_-]+\.[a-z]+$')
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'")


class _Client:
    """One connected page: the queue its event stream is written from."""

    def __init__(self) -> None:
        self.queue: 'queue.Queue[Optional[str]]' = queue.Queue(CLIENT_QUEUE)
        self.dropped = False

    def put(self, event: str, data: Any) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(f'event: {event}\ndata: {dumps(data)}\n\n')
        except queue.Full:  # a page that does not read: drop it; it reconnects
            self.dropped = True
            self.queue = queue.Queue(1)
            self.queue.put_nowait(None)


class UiServer:
    """The simulator page for one :class:`~relaysync.simulator.Simulator`.

    Made by :meth:`Simulator.serve_ui <relaysync.simulator.Simulator.serve_ui>`
    (and by ``relaysync simulate --ui``); it starts serving at once, on its
    own threads, and stops with the simulator.

    Args:
        sim: the simulator to show.
        port: the TCP port on 127.0.0.1 (default 0: a free one).  A page left
            open reconnects to a new simulator served on the same port.
        title: what the page calls the workflow (default: the simulator's URL).
        restart: what the page's Restart does, called with the variables runs
            start with (default: stop the live runs and trigger the workflow
            again as the latest run was triggered).
        quit: what the page's Quit does (default None: the page has no Quit).
        start_vars: the variables runs triggered from the page start with
            (default: none; the page edits them).
        runner: a function returning the scenario step runner being played,
            if any (its steps are reported while they wait).

    Attributes:
        url: the page's address, ``http://127.0.0.1:PORT/``.
        port: the port served.
        session: an id the page uses to notice a different simulator.
        start_vars: the variables runs triggered from the page start with.

    Raises:
        OSError: the port cannot be bound (e.g. it is in use).
    """

    def __init__(self, sim: Any, port: int = 0, *, title: Optional[str] = None,
                 restart: Optional[Callable[[Dict[str, str]], Any]] = None,
                 quit: Optional[Callable[[], Any]] = None,
                 start_vars: Optional[Dict[str, str]] = None,
                 runner: Optional[Callable[[], Any]] = None) -> None:
        self.sim = sim
        self.title = title or sim.url
        self.session = os.urandom(8).hex()
        self.start_vars: Dict[str, str] = dict(start_vars or {})
        self._restart = restart
        self._runner = runner or (lambda: None)
        self._trigger_vars: Dict[int, Dict[str, str]] = {}
        self._clients: List[_Client] = []
        self._lock = threading.Lock()
        self._page_seen = threading.Condition(self._lock)
        self._closed = threading.Event()
        self._held = False
        self._released = threading.Event()
        self._restarting = threading.Lock()
        self._scheduled = False
        self._last_state = ''
        self._message_marks: Dict[int, int] = {}
        self._commands = Commands(sim, self.start_vars, self._do_restart, quit,
                                  self._released.set)
        self._quit = quit
        self._httpd = ThreadingHTTPServer(('127.0.0.1', port), _Handler)
        self._httpd.ui = self  # type: ignore[attr-defined]
        self.port: int = self._httpd.server_address[1]
        self.url = f'http://127.0.0.1:{self.port}/'
        self._origins = {f'http://127.0.0.1:{self.port}', f'http://localhost:{self.port}'}
        self._hosts = {f'127.0.0.1:{self.port}', f'localhost:{self.port}'}
        sim.listeners.append(self._on_entry)
        self._threads = [
            threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': 0.2},
                             daemon=True, name='relaysync-sim-ui-http'),
            threading.Thread(target=self._refresh_loop, daemon=True, name='relaysync-sim-ui'),
        ]
        for thread in self._threads:
            thread.start()

    def __repr__(self) -> str:
        return f'<UiServer {self.url} pages={self.pages}>'

    # ------------------------------------------------------------- public
    @property
    def pages(self) -> int:
        """How many pages are connected now."""
        with self._lock:
            return len(self._clients)

    def wait_for_page(self, timeout: Optional[float] = None) -> bool:
        """Block until a page is connected.

        Args:
            timeout: real seconds to wait at most (default None: no limit).

        Returns:
            True when a page is connected; False at the timeout or once closed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._page_seen:
            while not self._clients and not self._closed.is_set():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._page_seen.wait(0.2 if remaining is None else min(remaining, 0.2))
            return bool(self._clients)

    def hold(self, timeout: Optional[float] = None) -> bool:
        """Keep the simulator up until the person presses Continue on the page.

        Used to look at a finished test (``pytest --relay-ui``).  It returns
        early when no page is connected any more (the tab was closed).

        Args:
            timeout: real seconds to wait at most (default None: no limit).

        Returns:
            True when the person pressed Continue; False otherwise.
        """
        self._held = True
        self.refresh()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._closed.is_set():
                if self._released.wait(0.2):
                    return True
                if self.pages == 0 or (deadline is not None and time.monotonic() >= deadline):
                    return False
            return False
        finally:
            self._held = False
            self._released.clear()

    def open_browser(self) -> bool:
        """Open the page in the default web browser, without waiting for it.

        Nothing is opened where no graphical browser can be (a Linux session
        with no display), since a text-mode browser would take over the terminal.

        Returns:
            True when a browser was asked to open the page.
        """
        if sys.platform.startswith('linux') and not (os.environ.get('DISPLAY')
                                                     or os.environ.get('WAYLAND_DISPLAY')):
            return False
        threading.Thread(target=webbrowser.open, args=(self.url,), daemon=True,
                         name='relaysync-sim-ui-browser').start()
        return True

    def refresh(self) -> None:
        """Send the pages the current state (any thread; soon, on the clock thread)."""
        with self._lock:
            if self._scheduled or self._closed.is_set():
                return
            self._scheduled = True
        self.sim.clock.call_soon(self._send_state)

    def close(self) -> None:
        """Stop serving: each page is told (``bye``) and keeps trying to reconnect.

        Idempotent; the simulator calls it when it closes.
        """
        if self._closed.is_set():
            return
        self._closed.set()
        if self._on_entry in self.sim.listeners:
            self.sim.listeners.remove(self._on_entry)
        with self._lock:
            clients, self._clients = self._clients, []
            self._page_seen.notify_all()
        for client in clients:
            client.put('bye', {'session': self.session})
            try:
                client.queue.put_nowait(None)
            except queue.Full:
                pass
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(2.0)

    # ---------------------------------------------------- the event stream
    def _page(self) -> Dict[str, Any]:
        return {'session': self.session, 'title': self.title, 'start_vars': dict(self.start_vars),
                'controls': {'quit': self._quit is not None, 'hold': self._held},
                'pages': len(self._clients)}

    def _broadcast(self, event: str, data: Any) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            client.put(event, data)

    def _on_entry(self, entry: Entry) -> None:  # clock thread
        index = len(self.sim.transcript) - 1
        if entry.kind == 'trigger':
            run = next((r for r in reversed(self.sim.runs) if r.number == entry.run), None)
            if run is not None:
                self._trigger_vars[run.number] = dict(run.vars)
        self._broadcast('entry', entry_json(index, entry))
        self.refresh()

    def _send_state(self) -> None:  # clock thread
        with self._lock:
            self._scheduled = False
            if not self._clients:
                return
        batch = []
        for run in self.sim.runs:
            mark = self._message_marks.get(run.number, 0)
            batch += [message_json(run.number, item) for item in run.messages[mark:]]
            self._message_marks[run.number] = len(run.messages)
        if batch:
            batch.sort(key=lambda m: m['time'])
            self._broadcast('messages', batch)
        text = dumps(snapshot(self.sim, self._page(), self._runner()))
        if text != self._last_state:
            self._last_state = text
            with self._lock:
                clients = list(self._clients)
            for client in clients:
                if not client.dropped:
                    try:
                        client.queue.put_nowait(f'event: state\ndata: {text}\n\n')
                    except queue.Full:
                        client.dropped = True

    def _subscribe(self) -> _Client:
        """A new page: queue its replay and add it, on the clock thread, so
        that no entry is missed or sent twice."""
        client = _Client()

        def join() -> None:
            client.put('reset', {'session': self.session, 'title': self.title})
            start = max(0, len(self.sim.transcript) - REPLAY_ENTRIES)
            client.put('entries', [entry_json(start + i, e)
                                   for i, e in enumerate(self.sim.transcript[start:])])
            messages = []
            for run in self.sim.runs:
                mark = self._message_marks.get(run.number, len(run.messages))
                messages += [message_json(run.number, item) for item in run.messages[:mark]]
            messages.sort(key=lambda m: m['time'])
            client.put('messages', messages[-REPLAY_MESSAGES:])
            with self._lock:
                self._clients.append(client)
                self._page_seen.notify_all()
            client.put('state', snapshot(self.sim, self._page(), self._runner()))
        self.sim.clock.run_sync(join)
        self.refresh()
        return client

    def _unsubscribe(self, client: _Client) -> None:
        with self._lock:
            if client in self._clients:
                self._clients.remove(client)
        if not self._closed.is_set():
            self.refresh()

    def _refresh_loop(self) -> None:
        while not self._closed.wait(REFRESH):
            if self._clients:
                self.refresh()

    # ------------------------------------------------------------ restart
    def _do_restart(self) -> None:
        if not self._restarting.acquire(blocking=False):
            raise CommandError('a restart is already under way')

        def work() -> None:
            try:
                (self._restart or self._restart_runs)(dict(self.start_vars))
            except Exception as exc:  # reported on the page; the simulator carries on
                logger.debug('restart failed: %r', exc)
                text = f'restart failed: {exc}'
                self.sim.clock.call_soon(lambda: self.sim.note('relay', 'error', text))
            finally:
                self._restarting.release()
        threading.Thread(target=work, daemon=True, name='relaysync-sim-ui-restart').start()

    def _restart_runs(self, start_vars: Dict[str, str]) -> None:
        """The default Restart: stop the live runs, trigger again like the latest run."""
        sim = self.sim
        for run in [r for r in sim.runs if not r.done]:
            sim.stop_run(run, 'restarted from the simulator page')
        latest = sim.runs[-1] if sim.runs else None
        if latest is None:
            sim.trigger(None, vars=start_vars)
            return
        device = latest.device if latest.device.name in sim.devices else None
        args = {k: v for k, v in latest.trigger.get('args', {}).items() if k != 'source_uri'}
        variables = dict(self._trigger_vars.get(latest.number, {}), **start_vars)
        sim.trigger(device, type=latest.trigger.get('type', 'button'), vars=variables, **args)

    # --------------------------------------------------------- HTTP checks
    def _allowed_host(self, host: Optional[str]) -> bool:
        """Whether a request's Host header names this server."""
        return host in self._hosts

    def _allowed_origin(self, origin: Optional[str]) -> bool:
        """Whether a command's Origin header (None when absent) is this server."""
        return origin is None or origin in self._origins


class _Handler(BaseHTTPRequestHandler):
    server_version = 'relaysync-simulator'

    @property
    def ui(self) -> UiServer:
        ui: UiServer = self.server.ui  # type: ignore[attr-defined]
        return ui

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug('page request: %r', format % args)

    # ------------------------------------------------------------ replies
    def _reply(self, status: int, body: bytes, content_type: str,
               extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._reply(status, dumps(value).encode('utf-8'), 'application/json')

    def _text(self, status: int, text: str) -> None:
        self._reply(status, (text + '\n').encode('utf-8'), 'text/plain; charset=utf-8')

    def _checked_host(self) -> bool:
        if self.ui._allowed_host(self.headers.get('Host')):
            return True
        self._text(403, 'this page is served for 127.0.0.1 and localhost only')
        return False

    # ------------------------------------------------------------- routes
    def do_GET(self) -> None:
        if not self._checked_host():
            return
        path = self.path.split('?', 1)[0]
        if path in ('/', '/index.html'):
            self._static('index.html')
        elif path.startswith('/static/'):
            self._static(path[len('/static/'):])
        elif path == '/api/events':
            self._events()
        elif path == '/api/state':
            ui = self.ui
            self._json(200, ui.sim.clock.run_sync(
                lambda: snapshot(ui.sim, ui._page(), ui._runner())))
        else:
            self._text(404, 'not found')

    do_HEAD = do_GET

    def _static(self, name: str) -> None:
        kind = _TYPES.get(os.path.splitext(name)[1])
        if not _STATIC_NAME.match(name) or kind is None:
            self._text(404, 'not found')
            return
        try:
            body = resources.files(__package__).joinpath('static').joinpath(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self._text(404, 'not found')
            return
        extra = {'Content-Security-Policy': _CSP, 'X-Frame-Options': 'DENY'} \
            if name.endswith('.html') else {}
        self._reply(200, body, kind, extra)

    def _events(self) -> None:
        ui = self.ui
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream; charset=utf-8')
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.end_headers()
        try:
            self.wfile.write(b'retry: 500\n\n')
            self.wfile.flush()
        except OSError:
            return
        client = ui._subscribe()
        try:
            while True:
                try:
                    chunk = client.queue.get(timeout=KEEPALIVE)
                except queue.Empty:
                    chunk = ': keepalive\n\n'
                if chunk is None:
                    break
                self.wfile.write(chunk.encode('utf-8'))
                self.wfile.flush()
        except OSError:  # the page went away
            pass
        finally:
            ui._unsubscribe(client)
            self.close_connection = True

    def do_POST(self) -> None:
        if not self._checked_host():
            return
        if self.path != '/api/command':
            self._text(404, 'not found')
            return
        if not self.ui._allowed_origin(self.headers.get('Origin')):
            self._json(403, {'ok': False, 'error': 'commands come from the simulator page only'})
            return
        if self.headers.get('Content-Type', '').split(';')[0].strip() != 'application/json':
            self._json(415, {'ok': False, 'error': 'send the command as application/json'})
            return
        try:
            length = int(self.headers.get('Content-Length', ''))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_COMMAND:
            self._json(413, {'ok': False, 'error': f'a command is at most {MAX_COMMAND} bytes'})
            return
        try:
            command = json.loads(self.rfile.read(length).decode('utf-8'))
            result = self.ui._commands.run(command)
        except (ValueError, UnicodeDecodeError) as exc:  # CommandError is a ValueError
            self._json(400, {'ok': False, 'error': str(exc) if isinstance(exc, CommandError)
                             else f'not a JSON command: {exc}'})
            return
        except TimeoutError as exc:
            self._json(503, {'ok': False, 'error': f'the simulator is busy: {exc}'})
            return
        except Exception as exc:  # e.g. the workflow refused the connection on trigger
            self._json(400, {'ok': False, 'error': str(exc) or type(exc).__name__})
            return
        self.ui.refresh()
        self._json(200, {'ok': True, 'result': result})
