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
from .clock import Clock
from .devices import INPUT_TYPES, Group, VirtualDevice
from .handlers import account, calls, interactions
from .run import Run
from .transcript import RELAY, Entry, lines
from .transcript import quote as q

logger = logging.getLogger('relaysync.simulator')

TRIGGER_DEFAULTS: Dict[str, Dict[str, Any]] = {
    'button': {'action': 'action_button_single_tap'},
    'phrase': {'phrase': 'hello', 'spillover': ''},
    'http': {'args': {}},
    'nfc': {'uid': '04a2b3c4d5e6f7', 'nfc_payload': {}},
}


class Simulator:
    """The simulated Relay server: virtual devices, groups, and workflow runs.

    Args:
        target: what to simulate against: a relaysync ``Workflow`` (served
            in-process on 127.0.0.1), a relaysync ``Server`` (started if
            needed), or a ``ws://``/``wss://`` URL of any workflow server.
        path: the workflow path (for a Server with several paths, or a URL
            without a path).
        time_scale: real seconds per simulated second (0.01 = a hundred times
            faster); applies to timers, pacing, slow requests and scripted times.
        pace: when True, speech takes time in proportion to its length
            (prompt ``stopped`` comes later); else prompts finish at once.
        route_all_buttons: send every button press to the workflow, even when
            the foreground interaction did not ask for it (``input_types``).
        progress_interval: simulated seconds between progress events of a
            slow request.
        refresh_delay: simulated seconds a ``get_device_info`` with
            ``refresh: true`` takes.
        ring_timeout: simulated seconds an unanswered call rings before it fails.
        slow: ``{request name: simulated seconds}`` for requests to answer
            slowly (with progress events), e.g. ``{'notification': 2}``.
        translations: ``{to_lang: {text: translation}}`` for ``translate``.
        connect_timeout: real seconds allowed to open each connection.

    Attributes:
        devices: ``{name: VirtualDevice}``.
        groups: ``{name: Group}``.
        runs: every :class:`~relaysync.simulator.Run` so far.
        transcript: every :class:`~relaysync.simulator.transcript.Entry`.
        incidents: ``{incident_id: dict}``; analytics, sms: lists of records.
        url: the URL connected to for each run.
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
                self.report_crash(f'[{conn.id}] on_{name} handler raised (path {conn.path})\n'
                                  + text)
        self._error_listener = listener
        self._server.add_error_listener(listener)

    def report_crash(self, text: str) -> None:
        """Record that a workflow handler raised (``text``: the report, e.g. a
        traceback) on every run still in progress.  Any thread."""
        for run in list(self.runs):
            if not run.done:
                run.crashes.append(text)
        self.clock.call_soon(lambda: self.note(RELAY, 'crash', 'a workflow handler raised: '
                                               + text.strip().splitlines()[-1]))

    # -------------------------------------------------------------- account
    def next_number(self, kind: str) -> int:
        """1, 2, 3... per ``kind`` (used for generated ids)."""
        self._counters[kind] = self._counters.get(kind, 0) + 1
        return self._counters[kind]

    def device(self, name: str, **properties: Any) -> VirtualDevice:
        """The virtual device called ``name``, created if new; given properties
        (``id``, ``type``, ``battery``, ``address``, ``latlong``,
        ``indoor_location``, ``username``, ``location_enabled``, ``ack_alerts``,
        ``answer_calls``, ``inbox``, ``says``) are set on it.

        Raises:
            ValueError: a bad name or device type.
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
        """Create (or replace) the group ``name`` with ``members`` (devices or
        device names; unknown names become new devices)."""
        def make() -> Group:
            devices = [m if isinstance(m, VirtualDevice) else self.device(m) for m in members]
            old = self.groups.get(name)
            group = Group(name, devices, old.id if old else f'grp_{self.next_number("group")}')
            self.groups[name] = group
            return group
        return self.clock.run_sync(make)

    def find_device(self, uri: str) -> Optional[VirtualDevice]:
        """The device a device URN (name or id) or interaction URN names, else None."""
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
        """The group a group URN (name or id, query ignored) names, else None."""
        base = uri.partition('?')[0] if isinstance(uri, str) else uri
        name = urns.parse_group_name(base)
        if name is not None:
            return self.groups.get(name)
        gid = urns.parse_group_id(base)
        return next((g for g in self.groups.values() if g.id == gid), None) if gid else None

    def rename_device(self, device: VirtualDevice, name: str) -> None:
        """Rename ``device``; its old name keeps resolving (clock thread)."""
        self.devices.pop(device.name, None)
        self._aliases[device.name] = device
        device.name = name
        self.devices[name] = device

    def label(self, uri: Any) -> str:
        """A short readable name for a URN: a device name, ``group team`` ..."""
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
        """Add a transcript entry (clock thread) and tell the listeners."""
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
        """The whole transcript as text lines (see :meth:`Run.lines`)."""
        return lines(self.transcript, times, kinds, who)

    def speech_seconds(self, text: Optional[str]) -> float:
        """Simulated seconds a prompt or an answer takes: 0 unless pacing, then
        0.4 s per word (at least 0.5 s)."""
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
            type: the trigger type: ``button`` (args ``action``), ``phrase``
                (``phrase``, ``spillover``), ``http`` (``args``), ``nfc``,
                ``emergency``, ``other``...
            vars: instance variables the run starts with (registration args).
            **args: trigger args, over the defaults for the type.

        Returns:
            The :class:`~relaysync.simulator.Run`.

        Raises:
            HandshakeFailed: the workflow server could not be reached or
                refused the connection (e.g. an unknown path).
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
        """The run a device's input goes to: the owner of its foreground
        interaction, else its latest live run, else the latest live run."""
        if device.foreground is not None:
            return device.foreground.run
        live = [r for r in self.runs if not r.done]
        mine = [r for r in live if r.device is device]
        return (mine or live or [None])[-1]

    # ------------------------------------------------- device actions (clock)
    def press(self, device: VirtualDevice, button: str, taps: str) -> bool:
        """A button press on ``device`` (clock thread); see ``VirtualDevice.press``."""
        device.pressed.append((button, taps))
        fg = device.foreground
        wanted = INPUT_TYPES.get((button, taps))
        if fg is not None and (self.route_all_buttons
                               or wanted in fg.options.get('input_types', [])):
            self.note(device.name, 'button', f'pressed {button} {taps}', fg.run.number)
            return fg.run.emit('button', button=button, taps=taps, source_uri=fg.uri)
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
        """``device`` speaks (clock thread); see ``VirtualDevice.say``."""
        if device.listening is not None:
            return interactions.answer(device, text)
        device.answers.append(text)
        return False

    def acknowledge(self, device: VirtualDevice, name: Optional[str]) -> bool:
        """``device`` acknowledges an alert (clock thread)."""
        return account.acknowledge(device, name=name)

    def request_call(self, device: VirtualDevice, uri: str) -> bool:
        """``device`` asks to call ``uri`` (clock thread)."""
        run = self.run_for(device)
        if run is None:
            return False
        self.note(device.name, 'call', f'asked to call {self.label(uri)}', run.number)
        return run.emit('call_start_request', uri=uri, source_uri=device.urn)

    # -------------------------------------------------- operator actions
    def resolve_incident(self, incident_id: str, reason: str = 'resolved',
                         how: str = 'resolved') -> bool:
        """Resolve (``how='resolved'``) or cancel (``how='cancelled'``) an
        incident from outside the workflow, as an operator in Dash would: the
        workflow that created it gets ``wf_api_incident_event``.  Returns
        False for an unknown or already closed incident."""
        return self.clock.run_sync(lambda: self.close_incident(incident_id, reason, how))

    def close_incident(self, incident_id: str, reason: str, how: str = 'resolved') -> bool:
        """:meth:`resolve_incident` on the clock thread."""
        incident = self.incidents.get(incident_id)
        if incident is None or incident['state'] != 'open':
            return False
        incident['state'], incident['reason'] = how, reason
        run = incident['run']
        self.note(RELAY, 'incident', f'incident {incident_id} {how} by an operator: {reason}',
                  run.number)
        run.emit('incident', type=how, incident_id=incident_id, reason=reason)
        return True

    # ------------------------------------------------------------- waiting
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Block until ``predicate()`` is true (checked after every simulated
        step) or ``timeout`` real seconds pass; returns its last value."""
        return self.clock.wait_for(predicate, timeout)

    # ------------------------------------------------------------- closing
    def stop_run(self, run: Run, reason: str = 'stopped') -> None:
        """End a run from the server side: stop event, then close."""
        self.clock.run_sync(lambda: run.stop(reason))

    def close(self, reason: str = 'stopped') -> None:
        """Stop every run still going (stop event ``reason``, close), stop the
        clock and, if the simulator started it, the workflow server.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        live = [r for r in self.runs if not r.done]
        if live:
            try:
                self.clock.run_sync(lambda: [r.stop(reason) for r in live])
            except TimeoutError:  # pragma: no cover - a wedged clock
                pass
        for run in live:
            run.close_now(timeout=2.0)
        try:  # let the close reports queued meanwhile run, then settle the rest
            self.clock.run_sync(lambda: [r.closed_by_simulator() for r in live])
        except TimeoutError:  # pragma: no cover - a wedged clock
            pass
        self.clock.stop()
        if self._error_listener is not None and self._server is not None:
            self._server.remove_error_listener(self._error_listener)
        if self._own_server and self._server is not None:
            self._server.stop(drain_timeout=0)

    def __enter__(self) -> 'Simulator':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f'<Simulator {self.url} devices={list(self.devices)} runs={len(self.runs)}>'
