"""``Simulator``: the simulated Relay server and its account of virtual devices.

::

    sim = Simulator(wf, time_scale=0.01)       # a Workflow, a Server, or a ws:// URL
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    run.wait_until_done(timeout=5)
    assert alice.heard == ['hello world']
    sim.close()

It speaks only the wire protocol: it connects to the workflow as the Relay
server does (one WebSocket connection per workflow instance), so it works
with any Relay workflow server.  Given a relaysync ``Workflow`` it first serves
it on a private port of 127.0.0.1; for a ``Workflow`` or a ``Server`` in this
process it also notices handlers that raise (see ``Run.wait_until_done``).
"""

import logging
import os
import traceback
from typing import Any, Callable, Dict, List, Optional, Union
from urllib.parse import parse_qs

from .. import handshake, urns
from ..events import handler_label
from .clock import Clock
from .devices import INPUT_TYPES, TRIGGER_DEFAULTS, Group, VirtualDevice
from .handlers import account, calls, interactions
from .run import Run
from .transcript import RELAY, Entry, lines
from .transcript import quote as q

logger = logging.getLogger('relaysync.simulator')


class Simulator:
    """The simulated Relay server: virtual devices, groups, and workflow runs.

    Constructing it starts the simulator's clock thread and, for a
    ``Workflow`` (or a ``Server`` not yet started), the workflow server; no
    connection is opened until :meth:`trigger`.  Use it as a context manager,
    or call :meth:`close`, to stop everything it started.

    Args:
        target: what to simulate against: a relaysync ``Workflow`` (served
            in-process on a free port of 127.0.0.1), a relaysync ``Server``
            (started if needed, and then stopped by :meth:`close`), or a
            ``ws://``/``wss://`` URL of any workflow server.
        path: the workflow path (default None).  Needed for a Server serving
            several paths; appended to a URL; ignored for a Workflow.
        time_scale: real seconds per simulated second (default 1.0; 0.01 = a
            hundred times faster); applies to timers, pacing, slow requests
            and scripted times.
        pace: when True, speech takes time in proportion to its length
            (prompt ``stopped`` comes later); when False (the default) prompts
            finish at once.
        route_all_buttons: send every button press to the workflow, even when
            the foreground interaction did not ask for it (``input_types``)
            (default False).
        progress_interval: simulated seconds between progress events of a
            slow request (default 0.5).
        refresh_delay: simulated seconds a ``get_device_info`` with
            ``refresh: true`` takes (default 1.0).
        ring_timeout: simulated seconds an unanswered call rings before it
            fails with reason ``no_answer`` (default 30.0).
        slow: ``{request name: simulated seconds}`` for requests to answer
            slowly (with progress events), e.g. ``{'notification': 2}``
            (default: none).
        translations: ``{to_lang: {text: translation}}`` for ``translate``
            (default: none).
        connect_timeout: real seconds allowed to open each connection (default 5.0).

    Attributes:
        devices: ``{name: VirtualDevice}``.
        groups: ``{name: Group}``.
        runs: every :class:`~relaysync.simulator.Run` so far, oldest first.
        transcript: every :class:`~relaysync.simulator.Entry`, in order.
        listeners: callables called with each new transcript
            :class:`~relaysync.simulator.Entry`, on the clock thread (an
            exception is logged and ignored).
        incidents: ``{incident_id: dict}`` of the incidents created.
        analytics: the ``log_analytics_event`` requests received, as dicts.
        sms: the ``sms`` requests received, as dicts.
        url: the URL connected to for each run.
        clock: the simulator's clock (simulated time and its thread).

    Raises:
        ValueError: a URL that is not ``ws://``/``wss://``, a Server serving
            several paths (or none) with no ``path``, or a ``time_scale`` that
            is not a positive number.
        TypeError: ``target`` is none of the three kinds.
        ServerException: the workflow server could not be started (e.g. its
            port cannot be bound).
    """

    def __init__(self, target: Any, path: Optional[str] = None, *, time_scale: float = 1.0,
                 pace: bool = False, route_all_buttons: bool = False,
                 progress_interval: float = 0.5, refresh_delay: float = 1.0,
                 ring_timeout: float = 30.0, slow: Optional[Dict[str, float]] = None,
                 translations: Optional[Dict[str, Dict[str, str]]] = None,
                 connect_timeout: float = 5.0) -> None:
        self.clock = Clock(time_scale)
        self.pace = pace
        self.route_all_buttons = route_all_buttons
        self.progress_interval = progress_interval
        self.refresh_delay = refresh_delay
        self.ring_timeout = ring_timeout
        self.slow: Dict[str, float] = dict(slow or {})
        self.translations: Dict[str, Dict[str, str]] = dict(translations or {})
        self.connect_timeout = connect_timeout
        self.devices: Dict[str, VirtualDevice] = {}
        self.groups: Dict[str, Group] = {}
        self.runs: List[Run] = []
        self.transcript: List[Entry] = []
        self.listeners: List[Callable[[Entry], Any]] = []
        self.incidents: Dict[str, Dict[str, Any]] = {}
        self.analytics: List[Dict[str, Any]] = []
        self.sms: List[Dict[str, Any]] = []
        self.calls = calls.CallBook(self)
        self._aliases: Dict[str, VirtualDevice] = {}
        self._counters: Dict[str, int] = {}
        self._server: Any = None
        self._own_server = False
        self._error_listener: Optional[Any] = None
        self._pages: List[Any] = []
        self._closed = False
        try:
            self.url = self._connect_target(target, path)
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------- the target
    def _connect_target(self, target: Any, path: Optional[str]) -> str:
        if isinstance(target, str):
            if not target.startswith(('ws://', 'wss://')):
                raise ValueError(f'a workflow URL must start with ws:// or wss://, got {target!r}')
            if path:
                return target.rstrip('/') + '/' + path.lstrip('/')
            return target
        from ..exceptions import ServerException
        from ..server import Server  # a relaysync server hosted in this process
        if isinstance(target, Server):
            server = target
            paths = sorted(server.paths)
            if path is None:
                if len(paths) != 1:
                    raise ValueError(f'the server serves {paths or "no paths"}; pass path=')
                path = paths[0]
        elif hasattr(target, 'resolve') and hasattr(target, 'handlers'):
            server = Server('127.0.0.1', 0)
            path = f'/relaysync-sim-{os.urandom(4).hex()}'
            server.register(target, path)
            self._own_server = True
        else:
            raise TypeError(f'simulate a relaysync Workflow, a relaysync Server or a ws:// URL, '
                            f'not {target!r}')
        self._server = server
        try:
            server.start_in_background()
            self._own_server = True
        except ServerException as exc:  # started by its owner: leave it running after us
            if 'already started' not in str(exc):
                raise
        self._watch_handler_errors(path)
        host = '127.0.0.1' if server.host in ('', '0.0.0.0', '::') else server.host
        return f'ws://{host}:{server.port}/{path.lstrip("/")}'

    def _watch_handler_errors(self, path: str) -> None:
        wanted = handshake.normalize_path(path)

        def listener(conn: Any, name: str, exc: BaseException) -> None:
            if conn.path == wanted:
                text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                self.report_crash(f'[{conn.id}] {handler_label(name)} handler raised '
                                  f'(path {conn.path})\n'
                                  + text)
        self._error_listener = listener
        self._server.add_error_listener(listener)

    def report_crash(self, text: str) -> None:
        """Record that a workflow handler raised, on every run still in progress.

        Called for the simulator by in-process servers and by ``relaysync
        simulate`` (a traceback on the program's stderr); safe from any
        thread.  It adds ``text`` to each live run's ``crashes`` (which
        :meth:`Run.wait_until_done` reports) and a ``crash`` transcript entry.

        Args:
            text: the report, e.g. a formatted traceback; its last line is
                shown in the transcript.
        """
        for run in list(self.runs):
            if not run.done:
                run.crashes.append(text)
        self.clock.call_soon(lambda: self.note(RELAY, 'crash', 'a workflow handler raised: '
                                               + q(text.strip().splitlines()[-1])))

    # -------------------------------------------------------------- account
    def next_number(self, kind: str) -> int:
        """The next number of a counter: 1, 2, 3... (used for generated ids).

        Args:
            kind: the counter's name (``'run'``, ``'device'``, ``'group'``...);
                each kind counts separately.

        Returns:
            1 on the first call for ``kind``, then one more on each call.
        """
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self._counters[kind]

    def device(self, name: str, **properties: Any) -> VirtualDevice:
        """The virtual device called ``name``, created if new, with ``properties`` set.

        Runs on the clock thread; any thread may call it.  A device renamed by
        the workflow (``set_device_name``) is still found by its old name.

        Args:
            name: the device name (its URN is ``urn:relay-resource:name:device:<name>``).
            **properties: the :class:`VirtualDevice` arguments to set: ``id``,
                ``type``, ``battery``, ``address``, ``latlong``,
                ``indoor_location``, ``username``, ``location_enabled``,
                ``ack_alerts``, ``answer_calls``, ``inbox``, ``says``.  On an
                existing device ``says`` and ``inbox`` are appended to its
                queue and inbox; any other public attribute is replaced as
                given (without checking its value).

        Returns:
            The :class:`VirtualDevice`.

        Raises:
            ValueError: a new device with an empty or non-string name, or an
                unknown device type.
            TypeError: an unknown property.
        """
        def make() -> VirtualDevice:
            device = self.devices.get(name) or self._aliases.get(name)
            if device is None:
                device = VirtualDevice(self, name, **properties)
                self.devices[name] = device
                return device
            for key, value in properties.items():
                if key == 'says':
                    device.answers.extend(value)
                elif key == 'inbox':
                    device.inbox.extend(value)
                elif not hasattr(device, key) or key.startswith('_') or key in ('name', 'urn'):
                    raise TypeError(f'device(): unknown property {key!r}')
                else:
                    setattr(device, key, value)
            return device
        return self.clock.run_sync(make)

    def group(self, name: str, members: List[Union[str, VirtualDevice]]) -> Group:
        """Create (or replace) the group ``name`` on the simulated account.

        Runs on the clock thread; any thread may call it.  A replaced group
        keeps its id.

        Args:
            name: the group name (its URN is ``urn:relay-resource:name:group:<name>``).
            members: :class:`VirtualDevice` objects or device names; a name
                no device has yet creates that device.

        Returns:
            The new :class:`Group`.

        Raises:
            ValueError: a member name that is empty or not a string.
        """
        def make() -> Group:
            devices = [m if isinstance(m, VirtualDevice) else self.device(m) for m in members]
            old = self.groups.get(name)
            group = Group(name, devices, old.id if old else f'grp_{self.next_number("group")}')
            self.groups[name] = group
            return group
        return self.clock.run_sync(make)

    def find_device(self, uri: str) -> Optional[VirtualDevice]:
        """The device a URN names.

        Args:
            uri: a device URN (by name, including a former name, or by id) or
                an interaction URN (its ``device`` query names the device).

        Returns:
            The :class:`VirtualDevice`, or None when ``uri`` names no device
            of the account (or is not a Relay URN).
        """
        if not isinstance(uri, str) or not urns.is_relay_uri(uri):
            return None
        if urns.is_interaction_uri(uri):
            inner = parse_qs(uri.partition('?')[2]).get('device')
            return self.find_device(inner[0]) if inner else None
        name = urns.parse_device_name(uri)
        if name is not None:
            return self.devices.get(name) or self._aliases.get(name)
        did = urns.parse_device_id(uri)
        if did is not None:
            return next((d for d in self.devices.values() if d.id == did), None)
        return None

    def find_group(self, uri: str) -> Optional[Group]:
        """The group a group URN names.

        Args:
            uri: a group URN, by name or by id; a query part is ignored.

        Returns:
            The :class:`Group`, or None when ``uri`` names no group of the account.
        """
        base = uri.partition('?')[0] if isinstance(uri, str) else uri
        name = urns.parse_group_name(base)
        if name is not None:
            return self.groups.get(name)
        gid = urns.parse_group_id(base)
        return next((g for g in self.groups.values() if g.id == gid), None) if gid else None

    def rename_device(self, device: VirtualDevice, name: str) -> None:
        """Rename a device, as ``set_device_name`` does (call on the clock thread).

        The old name keeps resolving to the device (:meth:`device`,
        :meth:`find_device`).

        Args:
            device: the device to rename.
            name: its new name.
        """
        self.devices.pop(device.name, None)
        self._aliases[device.name] = device
        device.name = name
        self.devices[name] = device

    def label(self, uri: Any) -> str:
        """A short readable name for a URN, as the transcript shows it.

        Args:
            uri: a URN (anything else is shown with ``repr``).

        Returns:
            The device's name, ``'group <name>'``, ``'all devices'``, or the
            URN itself when it names nothing on the account.
        """
        if not isinstance(uri, str):
            return repr(uri)
        if uri == urns.all_devices():
            return 'all devices'
        device = self.find_device(uri)
        if device is not None:
            return device.name
        group = self.find_group(uri)
        if group is not None:
            return f'group {group.name}'
        return uri

    # ------------------------------------------------------------ transcript
    def note(self, who: str, kind: str, text: str, run: int = 0) -> Entry:
        """Add a transcript entry and pass it to the :attr:`listeners` (clock thread).

        The entry is stamped with the simulated time (to the millisecond) and
        also added to the ``log`` of the device ``who`` names, if any.

        Args:
            who: a device name, ``'workflow'`` or ``'relay'``.
            kind: the entry's category (see :class:`~relaysync.simulator.Entry`).
            text: the readable text.
            run: the number of the run it belongs to (default 0: none).

        Returns:
            The new :class:`~relaysync.simulator.Entry`.
        """
        entry = Entry(round(self.clock.now(), 3), who, kind, text, run)
        self.transcript.append(entry)
        device = self.devices.get(who)
        if device is not None:
            device.log.append(entry)
        for listener in list(self.listeners):
            try:
                listener(entry)
            except Exception:
                logger.exception('transcript listener failed')
        return entry

    def lines(self, times: bool = False, kinds: Optional[List[str]] = None,
              who: Optional[str] = None) -> List[str]:
        """The whole transcript (every run) as text lines; see :meth:`Run.lines`.

        Args:
            times: prefix each line with the simulated time, as ``relaysync
                simulate`` prints it (default False: ``'Alice: heard "hi"'``).
            kinds: only the entries of these kinds (default: all).
            who: only the entries about this device name, ``'workflow'`` or
                ``'relay'`` (default: all).

        Returns:
            The lines, oldest first.
        """
        return lines(self.transcript, times, kinds, who)

    def speech_seconds(self, text: Optional[str]) -> float:
        """Simulated seconds a prompt or an answer takes.

        Args:
            text: the words spoken (None or empty: nothing).

        Returns:
            0.0 unless the simulator paces speech (``pace=True``); then 0.4 s
            per word, at least 0.5 s.
        """
        if not self.pace or not text:
            return 0.0
        return max(0.5, 0.4 * len(text.split()))

    # ----------------------------------------------------------------- runs
    def trigger(self, device: Union[str, VirtualDevice, None] = None, type: str = 'button',
                vars: Optional[Dict[str, str]] = None, **args: Any) -> Run:
        """Start a workflow instance as ``device`` triggering it.

        Opens a new connection and sends ``wf_api_start_event`` with
        ``trigger: {type, args: {source_uri: <device URN>, ...}}``.

        Args:
            device: the triggering device or its name (default: the first
                device; one called ``Alice`` is created if there is none).
                An unknown name creates that device.
            type: the trigger type (default ``'button'``): ``button`` (args
                ``action``), ``phrase`` (``phrase``, ``spillover``), ``http``
                (``args``), ``nfc`` (``uid``, ``nfc_payload``), ``emergency``,
                ``other``...
            vars: instance variables the run starts with (registration args;
                default: none).
            **args: trigger args, laid over the type's defaults (``button``:
                ``action='action_button_single_tap'``; ``phrase``:
                ``phrase='hello'``, ``spillover=''``; ``http``: ``args={}``;
                ``nfc``: a sample ``uid`` and ``nfc_payload={}``).

        Returns:
            The :class:`~relaysync.simulator.Run`, already started (it is in
            :attr:`runs` and the start event has been sent).

        Raises:
            HandshakeFailed: the workflow server could not be reached or
                refused the connection (e.g. an unknown path).
            RuntimeError: the simulator is closed.
            ValueError: ``device`` is an empty name.
        """
        if self._closed:
            raise RuntimeError('the simulator is closed')
        if device is None:
            device = next(iter(self.devices.values()), None) or self.device('Alice')
        elif isinstance(device, str):
            device = self.device(device)
        trigger_args = dict(TRIGGER_DEFAULTS.get(type, {}))
        trigger_args.update(args)
        trigger_args['source_uri'] = device.urn
        trigger = {'type': type, 'args': trigger_args}
        run = Run(self, self.next_number('run'), device, trigger)
        run.vars.update(vars or {})
        run.open(self.url, self.connect_timeout)

        def start() -> None:
            self.runs.append(run)
            detail = ' '.join(f'{k}={q(v)}' for k, v in trigger_args.items()
                              if k != 'source_uri')
            self.note(device.name, 'trigger', f'triggered the workflow ({type}'
                                              f'{" " + detail if detail else ""})', run.number)
            run.emit('start', trigger=trigger)
        self.clock.run_sync(start)
        return run

    def run_for(self, device: VirtualDevice) -> Optional[Run]:
        """The run a device's input goes to.

        Args:
            device: the device that pressed, spoke or asked for a call.

        Returns:
            The :class:`~relaysync.simulator.Run` owning the device's
            foreground interaction; else the latest live run ``device``
            triggered; else the latest live run; None when no run is live.
        """
        if device.foreground is not None:
            run: Run = device.foreground.run
            return run
        live = [r for r in self.runs if not r.done]
        mine = [r for r in live if r.device is device]
        chosen = mine or live
        return chosen[-1] if chosen else None

    # ------------------------------------------------- device actions (clock)
    def press(self, device: VirtualDevice, button: str, taps: str) -> bool:
        """A button press on ``device``, on the clock thread (tests call
        :meth:`VirtualDevice.press`, which checks the arguments and runs this).

        The press is recorded in ``device.pressed`` and in the transcript.  It
        is sent as ``wf_api_button_event {button, taps, source_uri}`` to the
        run of the device's foreground interaction (``source_uri``: the
        interaction URN) when that interaction's ``input_types`` asked for it
        or the simulator routes all buttons; with ``route_all_buttons`` and no
        foreground interaction, to :meth:`run_for` the device (``source_uri``:
        the device URN).

        Args:
            device: the device pressed.
            button: ``'action'`` or ``'channel'`` (not checked here).
            taps: ``'single'``, ``'double'``, ``'triple'`` or ``'long'`` (not
                checked here).

        Returns:
            True when a button event was sent to a workflow.
        """
        device.pressed.append((button, taps))
        fg = device.foreground
        wanted = INPUT_TYPES.get((button, taps))
        if fg is not None and (self.route_all_buttons
                               or wanted in fg.options.get('input_types', [])):
            self.note(device.name, 'button', f'pressed {button} {taps}', fg.run.number)
            return bool(fg.run.emit('button', button=button, taps=taps, source_uri=fg.uri))
        run = self.run_for(device) if self.route_all_buttons else None
        if run is not None:
            self.note(device.name, 'button', f'pressed {button} {taps}', run.number)
            return run.emit('button', button=button, taps=taps, source_uri=device.urn)
        if fg is None:
            why = 'no interaction on the device'
        else:
            why = f'interaction {q(fg.name)} did not ask for {wanted or f"{button} {taps}"}'
        self.note(device.name, 'button', f'pressed {button} {taps} (not sent: {why})',
                  fg.run.number if fg is not None else 0)
        return False

    def speak(self, device: VirtualDevice, text: Optional[str]) -> bool:
        """``device`` speaks, on the clock thread (tests call :meth:`VirtualDevice.say`).

        Args:
            device: the device speaking.
            text: what is said; None is silence.

        Returns:
            True when it answered the listen in progress on the device (the
            workflow gets ``wf_api_speech_event``); False when no listen was in
            progress and the text was queued for the next one.
        """
        if device.listening is not None:
            return interactions.answer(device, text)
        device.answers.append(text)
        return False

    def acknowledge(self, device: VirtualDevice, name: Optional[str]) -> bool:
        """``device`` acknowledges an alert, on the clock thread (tests call
        :meth:`VirtualDevice.acknowledge`).

        Args:
            device: the device acknowledging.
            name: the alert's name; None takes the latest active alert.

        Returns:
            True when an active alert was acknowledged (the workflow that sent
            it gets ``wf_api_notification_event`` with ``event: "ack_event"``),
            False when there was none.
        """
        return account.acknowledge(device, name=name)

    def request_call(self, device: VirtualDevice, uri: str) -> bool:
        """``device`` asks the assistant to call ``uri``, on the clock thread
        (tests call :meth:`VirtualDevice.request_call`).

        Sends ``wf_api_call_start_request_event {uri, source_uri}`` to
        :meth:`run_for` the device.

        Args:
            device: the device asking.
            uri: whom to call (a URN, a number...), passed on as it is.

        Returns:
            True when the event was sent; False when no run is live or its
            connection is gone.
        """
        run = self.run_for(device)
        if run is None:
            return False
        self.note(device.name, 'call', f'asked to call {self.label(uri)}', run.number)
        return run.emit('call_start_request', uri=uri, source_uri=device.urn)

    # -------------------------------------------------- operator actions
    def resolve_incident(self, incident_id: str, reason: str = 'resolved',
                         how: str = 'resolved') -> bool:
        """Close an incident from outside the workflow, as an operator in Dash would.

        The workflow run that created the incident gets
        ``wf_api_incident_event {type: how, incident_id, reason}``.  Any thread.

        Args:
            incident_id: the id ``create_incident`` answered with (see
                :attr:`incidents`).
            reason: the reason sent with the event (default ``'resolved'``).
            how: ``'resolved'`` (the default) or ``'cancelled'``; becomes the
                incident's state and the event's ``type``.

        Returns:
            True when the incident was closed; False for an unknown or already
            closed incident.
        """
        return self.clock.run_sync(lambda: self.close_incident(incident_id, reason, how))

    def close_incident(self, incident_id: str, reason: str, how: str = 'resolved') -> bool:
        """:meth:`resolve_incident`, to be called on the clock thread.

        Args:
            incident_id: the incident's id.
            reason: the reason sent with the event.
            how: ``'resolved'`` (the default) or ``'cancelled'``.

        Returns:
            True when the incident was closed; False for an unknown or already
            closed incident.
        """
        incident = self.incidents.get(incident_id)
        if incident is None or incident['state'] != 'open':
            return False
        incident['state'], incident['reason'] = how, reason
        run = incident['run']
        self.note(RELAY, 'incident', f'incident {incident_id} {how} by an operator: {q(reason)}',
                  run.number)
        run.emit('incident', type=how, incident_id=incident_id, reason=reason)
        return True

    # ------------------------------------------------------------- waiting
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Block until ``predicate()`` is true or ``timeout`` real seconds pass.

        The predicate is checked at once, after every task of the clock
        thread, and at least every 50 ms.  Do not call it on the clock thread.

        Args:
            predicate: a function of no arguments, e.g.
                ``lambda: len(alice.heard) == 2``.  Its exceptions propagate.
            timeout: real seconds to wait at most (default 5.0).

        Returns:
            The predicate's last value: true when the condition was met, false
            at the timeout (no exception is raised).
        """
        return self.clock.wait_for(predicate, timeout)

    # ------------------------------------------------------------- closing
    def stop_run(self, run: Run, reason: str = 'stopped') -> None:
        """End a run from the server side.

        Sends ``wf_api_stop_event {reason}`` and closes the connection
        (without waiting for the close to complete); nothing happens when the
        run is already over or stopping.  Any thread.

        Args:
            run: the run to end.
            reason: the stop event's ``reason`` (default ``'stopped'``).
        """
        self.clock.run_sync(lambda: run.stop(reason))

    def close(self, reason: str = 'stopped') -> None:
        """Stop everything the simulator runs.  Idempotent.

        Every run still going gets ``wf_api_stop_event`` and its connection is
        closed (each close waits a few real seconds at most); then the clock
        thread stops and, if the simulator started it, the workflow server
        stops (without draining).  A ``Server`` its owner had already started
        is left running.

        Args:
            reason: the stop events' ``reason`` (default ``'stopped'``).
        """
        if self._closed:
            return
        self._closed = True
        live = [r for r in self.runs if not r.done]
        if live:
            try:
                self.clock.run_sync(lambda: _each(live, lambda r: r.stop(reason)))
            except TimeoutError:  # pragma: no cover - a wedged clock
                pass
        for run in live:
            run.close_now(timeout=2.0)
        try:  # let the close reports queued meanwhile run, then settle the rest
            self.clock.run_sync(lambda: _each(live, Run.closed_by_simulator))
            for page in self._pages:  # the pages see the final state before 'bye'
                page.refresh()
            self.clock.run_sync(lambda: None)
        except TimeoutError:  # pragma: no cover - a wedged clock
            pass
        for page in self._pages:
            page.close()
        self.clock.stop()
        if self._error_listener is not None and self._server is not None:
            self._server.remove_error_listener(self._error_listener)
        if self._own_server and self._server is not None:
            self._server.stop(drain_timeout=0)

    def serve_ui(self, port: int = 0, *, open_browser: bool = False,
                 title: Optional[str] = None, **options: Any) -> Any:
        """Show this simulator on a web page: each device drawn with its LED
        ring, its controls, the account and the live transcript.

        The page is served on 127.0.0.1 until the simulator closes; a page
        left open reconnects to a simulator served again on the same port.

        Args:
            port: the TCP port (default 0: a free one; see ``url``).
            open_browser: open the page in the default browser (default False).
            title: what the page calls the workflow (default: its URL).
            **options: further :class:`~relaysync.simulator.ui.UiServer`
                arguments (``restart``, ``quit``, ``start_vars``, ``runner``).

        Returns:
            The :class:`~relaysync.simulator.ui.UiServer`; its ``url`` is the
            page's address.

        Raises:
            RuntimeError: the simulator is closed.
            OSError: the port cannot be bound.
        """
        if self._closed:
            raise RuntimeError('the simulator is closed')
        from .ui import UiServer
        page = UiServer(self, port, title=title, **options)
        self._pages.append(page)
        if open_browser:
            page.open_browser()
        return page

    def __enter__(self) -> 'Simulator':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<Simulator {self.url} devices={list(self.devices)} runs={len(self.runs)}>'


def _each(runs: List[Run], action: Callable[[Run], None]) -> None:
    for run in runs:
        action(run)
