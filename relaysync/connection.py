"""The connection engine: one Relay connection (one workflow instance).

Every transport (the standalone server, WSGI embedding, the simulator's
in-process server) drives the same :class:`Connection`:

* inbound text goes to :meth:`Connection.receive_text`, called on the
  transport's reader thread.  The router there completes the pending call it
  answers (by ``_id``, or a prompt/speech event by the request id it names), and
  queues events that have a handler for the connection's worker thread;
* outbound requests go through one primitive, :meth:`Connection.call`: it
  registers a waiter *before* sending, sends through ``transport.send_text`` and
  blocks on a per-call lock until the router completes it, the connection
  closes, or the timeout expires;
* :meth:`Connection.closed` fails every pending call at once and stops the
  worker after the events already queued have run.

The transport (see :class:`Transport`) is callable from any thread;
``send_text`` raises :class:`~relaysync.ConnectionClosed` once the connection is
gone.

What an instance can have queued for its worker is bounded (``max_queued_events``
and ``max_queued_bytes``).  At the limit the engine asks the transport to stop
reading while no call of the instance is pending, so TCP holds the peer back; a
pending call needs its answer, which may sit behind more events, so reading then
goes on, and an instance whose queue reaches twice the limit is closed with 1008.
"""

import asyncio
import itertools
import logging
import os
import queue
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple

from .codec import decode, encode, redact
from .coroutines import HandlerRunner, wants_loop
from .events import (EVENTS, QUIET_EVENTS, WAIT_PROMPT, WAIT_SPEECH, EventSpec, handler_label,
                     spec_for)
from .exceptions import (ConnectionClosed, ErrorResponse, PlaybackFailed, RelayTimeout,
                         printable)
from .timeouts import Timeouts

logger = logging.getLogger('relaysync.connection')
#: Every message sent and received, at DEBUG, secrets redacted.
wire_logger = logging.getLogger('relaysync.wire')

PROGRESS = 'wf_api_progress_event'
ERROR = 'wf_api_error_response'
PROMPT = 'wf_api_prompt_event'
SPEECH = 'wf_api_speech_event'

_WAITING_FOR = {WAIT_PROMPT: 'prompt stopped event', WAIT_SPEECH: 'speech event'}

#: Default most events one instance may have queued for its worker.
DEFAULT_MAX_QUEUED_EVENTS = 1000
#: Default most bytes of events one instance may have queued for its worker.
DEFAULT_MAX_QUEUED_BYTES = 16 * 1024 * 1024

#: Skipped messages logged at WARNING per connection; the rest at DEBUG.
_SKIP_WARNINGS = 10
#: Most JSON objects and arrays in one inbound message (checked above _LARGE characters):
#: Relay messages have a few dozen; millions would hold the I/O thread for seconds.
MAX_CONTAINERS = 10_000
_LARGE = 65536


def queued_cost(text: str) -> int:
    """What an event costs while it waits in a queue, in bytes: its text plus
    an allowance for each object its parsed form holds (a parsed ``{}`` costs
    64 bytes where its text costs 2), so that ``max_queued_bytes`` bounds memory.

    Args:
        text: the event's JSON text.

    Returns:
        The estimate.
    """
    return len(text) + 64 * (text.count('{') + text.count('[') + text.count(',')
                             + text.count(':'))

_STOP = object()
_CALLER = object()
_monotonic = time.monotonic
# Longest single sleep in a wait: Lock.acquire overflows on huge or infinite
# timeouts, and the wait loop re-checks the deadline after each sleep anyway.
_MAX_SLEEP = 3600.0


class Transport(Protocol):
    """What the engine needs from a transport; every method may be called from any thread."""

    def send_text(self, text: str, timeout: Optional[float] = None) -> None:
        """Send one text message, waiting at most ``timeout`` seconds for room
        in the send buffer; raises ConnectionClosed or TimeoutError."""

    def close(self, code: int = 1000, reason: str = '') -> None:
        """Start closing the connection."""

    def pause_reading(self) -> None:
        """Stop reading from the peer until resume_reading().  Called under the
        engine's lock, in order: it must not call back into the engine."""

    def resume_reading(self) -> None:
        """Read from the peer again (same rules as pause_reading)."""


_local = threading.local()


def current_connection() -> Optional['Connection']:
    """The connection whose handler is running on the calling thread, if any."""
    return getattr(_local, 'connection', None)


class PendingCall:
    """One request awaiting its answer.  Internal to the engine."""

    __slots__ = ('request_id', 'request_type', 'lock', 'timeout', 'deadline', 'wait',
                 'event_timeout', 'response', 'event', 'error', 'done', 'keys')

    def __init__(self, request_id: str, request_type: str, timeout: float,
                 wait: Optional[str], event_timeout: float) -> None:
        self.request_id = request_id
        self.request_type = request_type
        self.lock = threading.Lock()
        self.lock.acquire()
        self.timeout = timeout
        self.deadline = _monotonic() + timeout
        self.wait = wait
        self.event_timeout = event_timeout
        self.response: Optional[Dict[str, Any]] = None
        self.event: Optional[Dict[str, Any]] = None
        self.error: Optional[BaseException] = None
        self.done = False
        self.keys: List[Tuple[str, str]] = []

    def waiting_for(self) -> str:
        if self.response is None:
            return 'response'
        return _WAITING_FOR.get(self.wait or '', 'response')


_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)
_id_lock = threading.Lock()   # next() on a shared count is atomic only under the GIL


def new_request_id() -> str:
    """Return a fresh request ``_id``: 32 lowercase hex digits, as relay-py sends.

    A random per-process prefix and a counter: unique across processes and
    restarts without a system call per request.
    """
    with _id_lock:
        number = next(_id_counter)
    return f'{_ID_PREFIX}{number:016x}'


class Connection:
    """The engine of one workflow instance; see the module docstring.

    Args:
        workflow: the :class:`~relaysync.Workflow` whose handlers run here.
        transport: where requests are sent (see :class:`Transport`).
        conn_id: a short id used in log lines.
        timeouts: this instance's timeouts (a copy is kept).
        path: the request path the connection arrived on.
        context: makes the object handlers receive first, from this engine
            (the server passes :class:`~relaysync.Relay`).
        on_finished: called once the worker has ended (after close).
        own_worker: True (default) starts a worker thread at the first event;
            False leaves running the handlers to the caller's thread, which
            calls :meth:`run_worker` (the WSGI request thread does this).
        on_handler_error: called as ``on_handler_error(connection, handler_name,
            exception)`` on the worker thread after a handler raised (and the
            error was logged, and the workflow's ``on_error`` handler ran).
        on_closed: called as ``on_closed(connection)`` once, when the
            connection closes (before the worker has necessarily ended).
        max_queued_events: most events queued for the worker before reading
            pauses (see the module docstring).
        max_queued_bytes: most bytes of queued events, likewise (one event is
            always accepted, whatever its size).
    """

    def __init__(self, workflow: Any, transport: Transport, conn_id: str,
                 timeouts: Optional[Timeouts] = None, path: str = '', *,
                 context: Callable[['Connection'], Any],
                 on_finished: Optional[Callable[['Connection'], None]] = None,
                 own_worker: bool = True,
                 on_handler_error: Optional[Callable[['Connection', str, BaseException],
                                                     None]] = None,
                 on_closed: Optional[Callable[['Connection'], None]] = None,
                 max_queued_events: int = DEFAULT_MAX_QUEUED_EVENTS,
                 max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES) -> None:
        self.workflow = workflow
        self.transport = transport
        self.id = conn_id
        self.path = path
        self.timeouts = Timeouts(**vars(timeouts)) if timeouts else Timeouts()
        self._pending: Dict[str, PendingCall] = {}
        self._waiters: Dict[Tuple[str, Any], PendingCall] = {}
        self._lock = threading.Lock()
        self._closed: Optional[Tuple[int, str]] = None
        self._queue: 'queue.SimpleQueue[Any]' = queue.SimpleQueue()
        # a Thread; _STOP once closed without one; the caller's marker when not own_worker
        self._worker: Any = None if own_worker else _CALLER
        self._on_finished = on_finished
        self._on_handler_error = on_handler_error
        self._on_closed = on_closed
        self.max_queued_events = max_queued_events
        self.max_queued_bytes = max_queued_bytes
        self._queued = 0              # events queued for the worker, and their bytes
        self._queued_bytes = 0
        self._reading_paused = False
        #: Who connected (address, and forwarded-for behind a proxy), for log lines.
        self.client = ''
        #: When the connection closed (``time.monotonic()``), else None.
        self.closed_at: Optional[float] = None
        #: The thread running this instance's handlers, once one has started.
        self.worker_thread: Optional[threading.Thread] = None
        #: The handler running now (its decorator, e.g. ``on_start``), else None.
        self.running_handler: Optional[str] = None
        self._unhandled: Set[Tuple[str, ...]] = set()  # (type, filter values) logged as unhandled
        self._skips = 0               # messages skipped (malformed, not an event)
        #: The handler context (a :class:`~relaysync.Relay`), made by ``context``.
        self.relay = context(self)
        self._runner = HandlerRunner(self.relay, conn_id)
        # Wakes a worker that runs an event loop (coroutine handlers) after a put.
        self._wake: Optional[Callable[[], None]] = None

    def __repr__(self) -> str:
        state = 'closed' if self._closed else 'open'
        return f'<Connection {self.id} {self.path} {state}>'

    # ------------------------------------------------------------------ state
    @property
    def is_closed(self) -> bool:
        """True once the connection has closed (pending and later calls raise)."""
        return self._closed is not None

    @property
    def close_code(self) -> Optional[int]:
        """The close code once closed, else None."""
        return self._closed[0] if self._closed else None

    # ------------------------------------------------------------ outbound
    def call(self, request_type: str, payload: Dict[str, Any], *,
             timeout: Optional[float] = None, wait: Optional[str] = None,
             event_timeout: Optional[float] = None) -> PendingCall:
        """Send one request and block until it is answered.

        Args:
            request_type: the ``_type``, e.g. ``'wf_api_say_request'``.
            payload: the other keys (``_target`` included); None values are omitted.
            timeout: seconds to wait for the response, restarted by each progress
                event (default ``timeouts.request``).
            wait: also wait, after the response, for the event answering it:
                ``'prompt'`` (a prompt ``stopped`` whose ``id`` is the request
                ``_id`` or the response ``id``) or ``'speech'`` (a speech event
                whose ``request_id`` is the request ``_id``).
            event_timeout: seconds to wait for that event after the response.

        Returns:
            The completed call: ``.response`` is the response dict and, for
            ``wait``, ``.event`` the event.

        Raises:
            ErrorResponse: the server answered ``wf_api_error_response``.
            RelayTimeout: nothing arrived in time.
            ConnectionClosed: the connection is closed or closed meanwhile.
        """
        if timeout is None:
            timeout = self.timeouts.request
        request_id = new_request_id()
        message = {'_id': request_id, '_type': request_type}
        message.update(payload)
        text = encode(message)
        pending = PendingCall(request_id, request_type, timeout, wait,
                              event_timeout if event_timeout is not None else self.timeouts.prompt)
        with self._lock:
            if self._closed is not None:
                raise ConnectionClosed(*self._closed, request_type=request_type)
            self._pending[request_id] = pending
            if wait is not None:
                key = (wait, request_id)
                self._waiters[key] = pending
                pending.keys.append(key)
            if self._reading_paused:
                # The answer may sit behind events not read yet: read again.
                self._reading_paused = False
                self.transport.resume_reading()
        if wire_logger.isEnabledFor(logging.DEBUG):
            wire_logger.debug('[%s] send %s', self.id, redact(text))
        try:
            self.transport.send_text(text, timeout)
        except ConnectionClosed as exc:
            self._forget(pending)
            raise ConnectionClosed(exc.code, exc.reason, request_type) from None
        except TimeoutError:
            self._forget(pending)
            raise RelayTimeout(request_type, request_id, timeout,
                               'room in the send buffer (the peer is not reading)') from None
        except BaseException:  # e.g. a lone surrogate UTF-8 cannot encode: never stay registered
            self._forget(pending)
            raise
        return self._wait(pending)

    def send(self, request_type: str, payload: Dict[str, Any]) -> str:
        """Send a request that gets no response (``wf_api_terminate_request``).

        Returns the request ``_id``.  Raises ConnectionClosed if already closed.
        """
        request_id = new_request_id()
        message = {'_id': request_id, '_type': request_type}
        message.update(payload)
        if self._closed is not None:
            raise ConnectionClosed(*self._closed, request_type=request_type)
        text = encode(message)
        if wire_logger.isEnabledFor(logging.DEBUG):
            wire_logger.debug('[%s] send %s', self.id, redact(text))
        try:
            self.transport.send_text(text, self.timeouts.request)
        except ConnectionClosed as exc:
            raise ConnectionClosed(exc.code, exc.reason, request_type) from None
        except TimeoutError:
            raise RelayTimeout(request_type, request_id, self.timeouts.request,
                               'room in the send buffer (the peer is not reading)') from None
        return request_id

    def _wait(self, pending: PendingCall) -> PendingCall:
        lock = pending.lock
        while True:
            remaining = pending.deadline - _monotonic()
            if pending.wait is not None and pending.response is None:
                # The response moves the deadline to now + event_timeout, possibly
                # earlier than this one: never sleep past that point unchecked.
                remaining = min(remaining, pending.event_timeout)
            if remaining > 0 and lock.acquire(timeout=min(remaining, _MAX_SLEEP)):
                break
            with self._lock:
                if not pending.done:
                    if _monotonic() < pending.deadline:
                        continue  # extended by progress meanwhile
                    pending.done = True
                    self._unlink(pending)
                    raise RelayTimeout(pending.request_type, pending.request_id,
                                       pending.timeout if pending.response is None
                                       else pending.event_timeout,
                                       pending.waiting_for())
            lock.acquire()  # completed in the race: the release is imminent
            break
        if pending.error is not None:
            raise pending.error
        return pending

    def _unlink(self, pending: PendingCall) -> None:
        # caller holds self._lock
        self._pending.pop(pending.request_id, None)
        for key in pending.keys:
            if self._waiters.get(key) is pending:
                del self._waiters[key]

    def _forget(self, pending: PendingCall) -> None:
        with self._lock:
            pending.done = True
            self._unlink(pending)

    def _finish(self, pending: PendingCall, error: Optional[BaseException] = None) -> None:
        with self._lock:
            if pending.done:
                return
            pending.done = True
            self._unlink(pending)
        pending.error = error
        pending.lock.release()

    # ------------------------------------------------------------- inbound
    def receive_text(self, text: str) -> bool:
        """Route one inbound message.  Called by the transport's reader thread.

        Malformed messages (not JSON, not an object, no string ``_type``, or
        over :data:`MAX_CONTAINERS` objects and arrays) and messages that are
        neither a response nor an event are logged and skipped; nothing
        raises.  An event no handler takes is logged at INFO the first time its
        type arrives on this connection (at DEBUG for the events a workflow
        usually leaves alone: prompt, speech, stop, progress).

        Returns:
            True when the message answered a pending call (a response or a
            progress event): proof that the peer reads what it is sent.
        """
        if wire_logger.isEnabledFor(logging.DEBUG):
            wire_logger.debug('[%s] recv %s', self.id, printable(redact(text)))
        if len(text) > _LARGE and text.count('{') + text.count('[') > MAX_CONTAINERS:
            # Parsing it would hold the I/O thread, and its objects cost far more than its text.
            self._skipped('with more than %d JSON objects and arrays (%d characters)',
                          MAX_CONTAINERS, len(text))
            return False
        try:
            msg = decode(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurd nesting
            self._skipped('that is not JSON (%s): %.200r', exc, redact(text))
            return False
        if type(msg) is not dict:
            self._skipped('that is not a JSON object: %.200r', redact(text))
            return False
        mtype = msg.get('_type')
        if type(mtype) is not str:
            self._skipped('without a string _type: %.200r', redact(text))
            return False
        request_id = msg.get('_id')
        if request_id is not None:
            pending = self._pending.get(request_id) if type(request_id) is str else None
            if mtype.endswith('_response'):
                if pending is not None:
                    self._answer(pending, msg, mtype)
                    return True
                logger.debug('[%s] skipped %.100r for an unknown or finished _id %.100r',
                             self.id, mtype, request_id)
                return False
            if mtype == PROGRESS and pending is not None:
                # Restarts the response clock; never cuts an event wait short.
                pending.deadline = max(pending.deadline, _monotonic() + pending.timeout)
                return True
        if mtype == PROMPT:
            self._prompt(msg)
        elif mtype == SPEECH:
            self._speech(msg)
        spec = spec_for(mtype)
        if spec is None:
            self._skipped('of unknown _type %.100r', mtype)
            return False
        found = self.workflow.resolve(spec, msg)
        if found is None:
            self._no_handler(spec, mtype, msg)
            return False
        self._enqueue((found[0], found[1], found[2], queued_cost(text)))
        return False

    def _skipped(self, what: str, *args: Any) -> None:
        """Log a skipped message: WARNING for the first few of a connection, then DEBUG."""
        self._skips += 1
        if self._skips <= _SKIP_WARNINGS:
            last = (' (further skipped messages of this connection are logged at DEBUG)'
                    if self._skips == _SKIP_WARNINGS else '')
            logger.warning('[%s] skipped a message ' + what + last, self.id, *args)
        else:
            logger.debug('[%s] skipped a message ' + what, self.id, *args)

    def _no_handler(self, spec: EventSpec, mtype: str, msg: Dict[str, Any]) -> None:
        has_handler = getattr(self.workflow, 'has_handler', None)
        registered = has_handler is not None and has_handler(spec)
        if spec.name in QUIET_EVENTS or (registered and spec.filter_fields is None):
            logger.debug('[%s] no handler for %.100r', self.id, mtype)
            return
        values: Tuple[str, ...] = ()
        if registered and spec.filter_fields is not None:   # only the filters missed it
            values = tuple(repr(msg.get(f))[:50] for f in spec.filter_fields)
        key = (mtype,) + values
        if key in self._unhandled or len(self._unhandled) >= 64:
            logger.debug('[%s] no handler for %.100r', self.id, mtype)
            return
        self._unhandled.add(key)
        if values:
            first, second = spec.filter_fields or ('', '')
            logger.info('[%s] no on_%s handler matches %s=%s, %s=%s (its filters differ; '
                        'logged once per instance)', self.id, spec.name, first, values[0],
                        second, values[1])
            return
        hint = f'@wf.on_{spec.name}' if mtype in EVENTS else f'@wf.on({spec.name!r})'
        logger.info('[%s] no handler for %.100r; register one with %.100s '
                    '(logged once per instance)', self.id, mtype, hint)

    def _answer(self, pending: PendingCall, msg: Dict[str, Any], mtype: str) -> None:
        if mtype == ERROR:
            error = msg.get('error')
            text = error if isinstance(error, str) else f'unknown error: {error!r}'
            self._finish(pending, ErrorResponse(text, pending.request_type, pending.request_id))
            return
        if pending.wait is None:
            pending.response = msg
            self._finish(pending)
            return
        with self._lock:
            if pending.done or pending.response is not None:
                logger.debug('[%s] skipped a second %.100r for _id %s', self.id, mtype,
                             pending.request_id)
                return
            pending.response = msg
            if pending.event is None:
                if pending.wait == WAIT_PROMPT:
                    # The response's id names the playback; accept it as well.
                    alias = msg.get('id')
                    if isinstance(alias, str) and alias != pending.request_id:
                        key = (WAIT_PROMPT, alias)
                        self._waiters[key] = pending
                        pending.keys.append(key)
                pending.deadline = _monotonic() + pending.event_timeout
                return
        self._finish(pending)

    def _event_arrived(self, key: Tuple[str, Any], msg: Dict[str, Any],
                       error: Optional[BaseException] = None) -> None:
        pending = self._waiters.get(key)
        if pending is None:
            return
        with self._lock:
            if pending.done:
                return
            pending.event = msg
            ready = pending.response is not None or error is not None
        if ready:
            self._finish(pending, error)

    def _prompt(self, msg: Dict[str, Any]) -> None:
        prompt_id = msg.get('id')
        if not isinstance(prompt_id, str):
            return  # waiters are keyed by string ids (a list or object is unhashable)
        ptype = msg.get('type')
        key = (WAIT_PROMPT, prompt_id)
        if ptype == 'stopped':
            self._event_arrived(key, msg)
        elif ptype == 'failed':
            pending = self._waiters.get(key)
            if pending is not None:
                self._event_arrived(key, msg, PlaybackFailed(pending.request_type,
                                                             pending.request_id))
        elif ptype == 'started':
            pending = self._waiters.get(key)
            if pending is not None and pending.response is not None:
                pending.deadline = _monotonic() + pending.event_timeout

    def _speech(self, msg: Dict[str, Any]) -> None:
        request_id = msg.get('request_id')
        if isinstance(request_id, str):  # waiters are keyed by string ids
            self._event_arrived((WAIT_SPEECH, request_id), msg)

    # ------------------------------------------------------------- worker
    def _enqueue(self, item: Any) -> None:
        size = item[3]
        with self._lock:
            self._queued += 1
            self._queued_bytes += size
            count, queued_bytes = self._queued, self._queued_bytes
            pause = overflow = False
            if count > self.max_queued_events or (queued_bytes > self.max_queued_bytes
                                                  and count > 1):
                if self._pending:
                    # A handler waits for an answer that may come after these
                    # events: keep reading, up to twice the limit.
                    overflow = count > 2 * self.max_queued_events or (
                        queued_bytes > 2 * self.max_queued_bytes)
                elif not self._reading_paused:
                    pause = self._reading_paused = True
                    self.transport.pause_reading()
            if overflow:
                self._queued -= 1
                self._queued_bytes -= size
        if overflow:
            logger.warning('[%s] closing with 1008: %d events (%d bytes) queued while a handler '
                           'waits for a response (twice max_queued_events=%d or '
                           'max_queued_bytes=%d); peer %s', self.id, count - 1,
                           queued_bytes - size, self.max_queued_events, self.max_queued_bytes,
                           self.client or '?')
            self.transport.close(1008, 'too many unhandled events')
            return
        if pause:
            logger.info('[%s] pausing reads: %d events (%d bytes) queued for the handlers',
                        self.id, count, queued_bytes)
        self._put(item)

    def _put(self, item: Any) -> None:
        self._queue.put(item)
        wake = self._wake
        if wake is not None:
            wake()
        if self._worker is None:
            with self._lock:
                if self._worker is not None:
                    return
                self._worker = self._new_worker()
            self._start_worker(self._worker)

    def _new_worker(self) -> threading.Thread:
        return threading.Thread(target=self._run_worker, daemon=True,
                                name=f'relaysync-worker-{self.id}')

    def _start_worker(self, worker: threading.Thread) -> None:
        try:
            worker.start()
        except RuntimeError as exc:  # "can't start new thread": the process is out of threads
            logger.error('[%s] no worker thread for this instance (%s): closing it with 1013',
                         self.id, exc)
            with self._lock:
                self._worker = _STOP
            try:
                self.transport.close(1013, 'no thread available')
            finally:
                self.closed(1013, 'no thread available')
                if self._on_finished is not None:
                    self._on_finished(self)

    def run_worker(self) -> None:
        """Run this connection's handlers on the calling thread until it closes.

        Only for connections created with ``own_worker=False``.
        """
        if self._worker is not _CALLER:
            raise RuntimeError('run_worker() is for connections created with own_worker=False')
        self._run_worker()

    def _dequeued(self, size: int) -> None:
        with self._lock:
            self._queued -= 1
            self._queued_bytes -= size
            if (self._reading_paused and self._queued <= self.max_queued_events // 2
                    and self._queued_bytes <= self.max_queued_bytes // 2):
                self._reading_paused = False
                self.transport.resume_reading()

    def _run_worker(self) -> None:
        runner = self._runner
        self.worker_thread = threading.current_thread()
        _local.connection = self
        try:
            if wants_loop(self.workflow):
                runner.serve(self._next_item, self._set_wake, self._handle_async, _STOP)
                return
            get = self._queue.get
            while True:
                item = get()
                if item is _STOP:
                    return
                self._handle(item)
        finally:
            _local.connection = None
            runner.close()
            if self._on_finished is not None:
                self._on_finished(self)

    def _next_item(self) -> Any:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _set_wake(self, wake: Optional[Callable[[], None]]) -> None:
        self._wake = wake

    def _handle(self, item: Any) -> None:
        """Run one event's handler to completion, reporting what it raised."""
        func, args, name, size = item
        self._dequeued(size)
        label = handler_label(name)
        self.running_handler = label
        try:
            self._runner.call(func, args, label)
        except ConnectionClosed as exc:
            logger.info('[%s] %s handler ended: %s', self.id, label, exc)
        except BaseException as exc:  # sys.exit(), a stray CancelledError: never end the worker
            self._raised(label)
            on_error = getattr(self.workflow, 'error_handler', None)
            if on_error is not None:
                self.running_handler = 'on_error'
                try:
                    self._runner.call(on_error, (exc,), 'on_error')
                except ConnectionClosed as closed:
                    logger.info('[%s] on_error handler ended: %s', self.id, closed)
                except BaseException:
                    self._error_handler_raised(label)
            self._notify_listeners(name, exc)
        finally:
            self.running_handler = None

    async def _handle_async(self, item: Any) -> None:
        """:meth:`_handle` as a task, for a worker that runs an event loop."""
        func, args, name, size = item
        self._dequeued(size)
        label = handler_label(name)
        self.running_handler = label
        runner = self._runner
        try:
            await runner.acall(func, args)
        except ConnectionClosed as exc:
            logger.info('[%s] %s handler ended: %s', self.id, label, exc)
        except BaseException as exc:
            if runner.closing and isinstance(exc, asyncio.CancelledError):
                raise              # cancelled because the connection has closed
            self._raised(label)
            on_error = getattr(self.workflow, 'error_handler', None)
            if on_error is not None:
                self.running_handler = 'on_error'
                try:
                    await runner.acall(on_error, (exc,))
                except ConnectionClosed as closed:
                    logger.info('[%s] on_error handler ended: %s', self.id, closed)
                except BaseException as again:
                    if runner.closing and isinstance(again, asyncio.CancelledError):
                        raise
                    self._error_handler_raised(label)
            self._notify_listeners(name, exc)
        finally:
            if self.running_handler in (label, 'on_error'):
                self.running_handler = None

    def _raised(self, label: str) -> None:
        logger.exception('[%s] %s handler raised (workflow %s, path %s)', self.id, label,
                         getattr(self.workflow, 'name', '?'), self.path)

    def _error_handler_raised(self, label: str) -> None:
        logger.exception('[%s] on_error handler raised while handling the error of %s',
                         self.id, label)

    def _notify_listeners(self, name: str, exc: BaseException) -> None:
        if self._on_handler_error is not None:
            try:
                self._on_handler_error(self, name, exc)
            except Exception:
                logger.exception('[%s] error listener raised', self.id)

    def stack(self, frames: Optional[Dict[int, Any]] = None) -> str:
        """Where this instance's handlers are now (for reports of stuck handlers).

        Args:
            frames: ``sys._current_frames()``, when the caller already has it.

        Returns:
            The worker thread's stack, or its tasks' stacks when it runs an
            event loop; ``''`` when no worker has started.
        """
        stacks = self._runner.stacks()
        if stacks:
            return stacks
        thread = self.worker_thread
        if frames is None:
            frames = sys._current_frames()
        frame = frames.get(thread.ident) if thread and thread.ident else None
        return ''.join(traceback.format_stack(frame)) if frame is not None else ''

    @property
    def worker(self) -> Optional[threading.Thread]:
        """The worker thread, once the first handled event has started it."""
        worker = self._worker
        return worker if isinstance(worker, threading.Thread) else None

    # -------------------------------------------------------------- close
    def closed(self, code: int = 1006, reason: str = '') -> None:
        """Tell the engine the connection is gone.  Idempotent; any thread.

        Every pending call raises ConnectionClosed at once, later calls raise
        immediately, and the worker ends after running the events already queued.
        """
        with self._lock:
            if self._closed is not None:
                return
            self._closed = (code, reason)
            self.closed_at = _monotonic()
            calls = list(self._pending.values())
            self._pending.clear()
            self._waiters.clear()
            for pending in calls:
                pending.done = True
            worker = self._worker
            late = None
            if worker is None:
                if self._queue.empty():
                    self._worker = _STOP  # no worker will start from now on
                else:
                    # An event was queued just before this close (from another
                    # thread): it still runs, like every event queued before close.
                    late = self._worker = self._new_worker()
        for pending in calls:
            pending.error = ConnectionClosed(code, reason, pending.request_type)
            pending.lock.release()
        if self._on_closed is not None:
            self._on_closed(self)
        if worker is not None or late is not None:
            self._put(_STOP)
            if late is not None:
                self._start_worker(late)
        elif self._on_finished is not None:
            self._on_finished(self)

    def close(self, code: int = 1000, reason: str = '') -> None:
        """Close the WebSocket from the workflow side (the transport reports back)."""
        self.transport.close(code, reason)
