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
  ``"resolve_incident": REASON`` (an operator resolves the latest open incident).
* device events, for a workflow that subscribed to them (``Relay.subscribe``):
  ``"position": METADATA``, ``"geofence": LABEL``, ``"nfc_tap": UID``,
  ``"http_post": PAYLOAD``, or an object of the matching
  :class:`~relaysync.simulator.VirtualDevice` method's arguments
  (``{"geofence_label": "dock", "transition": "exit"}``).  Without a
  condition, such a step waits until the workflow has subscribed to that
  kind of event on its device.

Times are simulated seconds (scaled by ``time_scale``).
"""

import json
from typing import Any, Dict, List, Optional, Tuple

from .devices import BUTTONS, TAPS
from .errors import SimulatorError
from .transcript import Entry

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

    Attributes:
        devices: the device objects (``name`` and properties).
        groups: ``{group name: [device names]}``.
        trigger: the trigger object (``device``, ``type``, ``args``, ``vars``).
        steps: the step objects, in order.
        options: the options (:class:`~relaysync.simulator.Simulator`
            arguments and ``timeout``).
        runner: what plays the steps of the latest run :meth:`start` made
            (None before, or when there are no steps).

    Raises:
        ScenarioError: unknown keys, wrong types, or a step without an action.
    """

    def __init__(self, data: Optional[Dict[str, Any]] = None) -> None:
        data = {} if data is None else data
        _keys(data, ('devices', 'groups', 'trigger', 'steps', 'options'), 'scenario')
        self.devices: List[Dict[str, Any]] = list(data.get('devices', []))
        self.groups: Dict[str, List[str]] = dict(data.get('groups', {}))
        self.trigger: Dict[str, Any] = dict(data.get('trigger', {}))
        self.steps: List[Dict[str, Any]] = list(data.get('steps', []))
        self.options: Dict[str, Any] = dict(data.get('options', {}))
        self.runner: Optional[StepRunner] = None
        self.validate()

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
        for key, minimum in (('time_scale', 0), ('timeout', 0), ('progress_interval', 0),
                             ('ring_timeout', 0), ('refresh_delay', -1)):
            if key in self.options:
                value = self.options[key]
                _expect(not isinstance(value, bool) and isinstance(value, (int, float))
                        and value > minimum, f'options.{key}',
                        f'must be a number {"above 0" if minimum == 0 else "of 0 or more"}, '
                        f'got {value!r}')
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
            for action, (params, _) in EVENT_ACTIONS.items():
                if action in step and not isinstance(step[action], str):
                    _keys(step[action], params, f'{where}.{action}')
                    _expect(params[0] in step[action], f'{where}.{action}',
                            f'needs "{params[0]}"')
                    _expect(step[action].get('transition', 'entry') in ('entry', 'exit'),
                            f'{where}.{action}', '"transition" must be "entry" or "exit"')
            for key in ('at', 'delay'):
                if key in step:
                    _expect(isinstance(step[key], (int, float)) and step[key] >= 0, where,
                            f'"{key}" must be a number of seconds')

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
        self.runner = StepRunner(sim, run, self.steps) if self.steps else None
        if self.runner is not None:
            self.runner.begin()
        return run


class StepRunner:
    """Plays a scenario's steps, in order, on the simulator's clock thread."""

    def __init__(self, sim: Any, run: Any, steps: List[Dict[str, Any]]) -> None:
        self.sim = sim
        self.run = run
        self.steps = steps
        self.index = 0
        self.since = 0  # transcript index from which entries count
        self.t0 = run.started_at
        self.waiting = False

    def begin(self) -> None:
        """Arm the first step (any thread)."""
        self.sim.clock.call_soon(self._arm)

    def _device(self, step: Dict[str, Any]) -> Any:
        return self.sim.device(step['device']) if 'device' in step else self.run.device

    def _arm(self) -> None:
        if self.index >= len(self.steps) or self.run.done:
            if self._on_entry in self.sim.listeners:
                self.sim.listeners.remove(self._on_entry)
            return
        step = self.steps[self.index]
        if 'at' in step:
            wait = max(0.0, self.t0 + step['at'] - self.sim.clock.now())
            self.sim.clock.call_later(wait + step.get('delay', 0), self._fire)
            return
        if self._subscription(step) is not None:
            if self._subscribed(step):
                self.sim.clock.call_later(step.get('delay', 0), self._fire)
                return
            self.waiting = True
            if self._on_entry not in self.sim.listeners:
                self.sim.listeners.append(self._on_entry)
            return
        if self.index > 0 and not any(c in step for c in CONDITIONS):
            self.sim.clock.call_later(step.get('delay', 0), self._fire)  # right after the last
            return
        for entry in self.sim.transcript[self.since:]:
            if self._matches(step, entry):
                self.sim.clock.call_later(step.get('delay', 0), self._fire)
                return
        self.waiting = True
        if self._on_entry not in self.sim.listeners:
            self.sim.listeners.append(self._on_entry)

    def _subscription(self, step: Dict[str, Any]) -> Optional[str]:
        """The subscription a device-event step without a condition waits for."""
        if any(c in step for c in CONDITIONS):
            return None
        action = next((a for a in EVENT_ACTIONS if a in step), None)
        return EVENT_ACTIONS[action][1] if action else None

    def _subscribed(self, step: Dict[str, Any]) -> bool:
        kind = self._subscription(step)
        runs = self._device(step).subscribers.get(kind, [])
        return any(not r.done for r in runs)

    def _matches(self, step: Dict[str, Any], entry: Entry) -> bool:
        if self._subscription(step) is not None:
            return entry.kind == 'subscribe' and self._subscribed(step)
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
            self.waiting = False
            self.sim.clock.call_later(step.get('delay', 0), self._fire)

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
            if open_ids:
                sim.close_incident(open_ids[-1], step['resolve_incident'])
        else:
            action = next(a for a in EVENT_ACTIONS if a in step)
            value = step[action]
            args = value if isinstance(value, dict) else {EVENT_ACTIONS[action][0][0]: value}
            getattr(device, action)(**args)
