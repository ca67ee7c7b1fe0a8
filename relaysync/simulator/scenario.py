"""Scenarios: scripted device behaviour for a simulation, as a small JSON file.

A scenario says which devices exist, which one triggers the workflow and how,
what users say when the workflow listens, and what they do (press buttons,
acknowledge alerts, answer calls) and when.  Every key is optional::

    {
      "devices": [
        {"name": "Alice", "type": "relay2", "battery": 80, "says": ["Bob"]},
        {"name": "Bob", "ack_alerts": 1.5},
        {"name": "Carol", "id": "990007560000003", "location_enabled": false}
      ],
      "groups": {"team": ["Bob", "Carol"]},
      "trigger": {"device": "Alice", "type": "phrase",
                  "args": {"phrase": "help"}, "vars": {"group": "team"}},
      "steps": [
        {"device": "Alice", "press": "action single", "after_heard": "tap the button"},
        {"device": "Alice", "press": "action double", "at": 5},
        {"device": "Bob", "ack": "help_alert", "after": "notification", "delay": 0.5}
      ],
      "options": {"time_scale": 0.05, "timeout": 20, "pace": false,
                  "slow": {"notification": 2}, "translations": {"es-ES": {"hello": "hola"}}}
    }

Devices take the properties of :meth:`Simulator.device`; ``says`` lists the
answers to successive listens (``null`` = silence); ``ack_alerts`` /
``answer_calls`` are the seconds after which the device acknowledges alerts /
answers calls by itself.  The first device triggers unless ``trigger.device``
says otherwise; the default trigger is a single tap of the action button.

Steps run one after the other.  Each waits for its condition, then ``delay``
more seconds, then acts:

* conditions: ``"at": S`` (S simulated seconds after the trigger),
  ``"after_heard": TEXT`` (the device heard a text containing TEXT),
  ``"after": KIND`` (a transcript entry of that kind for the device:
  ``interaction``, ``notification``, ``listen``, ``call``, ``heard``...,
  optionally with ``"text"`` it must contain).  A step with no condition
  acts right after the previous one; the first such step waits for an
  interaction to start on its device.  Only entries from the previous
  step's action on count.
* actions: ``"press": "action single"`` (button and taps), ``"say": TEXT``,
  ``"ack": NAME`` (or ``true`` for any alert), ``"answer": true``,
  ``"hang_up": true``, ``"call": URI`` (ask the assistant to call),
  ``"set": {"battery": 5}`` (change device properties),
  ``"resolve_incident": REASON`` (an operator resolves the run's latest open
  incident).
* device events, for a workflow that subscribed to them (``Relay.subscribe``):
  ``"position": METADATA``, ``"geofence": LABEL``, ``"nfc_tap": UID``,
  ``"http_post": PAYLOAD``, or an object of the matching
  :class:`~relaysync.simulator.VirtualDevice` method's arguments
  (``{"geofence_label": "dock", "transition": "exit"}``).  Without a
  condition, such a step waits until the workflow has subscribed to that
  kind of event on its device.
* ``"resolve_incident"`` without a condition waits until the workflow has an
  open incident.

Times are simulated seconds (scaled by ``time_scale``): finite, from 0 to
:data:`MAX_SECONDS` (a day).
"""

import json
import math
from typing import Any, Dict, List, Optional, Tuple

from .devices import BUTTONS, TAPS
from .errors import SimulatorError
from .transcript import RELAY, Entry

OPTION_KEYS = ('time_scale', 'pace', 'timeout', 'slow', 'translations', 'route_all_buttons',
               'progress_interval', 'refresh_delay', 'ring_timeout')
DEVICE_KEYS = ('name', 'id', 'type', 'battery', 'address', 'latlong', 'indoor_location',
               'username', 'location_enabled', 'ack_alerts', 'answer_calls', 'inbox', 'says')
TRIGGER_KEYS = ('device', 'type', 'args', 'vars')
CONDITIONS = ('at', 'after_heard', 'after')
#: device-event action -> (its VirtualDevice method's arguments, the subscription it needs)
EVENT_ACTIONS = {
    'position': (('position_metadata', 'position_tags', 'transition'), 'indoor_position'),
    'geofence': (('geofence_label', 'transition'), 'outdoor_position'),
    'nfc_tap': (('uid', 'tag_content', 'counter'), 'nfc_tap'),
    'http_post': (('payload', 'headers', 'query'), 'http_post'),
}
ACTIONS = ('press', 'say', 'ack', 'answer', 'hang_up', 'call', 'set',
           'resolve_incident') + tuple(EVENT_ACTIONS)
STEP_KEYS = ('device', 'delay', 'text', 'heard_by') + CONDITIONS + ACTIONS
#: The longest time a scenario may give in seconds (a day): a step's ``at`` and
#: ``delay``, a device's ``ack_alerts``/``answer_calls``, the timing options.
MAX_SECONDS = 86400.0
#: Device events whose main field may be any JSON value (the others take a text).
_ANY_VALUE = ('position', 'http_post')


class ScenarioError(SimulatorError, ValueError):
    """A scenario is malformed or unreadable; the message says where
    (``steps[2]: ...``).  Also a ``ValueError``."""


def _expect(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise ScenarioError(f'{where}: {message}')


def _keys(obj: Any, allowed: Tuple[str, ...], where: str) -> None:
    _expect(isinstance(obj, dict), where, 'must be an object')
    unknown = sorted(set(obj) - set(allowed))
    _expect(not unknown, where, f'unknown key(s) {", ".join(unknown)} '
                                f'(allowed: {", ".join(allowed)})')


def check_seconds(value: Any, where: str, minimum: float = 0.0, above: bool = False) -> float:
    """A number of seconds, checked: finite, at least ``minimum`` (more than it
    with ``above``) and at most :data:`MAX_SECONDS`.

    Args:
        value: the value given.
        where: what it is, for the message (``'steps[2].delay'``, ``'--press'``...).
        minimum: the smallest value allowed (default 0).
        above: ``minimum`` itself is not allowed (default False).

    Returns:
        The value as a float.

    Raises:
        ScenarioError: not a number, not finite, or out of range.
    """
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and (value > minimum if above else value >= minimum)
          and value <= MAX_SECONDS)
    lowest = f'above {minimum:g}' if above else f'from {minimum:g}'
    _expect(ok, where, f'give a number of seconds {lowest} to {MAX_SECONDS:g} (a day), '
                       f'got {value!r}')
    return float(value)


def event_fields(action: str, value: Any, where: str = '') -> Dict[str, Any]:
    """The arguments of a device event's :class:`~relaysync.simulator.VirtualDevice`
    method, checked (scenario steps, ``relaysync simulate --event`` and the page
    all go through here).

    Args:
        action: ``'position'``, ``'geofence'``, ``'nfc_tap'`` or ``'http_post'``.
        value: the event's main field (a tag uid, a geofence label, a position,
            a payload), or an object of the method's arguments
            (``{"geofence_label": "dock", "transition": "exit"}``).
        where: what is checked, for the message (default: the action).

    Returns:
        The keyword arguments for the device method.

    Raises:
        ScenarioError: an unknown event or argument, a missing or empty main
            field, a ``transition`` other than entry/exit, position tags that
            are not a list of texts.
    """
    where = where or action
    _expect(action in EVENT_ACTIONS, where, f'the device event is one of '
                                            f'{", ".join(EVENT_ACTIONS)}')
    params = EVENT_ACTIONS[action][0]
    main = params[0]
    if isinstance(value, dict):
        _keys(value, params, where)
        _expect(main in value, where, f'needs "{main}"')
        fields = dict(value)
    else:
        fields = {main: value}
    if action not in _ANY_VALUE:
        _expect(isinstance(fields[main], str) and fields[main].strip() != '', where,
                f'"{main}" must be a non-empty text, got {fields[main]!r}')
    elif isinstance(fields[main], str):
        _expect(fields[main].strip() != '', where, f'"{main}" must not be empty')
    _expect(fields.get('transition', 'entry') in ('entry', 'exit'), where,
            '"transition" must be "entry" or "exit"')
    tags = fields.get('position_tags')
    _expect(tags is None or (isinstance(tags, list) and all(isinstance(t, str) for t in tags)),
            where, '"position_tags" must be a list of texts')
    counter = fields.get('counter')
    _expect(counter is None or isinstance(counter, str), where, '"counter" must be a text')
    return fields


def parse_event_value(action: str, text: str, where: str = '') -> Any:
    """A device event's value as typed on the command line or the page.

    A JSON object whose keys are the event's argument names gives those
    arguments; for ``position`` and ``http_post``, any other JSON object (or
    array) is the position's metadata or the POST's payload itself; any other
    text is the main field as it is.

    Args:
        action: the device event (a key of :data:`EVENT_ACTIONS`).
        text: what was typed.
        where: what is parsed, for the message.

    Returns:
        The value for :func:`event_fields` (checked by it).

    Raises:
        ScenarioError: a JSON value that does not parse, or a bad value.
    """
    where = where or action
    _expect(action in EVENT_ACTIONS, where, f'the device event is one of '
                                            f'{", ".join(EVENT_ACTIONS)}')
    value: Any = text
    if text.lstrip().startswith(('{', '[')):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise ScenarioError(f'{where}: the value is not valid JSON ({exc})') from None
        params = EVENT_ACTIONS[action][0]
        is_fields = isinstance(value, dict) and value and set(value) <= set(params)
        if not is_fields:
            _expect(action in _ANY_VALUE, where,
                    f'a JSON value must be an object of {", ".join(params)}')
            value = {params[0]: value}
    event_fields(action, value, where)
    return value


def parse_press(spec: str) -> Tuple[str, str]:
    """``'action single'``, ``'action:double'`` or ``'channel'`` → (button, taps)."""
    parts = spec.replace(':', ' ').split()
    if len(parts) == 1:
        parts.append('single')
    if len(parts) != 2 or parts[0] not in BUTTONS or parts[1] not in TAPS:
        raise ScenarioError(f'press {spec!r}: write "BUTTON TAPS" with BUTTON one of '
                            f'{"/".join(BUTTONS)} and TAPS one of {"/".join(TAPS)}')
    return parts[0], parts[1]


class Scenario:
    """A validated scenario (see the module documentation for the format).

    Args:
        data: the parsed JSON object (default None: an empty scenario, one
            device triggering with a single tap).
        labels: how reports name each step (default ``steps[0]``,
            ``steps[1]``...); ``relaysync simulate`` names its options.

    Attributes:
        devices: the device objects (``name`` and properties).
        groups: ``{group name: [device names]}``.
        trigger: the trigger object (``device``, ``type``, ``args``, ``vars``).
        steps: the step objects, in order.
        options: the options (:class:`~relaysync.simulator.Simulator`
            arguments and ``timeout``).
        labels: how reports name each step, in order.
        runner: what plays the steps of the latest run :meth:`start` made
            (None before, or when there are no steps).

    Raises:
        ScenarioError: unknown keys, wrong types, or a step without an action.
    """

    def __init__(self, data: Optional[Dict[str, Any]] = None,
                 labels: Optional[List[str]] = None) -> None:
        data = {} if data is None else data
        _keys(data, ('devices', 'groups', 'trigger', 'steps', 'options'), 'scenario')
        self.devices: List[Dict[str, Any]] = list(data.get('devices', []))
        self.groups: Dict[str, List[str]] = dict(data.get('groups', {}))
        self.trigger: Dict[str, Any] = dict(data.get('trigger', {}))
        self.steps: List[Dict[str, Any]] = list(data.get('steps', []))
        self.options: Dict[str, Any] = dict(data.get('options', {}))
        self.runner: Optional[StepRunner] = None
        self.validate()
        self.labels: List[str] = list(labels or [])
        self.labels += [f'steps[{i}]' for i in range(len(self.labels), len(self.steps))]

    @classmethod
    def load(cls, path: str) -> 'Scenario':
        """Read a scenario file.

        Args:
            path: the JSON file (UTF-8).

        Returns:
            The validated :class:`Scenario`.

        Raises:
            ScenarioError: unreadable, not JSON, or malformed.
        """
        try:
            with open(path, encoding='utf-8') as f:
                data = json.load(f)
        except OSError as exc:
            raise ScenarioError(f'cannot read scenario {path}: {exc}') from None
        except ValueError as exc:
            raise ScenarioError(f'scenario {path} is not valid JSON: {exc}') from None
        return cls(data)

    def validate(self) -> None:
        """Check the structure (the constructor calls it).

        Raises:
            ScenarioError: the first problem found, naming the bad part.
        """
        names = []
        for i, device in enumerate(self.devices):
            where = f'devices[{i}]'
            _keys(device, DEVICE_KEYS, where)
            _expect(isinstance(device.get('name'), str) and device['name'], where,
                    'needs a "name"')
            names.append(device['name'])
            _expect(isinstance(device.get('says', []), list), where, '"says" must be a list')
            for key in ('ack_alerts', 'answer_calls'):
                if device.get(key) is not None:
                    check_seconds(device[key], f'{where}.{key}')
        _expect(isinstance(self.groups, dict), 'groups', 'must be an object')
        for name, members in self.groups.items():
            _expect(isinstance(members, list) and all(isinstance(m, str) for m in members),
                    f'groups.{name}', 'must be a list of device names')
        _keys(self.trigger, TRIGGER_KEYS, 'trigger')
        _expect(isinstance(self.trigger.get('args', {}), dict), 'trigger.args',
                'must be an object')
        _expect(isinstance(self.trigger.get('vars', {}), dict), 'trigger.vars',
                'must be an object')
        _keys(self.options, OPTION_KEYS, 'options')
        for key, above in (('time_scale', True), ('timeout', True),
                           ('progress_interval', True), ('ring_timeout', True),
                           ('refresh_delay', False)):
            if key in self.options:
                check_seconds(self.options[key], f'options.{key}', above=above)
        slow = self.options.get('slow', {})
        _expect(isinstance(slow, dict), 'options.slow', 'must be an object')
        for name, seconds in slow.items():
            check_seconds(seconds, f'options.slow.{name}')
        for i, step in enumerate(self.steps):
            where = f'steps[{i}]'
            _keys(step, STEP_KEYS, where)
            actions = [a for a in ACTIONS if a in step]
            _expect(len(actions) == 1, where, f'needs exactly one action of '
                                              f'{", ".join(ACTIONS)}')
            _expect(sum(c in step for c in CONDITIONS) <= 1, where,
                    f'at most one condition of {", ".join(CONDITIONS)}')
            if 'press' in step:
                try:
                    parse_press(step['press'])
                except (ScenarioError, AttributeError) as exc:
                    raise ScenarioError(f'{where}: {exc}') from None
            if 'set' in step:
                _keys(step['set'], DEVICE_KEYS[1:], f'{where}.set')
            if 'resolve_incident' in step:
                _expect(isinstance(step['resolve_incident'], str), f'{where}.resolve_incident',
                        'give a reason (a text)')
            for action in EVENT_ACTIONS:
                if action in step:
                    event_fields(action, step[action], f'{where}.{action}')
            for key in ('at', 'delay'):
                if key in step:
                    check_seconds(step[key], f'{where}.{key}')

    # ----------------------------------------------------------- applying
    def simulator_options(self) -> Dict[str, Any]:
        """The options to pass to :class:`~relaysync.simulator.Simulator`.

        Returns:
            A new dict of the ``options``, all but ``timeout``.
        """
        return {k: v for k, v in self.options.items() if k != 'timeout'}

    def setup(self, sim: Any) -> None:
        """Create the scenario's devices and groups in ``sim``.

        Args:
            sim: the :class:`~relaysync.simulator.Simulator`; devices it
                already has get the scenario's properties.

        Raises:
            ValueError: a device ``type`` the simulator does not know.
        """
        for spec in self.devices:
            props = {k: v for k, v in spec.items() if k != 'name'}
            sim.device(spec['name'], **props)
        for name, members in self.groups.items():
            sim.group(name, members)

    def start(self, sim: Any) -> Any:
        """Set up, trigger the workflow and start playing the steps.

        The steps play on the simulator's clock thread; this returns at once.

        Args:
            sim: the :class:`~relaysync.simulator.Simulator`.

        Returns:
            The triggered :class:`~relaysync.simulator.Run`.

        Raises:
            HandshakeFailed: the workflow could not be reached (see
                :meth:`Simulator.trigger`).
            ValueError: a device ``type`` the simulator does not know.
        """
        self.setup(sim)
        return self.trigger_again(sim)

    def trigger_again(self, sim: Any) -> Any:
        """Trigger the workflow as the scenario says and play its steps, without
        setting up the devices and groups again (a restart).

        Args:
            sim: the :class:`~relaysync.simulator.Simulator`.

        Returns:
            The triggered :class:`~relaysync.simulator.Run`; :attr:`runner`
            plays its steps.

        Raises:
            HandshakeFailed: the workflow could not be reached.
        """
        device = self.trigger.get('device')
        run = sim.trigger(device, type=self.trigger.get('type', 'button'),
                          vars=self.trigger.get('vars'), **self.trigger.get('args', {}))
        self.runner = StepRunner(sim, run, self.steps, self.labels) if self.steps else None
        if self.runner is not None:
            self.runner.begin()
        return run


class StepRunner:
    """Plays a scenario's steps, in order, on the simulator's clock thread.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator`.
        run: the run the steps are for (they stop when it ends).
        steps: the validated steps.
        labels: how reports name each step (default ``steps[0]``, ...).

    Attributes:
        index: the number of steps done so far (the index of the next one).
        labels: as given.
    """

    def __init__(self, sim: Any, run: Any, steps: List[Dict[str, Any]],
                 labels: Optional[List[str]] = None) -> None:
        self.sim = sim
        self.run = run
        self.steps = steps
        self.labels = list(labels or [])
        self.labels += [f'steps[{i}]' for i in range(len(self.labels), len(steps))]
        self.index = 0
        self.since = 0  # transcript index from which entries count
        self.t0 = run.started_at
        self.waiting = False
        self.due: Optional[float] = None  # simulated time the armed step acts at

    def begin(self) -> None:
        """Arm the first step (any thread)."""
        self.sim.clock.call_soon(self._arm)

    # ------------------------------------------------------------ reporting
    def pending(self) -> List[str]:
        """The labels of the steps not done yet, in order (any thread)."""
        return self.labels[self.index:len(self.steps)]

    def awaiting(self) -> Optional[str]:
        """What the next step waits for, in words (clock thread); None when
        every step is done."""
        if self.index >= len(self.steps):
            return None
        step = self.steps[self.index]
        if self.due is not None and not self.waiting:
            return f'its time, {max(0.0, self.due - self.sim.clock.now()):.1f} s from now'
        who = step.get('device', self.run.device.name)
        if 'at' in step:
            return f'{step["at"]:g} s after the trigger'
        if 'after_heard' in step:
            return f'{step.get("heard_by", who)} to hear {json.dumps(step["after_heard"])}'
        if 'after' in step:
            text = f' containing {json.dumps(step["text"])}' if step.get('text') else ''
            return f'a "{step["after"]}" entry for {step.get("heard_by", who)}{text}'
        kind = self._subscription(step)
        if kind is not None:
            return f'the workflow to subscribe to {kind} events on {who}'
        if self._incident_step(step):
            return 'the workflow to open an incident'
        return f'an interaction to start on {step.get("heard_by", who)}'

    # ------------------------------------------------------------- playing
    def _device(self, step: Dict[str, Any]) -> Any:
        return self.sim.device(step['device']) if 'device' in step else self.run.device

    def _schedule(self, delay: float) -> None:
        self.waiting = False
        self.due = self.sim.clock.now() + delay
        self.sim.clock.call_later(delay, self._fire)

    def _wait(self) -> None:
        self.waiting = True
        self.due = None
        if self._on_entry not in self.sim.listeners:
            self.sim.listeners.append(self._on_entry)

    def _arm(self) -> None:
        self.due = None
        if self.index >= len(self.steps) or self.run.done:
            if self._on_entry in self.sim.listeners:
                self.sim.listeners.remove(self._on_entry)
            return
        step = self.steps[self.index]
        if 'at' in step:
            wait = max(0.0, self.t0 + step['at'] - self.sim.clock.now())
            self._schedule(wait + step.get('delay', 0))
            return
        if self._subscription(step) is not None or self._incident_step(step):
            if self._ready(step):
                self._schedule(step.get('delay', 0))
            else:
                self._wait()
            return
        if self.index > 0 and not any(c in step for c in CONDITIONS):
            self._schedule(step.get('delay', 0))  # right after the last
            return
        for entry in self.sim.transcript[self.since:]:
            if self._matches(step, entry):
                self._schedule(step.get('delay', 0))
                return
        self._wait()

    def _subscription(self, step: Dict[str, Any]) -> Optional[str]:
        """The subscription a device-event step without a condition waits for."""
        if any(c in step for c in CONDITIONS):
            return None
        action = next((a for a in EVENT_ACTIONS if a in step), None)
        return EVENT_ACTIONS[action][1] if action else None

    @staticmethod
    def _incident_step(step: Dict[str, Any]) -> bool:
        """A resolve_incident step without a condition (it waits for an open incident)."""
        return 'resolve_incident' in step and not any(c in step for c in CONDITIONS)

    def _ready(self, step: Dict[str, Any]) -> bool:
        if self._incident_step(step):
            return any(i['state'] == 'open' and i['run'] is self.run
                       for i in self.sim.incidents.values())
        kind = self._subscription(step)
        runs = self._device(step).subscribers.get(kind, [])
        return any(not r.done for r in runs)

    def _matches(self, step: Dict[str, Any], entry: Entry) -> bool:
        if self._subscription(step) is not None:
            return entry.kind == 'subscribe' and self._ready(step)
        if self._incident_step(step):
            return entry.kind == 'incident' and self._ready(step)
        who = step.get('heard_by', step.get('device', self.run.device.name))
        if entry.who != who:
            return False
        if 'after_heard' in step:
            return entry.kind == 'heard' and step['after_heard'].lower() in entry.text.lower()
        kind = step.get('after', 'interaction')
        if entry.kind != kind:
            return False
        if 'after' not in step and 'started' not in entry.text:
            return False
        return step.get('text', '').lower() in entry.text.lower()

    def _on_entry(self, entry: Entry) -> None:
        if not self.waiting or self.index >= len(self.steps):
            return
        step = self.steps[self.index]
        if 'at' not in step and self._matches(step, entry):
            self._schedule(step.get('delay', 0))

    def _fire(self) -> None:
        if self.run.done:
            return
        step = self.steps[self.index]
        self.since = len(self.sim.transcript)  # what the action causes counts for the next step
        self._act(step, self._device(step))
        self.index += 1
        self._arm()

    def _act(self, step: Dict[str, Any], device: Any) -> None:
        sim = self.sim
        if 'press' in step:
            sim.press(device, *parse_press(step['press']))
        elif 'say' in step:
            sim.speak(device, step['say'])
        elif 'ack' in step:
            name = step['ack'] if isinstance(step['ack'], str) and step['ack'] != '*' else None
            sim.acknowledge(device, name)
        elif 'answer' in step:
            sim.calls.answer_by_device(device, None)
        elif 'hang_up' in step:
            sim.calls.hang_up_by_device(device, None)
        elif 'call' in step:
            sim.request_call(device, step['call'])
        elif 'set' in step:
            for key, value in step['set'].items():
                setattr(device, key, value)
        elif 'resolve_incident' in step:
            open_ids = [i for i, inc in sim.incidents.items() if inc['state'] == 'open']
            mine = [i for i in open_ids if sim.incidents[i]['run'] is self.run]
            if mine or open_ids:
                sim.close_incident((mine or open_ids)[-1], step['resolve_incident'])
            else:
                sim.note(RELAY, 'note', f'no open incident to resolve '
                                        f'({self.labels[self.index]})', self.run.number)
        else:
            action = next(a for a in EVENT_ACTIONS if a in step)
            getattr(device, action)(**event_fields(action, step[action]))
