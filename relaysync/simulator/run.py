"""``Run``: one workflow instance, i.e. one WebSocket connection to the workflow.

The simulator opens the connection, sends ``wf_api_start_event``, and from then
on answers every request the workflow sends (through the handler table of
:mod:`relaysync.simulator.handlers`), recording everything.  Inbound messages
arrive on the connection's reader thread and are handed to the clock thread,
where all simulated work happens.
"""

import json
import logging
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from ..codec import encode
from . import handlers, messages
from .context import Refused, RequestContext
from .devices import Interaction
from .errors import SimulatorError
from .transcript import RELAY, WORKFLOW, Entry, describe_fields, lines
from .transcript import quote as q
from .wsclient import WsClient, connect

logger = logging.getLogger('relaysync.simulator')

_REQUEST = re.compile(r'^wf_api_(\w+)_request$')

RUNNING = 'running'
TERMINATED = 'terminated'
CLOSED = 'closed'
STOPPED = 'stopped'


class SimulationTimeout(SimulatorError, TimeoutError):
    """The workflow did not finish within the allowed time.

    Raised by :meth:`Run.wait_until_done`; the message ends with the run's last
    transcript lines.  Also a ``TimeoutError``.
    """


class WorkflowCrashed(SimulatorError):
    """A workflow handler raised and the workflow then stopped making progress.

    Raised by :meth:`Run.wait_until_done`; the message holds the handler's
    traceback and the run's last transcript lines.
    """


class Run:
    """One workflow instance being simulated.

    :meth:`Simulator.trigger` makes, connects and starts runs; a test does not
    construct one itself.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator` it belongs to.
        number: 1 for the simulator's first run, 2 for the next...
        device: the :class:`~relaysync.simulator.VirtualDevice` that triggered it.
        trigger: the ``trigger`` object to send in ``wf_api_start_event``.

    Attributes:
        sim: the :class:`~relaysync.simulator.Simulator`.
        number: 1 for the simulator's first run, 2 for the next...
        device: the :class:`~relaysync.simulator.VirtualDevice` that triggered it.
        trigger: the ``trigger`` object sent in ``wf_api_start_event``.
        vars: the instance variables (strings).
        interactions: ``{interaction URN: Interaction}`` started by this run.
        requests: every message received from the workflow, in order.
        responses: every response sent (``wf_api_<name>_response``).
        events: every event sent to the workflow, in order.
        messages: every message of the connection in order, both ways, as
            ``(simulated time, 'received' or 'sent', message)``.
        errors: ``(request, error text)`` for each request refused with
            ``wf_api_error_response``.
        crashes: reports of workflow handlers that raised (in-process
            workflows, and programs whose stderr showed a traceback).
        debug_log: the lines the workflow wrote with ``debug_log``.
        outcome: ``running``, ``terminated`` (the workflow sent terminate),
            ``closed`` (the workflow closed the connection without terminating)
            or ``stopped`` (the simulator ended it: timeout, quit, close).
        stop_reason: the ``reason`` of the stop event sent, if any.
        close_code: the WebSocket close code once closed.
        started_at: the simulated time the run was made at.
        ended_at: the simulated time its connection closed (None before).
    """

    def __init__(self, sim: Any, number: int, device: Any, trigger: Dict[str, Any]) -> None:
        self.sim = sim
        self.number = number
        self.device = device
        self.trigger = trigger
        self.vars: Dict[str, str] = {}
        self.interactions: Dict[str, Interaction] = {}
        self.requests: List[Dict[str, Any]] = []
        self.responses: List[Dict[str, Any]] = []
        self.events: List[Dict[str, Any]] = []
        self.messages: List[Tuple[float, str, Dict[str, Any]]] = []
        self.errors: List[Tuple[Dict[str, Any], str]] = []
        self.crashes: List[str] = []
        self.debug_log: List[str] = []
        self.outcome = RUNNING
        self.stop_reason: Optional[str] = None
        self.close_code: Optional[int] = None
        self.terminate_requested = False
        self.timer: Any = None
        self.timers: Dict[str, Any] = {}
        self.prompts: Dict[str, List[Any]] = {}
        self.started_at = sim.clock.now()
        self.ended_at: Optional[float] = None
        self.last_activity = time.monotonic()
        self._ws: Optional[WsClient] = None

    def __repr__(self) -> str:
        return f'<Run {self.number} from {self.device.name} ({self.outcome})>'

    # ------------------------------------------------------------- queries
    @property
    def done(self) -> bool:
        """True once the connection has closed (:attr:`outcome` is no longer ``running``)."""
        return self.outcome != RUNNING

    @property
    def terminated(self) -> bool:
        """True when the workflow ended itself with ``wf_api_terminate_request``."""
        return self.outcome == TERMINATED

    @property
    def transcript(self) -> List[Entry]:
        """The transcript entries of this run."""
        return [e for e in self.sim.transcript if e.run == self.number]

    def lines(self, times: bool = False, kinds: Optional[List[str]] = None,
              who: Optional[str] = None) -> List[str]:
        """This run's transcript as text lines.

        Args:
            times: prefix each line with the simulated time, as ``relaysync
                simulate`` prints it (default False: ``'Alice: heard "hi"'``).
            kinds: only the entries of these kinds, e.g. ``['heard']`` (default:
                all; see :class:`~relaysync.simulator.Entry`).
            who: only the entries about this device name, ``'workflow'`` (the
                requests made) or ``'relay'`` (default: all).

        Returns:
            The lines, oldest first.
        """
        return lines(self.transcript, times, kinds, who)

    def request_names(self) -> List[str]:
        """The names of the requests received, in order.

        Returns:
            The names without ``wf_api_`` and ``_request``, e.g.
            ``['start_interaction', 'say', 'terminate']``; a message of another
            type appears as its ``_type`` (``'None'`` when it has none).
        """
        names = []
        for msg in self.requests:
            match = _REQUEST.match(str(msg.get('_type')))
            names.append(match.group(1) if match else str(msg.get('_type')))
        return names

    def events_of(self, name: str) -> List[Dict[str, Any]]:
        """The events of one kind sent to the workflow.

        Args:
            name: the event name: ``'prompt'`` for ``wf_api_prompt_event``.

        Returns:
            Those event messages, in the order sent.
        """
        wanted = f'wf_api_{name}_event'
        return [e for e in self.events if e.get('_type') == wanted]

    # ------------------------------------------------------------- waiting
    def wait_until_done(self, timeout: float = 10.0, crash_grace: float = 0.5) -> 'Run':
        """Block until the workflow instance has ended.

        It returns for any ending (terminated, closed, stopped); check
        :attr:`outcome` or :attr:`terminated`.

        Args:
            timeout: real seconds to wait (default 10.0).
            crash_grace: when a workflow handler is known to have raised, give
                up once the workflow has been silent this many real seconds
                (default 0.5).

        Returns:
            This run (check :attr:`outcome`, :attr:`errors`).

        Raises:
            SimulationTimeout: still running after ``timeout`` (the run is left
                running; ``sim.close()`` ends it).
            WorkflowCrashed: a handler raised and the workflow went silent.
        """
        deadline = time.monotonic() + timeout

        def finished() -> Any:
            if self.done:
                return 'done'
            if self.crashes and time.monotonic() - self.last_activity >= crash_grace:
                return 'crashed'
            return None

        while True:
            remaining = max(0.0, deadline - time.monotonic())
            state = self.sim.clock.wait_for(finished, min(0.1, remaining))
            if state == 'done':
                return self
            if state == 'crashed':
                raise WorkflowCrashed(f'run {self.number}: a workflow handler raised:\n'
                                      f'{self.crashes[-1]}\n{self._explained(True)}'
                                      f'{self._tail()}')
            if time.monotonic() >= deadline:
                raise SimulationTimeout(f'run {self.number}: the workflow was still running '
                                        f'after {timeout:g} s\n{self._explained()}{self._tail()}')

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        """Block until ``predicate()`` is true or ``timeout`` real seconds pass.

        The same as :meth:`Simulator.wait_for`: the predicate is checked at
        once, after every simulated step, and at least every 50 ms.

        Args:
            predicate: a function of no arguments, e.g.
                ``lambda: run.request_names().count('say') == 2``.  Its
                exceptions propagate.
            timeout: real seconds to wait at most (default 5.0).

        Returns:
            The predicate's last value: true when the condition was met, false
            at the timeout (no exception is raised).
        """
        return self.sim.clock.wait_for(predicate, timeout)

    def explain(self) -> List[str]:
        """Why this run has not finished, and what would move it on.

        It names the handler still running and the call it is blocked in (for
        a workflow served in this process), a listen with no answer, an alert
        nobody acknowledged, a call ringing, an interaction waiting for button
        presses, a timer to come, or the last event the workflow did not react
        to; and the groups or devices a refused request named that the
        account lacks.  :meth:`wait_until_done` puts it in its exceptions.

        Returns:
            Text lines (``waiting for: ...``, ``refused: ...``, each followed
            by ``  try: <a call that would help>``); empty when there is
            nothing to say.
        """
        return self._explain()

    def _explain(self, refused_only: bool = False) -> List[str]:
        from .explain import WAITING, explain, report
        from .stacks import in_process
        running = in_process() if self.sim._server is not None and not self.done else None
        found = self.sim.clock.run_sync(lambda: explain(self, None, running))
        if refused_only:
            found = [f for f in found if f.kind not in WAITING]
        return report(found, 'api', self.device.name)

    def _explained(self, refused_only: bool = False) -> str:
        try:
            lines = self._explain(refused_only)
        except TimeoutError:  # pragma: no cover - a wedged clock
            return ''
        return ''.join(line + '\n' for line in lines)

    def _tail(self, count: int = 15) -> str:
        tail = self.lines(times=True)[-count:]
        return 'last transcript lines:\n  ' + '\n  '.join(tail) if tail else 'no transcript'

    # ---------------------------------------------------------- connection
    def open(self, url: str, timeout: float) -> None:
        """Open this run's connection to the workflow (any thread; used by
        :meth:`Simulator.trigger`).

        Args:
            url: the workflow's ``ws://`` or ``wss://`` URL.
            timeout: real seconds allowed for connecting and the opening handshake.

        Raises:
            HandshakeFailed: the server could not be reached, did not answer in
                time, or refused the upgrade (e.g. 404 for an unknown path).
            ValueError: ``url`` is not a ``ws://``/``wss://`` URL.
        """
        self._ws = connect(url, self._on_text, self._on_close, timeout=timeout)

    def _on_text(self, text: str) -> None:  # reader thread
        self.last_activity = time.monotonic()
        self.sim.clock.call_soon(lambda: self._receive(text))

    def _on_close(self, code: int, reason: str) -> None:  # reader thread
        self.sim.clock.call_soon(lambda: self._closed(code, reason))

    def _closed(self, code: int, reason: str) -> None:
        if self.done:
            return
        self.close_code = code
        self.ended_at = self.sim.clock.now()
        handlers.end_run(self)
        if self.terminate_requested:
            self.outcome = TERMINATED
            self.sim.note(RELAY, 'stop', f'workflow terminated (stop reason: {self.stop_reason})',
                          self.number)
        elif self.stop_reason is not None:
            self.outcome = STOPPED
        else:
            self.outcome = CLOSED
            detail = f' {q(reason)}' if reason else ''
            self.sim.note(RELAY, 'stop', f'the workflow closed the connection without '
                                         f'terminating (code {code}{detail})', self.number)

    def send(self, msg: Dict[str, Any]) -> bool:
        """Send one message to the workflow (clock thread).

        A message without ``_id`` (an event) is also recorded in :attr:`events`.

        Args:
            msg: the message, encoded as JSON.

        Returns:
            True when sent; False when the run is over or the connection is gone.
        """
        if self._ws is None or self.done:
            return False
        try:
            self._ws.send_text(encode(msg))
        except ConnectionError:
            return False
        if '_id' not in msg:
            self.events.append(msg)
        self.messages.append((self.sim.clock.now(), 'sent', msg))
        return True

    def emit(self, _event: str, /, **fields: Any) -> bool:
        """Send the event ``wf_api_<_event>_event`` (clock thread).

        Args:
            _event: the event name, e.g. ``'button'``.
            **fields: the event's fields, e.g. ``button='action'``.

        Returns:
            True when sent; False when the run is over or the connection is gone.
        """
        return self.send(messages.event(_event, **fields))

    def stop(self, reason: str = 'stopped', code: int = 1000) -> None:
        """End the instance from the server side (clock thread; tests call
        :meth:`Simulator.stop_run`).

        Sends ``wf_api_stop_event {reason}``, releases the run's timers,
        listens, calls and interactions, and starts closing the connection
        without waiting.  Does nothing once the run is over or stopping.

        Args:
            reason: the stop event's ``reason`` (default ``'stopped'``).
            code: the WebSocket close code (default 1000).
        """
        if self.done or self.stop_reason is not None:
            return
        self.stop_reason = reason
        if not self.terminate_requested:
            self.sim.note(RELAY, 'stop', f'the simulator stopped the workflow (stop reason: '
                                         f'{reason})', self.number)
        self.emit('stop', reason=reason)
        handlers.end_run(self)
        if self._ws is not None:
            self._ws.close(code, reason, timeout=0)

    def closed_by_simulator(self) -> None:
        """Mark the run over after the simulator closed it (clock thread); used
        when the connection could not confirm the close in time."""
        if not self.done:
            self._closed(1006, 'closed by the simulator')

    def close_now(self, timeout: float = 2.0) -> None:
        """Close the connection (code 1001) and wait for it to finish (used by
        :meth:`Simulator.close`).

        Args:
            timeout: real seconds to wait for the server's close answer before
                dropping the socket, then as long again for it to be released
                (default 2.0).
        """
        if self._ws is not None:
            self._ws.close(1001, 'simulator closing', timeout=timeout)

    # ------------------------------------------------------------ requests
    def _receive(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            self.sim.note(RELAY, 'error', f'ignored a message that is not JSON: {text[:80]!r}',
                          self.number)
            return
        if not isinstance(msg, dict):
            self.sim.note(RELAY, 'error', f'ignored a message that is not a JSON object: '
                                          f'{text[:80]!r}', self.number)
            return
        self.requests.append(msg)
        self.messages.append((self.sim.clock.now(), 'received', msg))
        mtype, rid = msg.get('_type'), msg.get('_id')
        match = _REQUEST.match(mtype) if isinstance(mtype, str) else None
        name = match.group(1) if match else None
        if name == 'terminate':
            self._terminate()
            return
        if not isinstance(rid, str) or not rid:
            self.sim.note(RELAY, 'error', f'ignored {mtype!r}: it has no _id to answer to',
                          self.number)
            return
        if self.stop_reason is not None:
            self.sim.note(RELAY, 'note', f'ignored {mtype!r} sent after the stop event',
                          self.number)
            return
        if name is None:
            what = 'a message without _type' if mtype is None else f'unknown request type {mtype}'
            self._refuse(msg, q(mtype) if isinstance(mtype, str) else str(mtype), what)
            return
        handler = handlers.HANDLERS.get(name)
        if handler is None:
            self._refuse(msg, name, handlers.UNSUPPORTED.get(name, f'unknown request type {mtype}'))
            return
        ctx = RequestContext(self, name, msg)
        try:
            ctx.validate()
            handler(ctx)
        except Refused as exc:
            self._refuse(msg, name, str(exc))
            return
        except Exception as exc:  # a simulator bug: answer, so the workflow is not left waiting
            logger.exception('the simulator failed to handle %s', mtype)
            self._refuse(msg, name, f'internal simulator error: {exc!r}')
            return
        configured = self.sim.slow.get(name)
        if configured:
            ctx.slow(configured)   # Simulator(slow={name: seconds}) applies to any request
        self._describe(ctx)
        if ctx.delay > 0:
            self._answer_slowly(ctx)
        else:
            self._answer(ctx)

    def _refuse(self, msg: Dict[str, Any], name: str, error: str) -> None:
        self.errors.append((msg, error))
        self.sim.note(WORKFLOW, 'request', f'{name}{self._target_text(msg)} '
                                           f'{describe_fields(msg)} => error {json.dumps(error)}'
                      .replace('  ', ' '), self.number)
        self.send(messages.error_response(msg.get('_id'), error))

    def _describe(self, ctx: RequestContext) -> None:
        text = f'{ctx.name}{self._target_text(ctx.msg)}'
        fields = describe_fields(ctx.msg, handlers.HIDDEN_FIELDS.get(ctx.name, ()))
        if fields:
            text += f' {fields}'
        # Leave out what merely echoes the request, and routine fields.
        hidden = handlers.HIDDEN_RESPONSE.get(ctx.name, ())
        shown = {k: v for k, v in ctx.response.items()
                 if ctx.msg.get(k, object()) != v and k not in hidden}
        if shown:
            text += f' => {describe_fields(shown)}'
        if ctx.note:
            text += f' ({ctx.note})'
        self.sim.note(WORKFLOW, 'request', text, self.number)

    def _target_text(self, msg: Dict[str, Any]) -> str:
        target = msg.get('_target')
        if not isinstance(target, dict) or not isinstance(target.get('uris'), list):
            return ''
        return ' -> ' + ', '.join(self.sim.label(u) for u in target['uris'])

    def _answer_slowly(self, ctx: RequestContext) -> None:
        interval = max(self.sim.progress_interval, 0.001)
        steps = int(ctx.delay / interval)
        for i in range(1, steps + 1):
            if i * interval < ctx.delay:
                self.sim.clock.call_later(i * interval, lambda: self._progress(ctx))
        self.sim.clock.call_later(ctx.delay, lambda: self._answer(ctx))

    def _progress(self, ctx: RequestContext) -> None:
        if self.send(messages.progress_event(ctx.request_id)):
            self.sim.note(RELAY, 'progress', f'progress event for {ctx.name}', self.number)

    def _answer(self, ctx: RequestContext) -> None:
        msg = messages.response(ctx.msg, **ctx.response)
        if not self.send(msg):
            return
        self.responses.append(msg)
        for delay, action in ctx.followups:
            if delay <= 0:
                action()
            else:
                self.sim.clock.call_later(delay, self._guard(action))

    def _guard(self, action: Any) -> Any:
        def guarded() -> None:
            if not self.done and self.stop_reason is None:
                action()
        return guarded

    def later(self, delay: float, action: Any) -> Any:
        """Run ``action`` on the clock thread after ``delay`` simulated seconds,
        unless this run has ended or is stopping by then.

        Args:
            delay: simulated seconds to wait.
            action: a function of no arguments.

        Returns:
            The scheduled task's handle; its ``cancel()`` stops it from running.
        """
        return self.sim.clock.call_later(delay, self._guard(action))

    def _terminate(self) -> None:
        self.sim.note(WORKFLOW, 'request', 'terminate', self.number)
        if self.stop_reason is not None:
            return
        self.terminate_requested = True
        self.stop('normal')
