"""What a person does on the simulator page, carried out on the simulator.

Each command is a JSON object ``{"action": NAME, ...}`` posted by the page;
:meth:`Commands.run` checks its fields (a :class:`CommandError` names what is
wrong, and nothing changes) and carries it out through the simulator's public
API, so a press on the page is exactly ``device.press(...)``.
"""

import math
from typing import Any, Callable, Dict, Optional, cast

from ..devices import BUTTONS, DEVICE_TYPES, TAPS
from ..scenario import EVENT_ACTIONS, ScenarioError, event_fields, parse_event_value

#: Device properties the page may edit, with their checks.
EDITABLE = ('battery', 'address', 'latlong', 'indoor_location', 'location_enabled', 'username',
            'type')


class CommandError(ValueError):
    """A command the simulator cannot carry out; the message says why."""


def _text(args: Dict[str, Any], key: str, required: bool = True,
          empty: bool = False) -> Optional[str]:
    value = args.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise CommandError(f'{key}: give a {"" if empty else "non-empty "}text')
    return value if empty else value.strip()


class Commands:
    """The page's commands, for one simulator.

    ``press {device, button, taps}``, ``say {device, text}`` (null: silence),
    ``device_event {device, event, fields | value}``, ``ack {device, name?}``,
    ``answer``/``hangup {device, call?}``, ``call {device, uri}``, ``set_device
    {device, battery?, address?, latlong?, indoor_location?, location_enabled?,
    username?, type?}``, ``add_device {name, type?}``, ``remove_device
    {device}``, ``add_group {name, members}``, ``remove_group {name}``,
    ``set_var {name, value}``, ``unset_var {name}``, ``trigger {device, type?,
    args?}``, ``stop {run}``, ``restart``, ``resolve_incident {id, reason?}``,
    ``quit`` and ``release``.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator`.
        start_vars: the variables each run triggered from the page starts with
            (shared with the page server, which shows them).
        restart: what Restart does (a function of no arguments).
        quit: what Quit does, or None when the page may not quit.
        release: what Continue does (lets a held test finish).
    """

    def __init__(self, sim: Any, start_vars: Dict[str, str], restart: Callable[[], Any],
                 quit: Optional[Callable[[], Any]], release: Callable[[], Any]) -> None:
        self.sim = sim
        self.start_vars = start_vars
        self._restart = restart
        self._quit = quit
        self._release = release

    def run(self, command: Any) -> Any:
        """Carry out one command.

        Args:
            command: the decoded JSON object, ``{"action": ..., ...}``.

        Returns:
            What the action returns (JSON-ready): usually True/False for
            "it happened", a run number for ``trigger``.

        Raises:
            CommandError: an unknown action, or a missing or bad field.
        """
        if not isinstance(command, dict) or not isinstance(command.get('action'), str):
            raise CommandError('a command is a JSON object with an "action"')
        method = getattr(self, f'_do_{command["action"]}', None)
        if method is None:
            raise CommandError(f'unknown action {command["action"]!r}')
        return method(command)

    # ------------------------------------------------------------ devices
    def _device(self, args: Dict[str, Any]) -> Any:
        name = _text(args, 'device')
        device = self.sim.devices.get(name)
        if device is None:
            raise CommandError(f'no device named {name!r}')
        return device

    def _do_press(self, args: Dict[str, Any]) -> bool:
        """``{device, button, taps}``: press a button."""
        button, taps = args.get('button', 'action'), args.get('taps', 'single')
        if button not in BUTTONS or taps not in TAPS:
            raise CommandError(f'button is one of {", ".join(BUTTONS)} and taps one of '
                               f'{", ".join(TAPS)}')
        return bool(self._device(args).press(button, taps))

    def _do_say(self, args: Dict[str, Any]) -> bool:
        """``{device, text}``: speak (``text`` null: silence)."""
        device = self._device(args)
        text = None if args.get('text') is None else _text(args, 'text', empty=True)
        return bool(device.say(text))

    def _do_device_event(self, args: Dict[str, Any]) -> bool:
        """``{device, event, fields}`` or ``{device, event, value}``: the device
        makes an event for the workflows subscribed to it.

        ``event`` is ``nfc_tap``, ``position``, ``geofence`` or ``http_post``;
        ``fields`` an object of the device method's arguments (``{"uid": ...}``),
        ``value`` a text read as ``relaysync simulate --event KIND=VALUE`` reads
        it.  Checked as scenario steps are; returns whether a run was sent it.
        """
        device = self._device(args)
        event = args.get('event')
        if event not in EVENT_ACTIONS:
            raise CommandError(f'event is one of {", ".join(EVENT_ACTIONS)}')
        try:
            if 'fields' in args:
                if not isinstance(args['fields'], dict):
                    raise CommandError('fields: give an object of the event\'s fields')
                fields = event_fields(event, args['fields'])
            else:
                value = parse_event_value(event, cast(str, _text(args, 'value', empty=True)))
                fields = event_fields(event, value)
        except ScenarioError as exc:
            raise CommandError(str(exc)) from None
        return bool(getattr(device, event)(**fields))

    def _do_ack(self, args: Dict[str, Any]) -> bool:
        """``{device, name?}``: acknowledge an alert."""
        return bool(self._device(args).acknowledge(_text(args, 'name', required=False)))

    def _do_answer(self, args: Dict[str, Any]) -> bool:
        """``{device, call?}``: answer a ringing call."""
        return bool(self._device(args).answer(_text(args, 'call', required=False)))

    def _do_hangup(self, args: Dict[str, Any]) -> bool:
        """``{device, call?}``: hang up or decline a call."""
        return bool(self._device(args).hang_up(_text(args, 'call', required=False)))

    def _do_call(self, args: Dict[str, Any]) -> bool:
        """``{device, uri}``: ask the assistant to call someone (a device name, a URN...)."""
        device = self._device(args)
        uri = _text(args, 'uri')
        if uri in self.sim.devices:
            uri = self.sim.devices[uri].urn
        return bool(device.request_call(uri))

    def _do_set_device(self, args: Dict[str, Any]) -> bool:
        """``{device, battery?, address?, latlong?, indoor_location?,
        location_enabled?, username?, type?}``: change what the device reports."""
        device = self._device(args)
        changes = {key: _checked(key, args[key]) for key in EDITABLE if key in args}
        if not changes:
            raise CommandError(f'nothing to change; give one of {", ".join(EDITABLE)}')
        self.sim.device(device.name, **changes)
        return True

    def _do_add_device(self, args: Dict[str, Any]) -> bool:
        """``{name, type?}``: add a device to the account."""
        name = _text(args, 'name')
        if name in self.sim.devices:
            raise CommandError(f'there is already a device named {name!r}')
        kind = args.get('type', 'relay')
        if kind not in DEVICE_TYPES:
            raise CommandError(f'type is one of {", ".join(DEVICE_TYPES)}')
        self.sim.device(name, type=kind)
        return True

    def _do_remove_device(self, args: Dict[str, Any]) -> bool:
        """``{device}``: take a device off the account (and out of its groups)."""
        device = self._device(args)

        def remove() -> None:
            self.sim.devices.pop(device.name, None)
            for group in self.sim.groups.values():
                if device in group.members:
                    group.members.remove(device)
            self.sim.note('relay', 'note', f'device {device.name} removed from the account')
        self.sim.clock.run_sync(remove)
        return True

    # ------------------------------------------------------------- groups
    def _do_add_group(self, args: Dict[str, Any]) -> bool:
        """``{name, members}``: create or replace a group (members: device names)."""
        name = _text(args, 'name')
        members = args.get('members', [])
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise CommandError('members: give a list of device names')
        unknown = [m for m in members if m not in self.sim.devices]
        if unknown:
            raise CommandError(f'no device named {", ".join(map(repr, unknown))}')
        self.sim.group(name, members)
        return True

    def _do_remove_group(self, args: Dict[str, Any]) -> bool:
        """``{name}``: delete a group."""
        name = _text(args, 'name')
        if name not in self.sim.groups:
            raise CommandError(f'no group named {name!r}')
        self.sim.clock.run_sync(lambda: self.sim.groups.pop(name, None))
        return True

    # ----------------------------------------------------- runs and vars
    def _do_set_var(self, args: Dict[str, Any]) -> bool:
        """``{name, value}``: a variable every new run starts with; also set on
        the live runs, so ``get_var`` sees it at once."""
        name, value = cast(str, _text(args, 'name')), cast(str, _text(args, 'value', empty=True))

        def apply() -> None:
            self.start_vars[name] = value
            for run in self.sim.runs:
                if not run.done:
                    run.vars[name] = value
        self.sim.clock.run_sync(apply)
        return True

    def _do_unset_var(self, args: Dict[str, Any]) -> bool:
        """``{name}``: forget a start variable (and unset it on the live runs)."""
        name = cast(str, _text(args, 'name'))

        def apply() -> None:
            self.start_vars.pop(name, None)
            for run in self.sim.runs:
                if not run.done:
                    run.vars.pop(name, None)
        self.sim.clock.run_sync(apply)
        return True

    def _do_trigger(self, args: Dict[str, Any]) -> int:
        """``{device, type?, args?}``: trigger the workflow; returns the run number."""
        device = self._device(args)
        kind = _text(args, 'type', required=False) or 'button'
        extra = args.get('args', {})
        if not isinstance(extra, dict) or 'source_uri' in extra:
            raise CommandError('args: give a JSON object of trigger args (source_uri is set '
                               'for you)')
        run = self.sim.trigger(device, type=kind, vars=dict(self.start_vars), **extra)
        return int(run.number)

    def _do_stop(self, args: Dict[str, Any]) -> bool:
        """``{run}``: stop a live run (the workflow gets a stop event)."""
        number = args.get('run')
        run = next((r for r in self.sim.runs if r.number == number), None)
        if run is None:
            raise CommandError(f'no run {number!r}')
        self.sim.stop_run(run, 'stopped from the simulator page')
        return not run.done

    def _do_restart(self, args: Dict[str, Any]) -> bool:
        """``{}``: stop the live runs and start the workflow again."""
        self._restart()
        return True

    def _do_resolve_incident(self, args: Dict[str, Any]) -> bool:
        """``{id, reason?}``: an operator resolves an open incident."""
        reason = _text(args, 'reason', required=False) or 'resolved from the simulator page'
        return bool(self.sim.resolve_incident(_text(args, 'id'), reason))

    def _do_quit(self, args: Dict[str, Any]) -> bool:
        """``{}``: stop the simulator (when the page may)."""
        if self._quit is None:
            raise CommandError('this simulator cannot be stopped from the page')
        self._quit()
        return True

    def _do_release(self, args: Dict[str, Any]) -> bool:
        """``{}``: let a test held at its end go on."""
        self._release()
        return True


def _checked(key: str, value: Any) -> Any:
    """A device property from the page, checked."""
    if key == 'battery':
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise CommandError('battery: give a whole number from 0 to 100')
        return value
    if key == 'latlong':
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in value)
                or not -90 <= value[0] <= 90 or not -180 <= value[1] <= 180):
            raise CommandError('latlong: give [latitude, longitude] in degrees')
        return [float(v) for v in value]
    if key == 'location_enabled':
        if not isinstance(value, bool):
            raise CommandError('location_enabled: give true or false')
        return value
    if key == 'type':
        if value not in DEVICE_TYPES:
            raise CommandError(f'type is one of {", ".join(DEVICE_TYPES)}')
        return value
    if value is not None and not isinstance(value, str):
        raise CommandError(f'{key}: give a text')
    if key == 'address':
        return value or ''
    return value or None  # indoor_location, username: empty means none
