"""Device requests: LEDs, vibration, device info, channels, profile, inbox, SIP registration.

Every one of them acts on the virtual devices named by ``_target`` and
records the change on the device (``leds``, ``vibrations``, ``channel``, ...).
``get_device_info`` with ``refresh: true`` is slow (the device is asked for a
fresh reading): it is answered after ``Simulator.refresh_delay`` simulated
seconds, with progress events meanwhile.
"""

import re
from typing import Any, Dict

from ...constants import LED_EFFECTS
from ..context import Refused, RequestContext
from ..devices import LedChange
from ..transcript import quote as q
from .table import handles

QUERIES = ('name', 'id', 'type', 'address', 'latlong', 'battery', 'indoor_location',
           'username', 'location_enabled', 'location')
LOCATION_QUERIES = ('address', 'latlong', 'indoor_location', 'location')
DEVICE_FIELDS = ('label', 'location_enabled', 'channel')
LED_ARGS = ('rotations', 'count', 'duration', 'repeat_delay', 'pattern_repeats')
_COLOR = re.compile(r'^[0-9A-Fa-f]{6}$')
_LED_KEYS = {'ring'} | {str(i) for i in range(1, 17)}


@handles('vibrate')
def vibrate(ctx: RequestContext) -> None:
    """``wf_api_vibrate_request {_target, pattern}`` (milliseconds)."""
    devices = ctx.device_targets()
    pattern = ctx.field('pattern')
    if not pattern or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0
                              for p in pattern):
        raise Refused(f'vibrate: pattern must be a non-empty list of milliseconds, '
                      f'got {pattern!r}')
    sim, run = ctx.sim, ctx.run

    def buzz(device: Any) -> None:
        device.vibrations.append(list(pattern))
        sim.note(device.name, 'vibrate', f'vibrate {pattern}', run.number)
    for device in devices:
        ctx.then(lambda d=device: buzz(d))


@handles('set_led')
def set_led(ctx: RequestContext) -> None:
    """``wf_api_set_led_request {_target, effect, args}``."""
    devices = ctx.device_targets()
    effect = ctx.field('effect', choices=LED_EFFECTS)
    args = ctx.field('args', default={})
    _check_led_args(args)
    sim, run = ctx.sim, ctx.run
    text = describe_led(effect, args)

    def light(device: Any) -> None:
        device.leds.append(LedChange(effect, dict(args)))
        sim.note(device.name, 'led', text, run.number)
    for device in devices:
        ctx.then(lambda d=device: light(d))


def _check_led_args(args: Dict[str, Any]) -> None:
    for key, value in args.items():
        if key == 'colors':
            if not isinstance(value, dict):
                raise Refused(f'set_led: args.colors must be an object, got {value!r}')
            for led, color in value.items():
                if led not in _LED_KEYS:
                    raise Refused(f'set_led: LED {led!r} does not exist (use "ring" or '
                                  f'"1".."16")')
                if not isinstance(color, str) or not _COLOR.match(color):
                    raise Refused(f'set_led: colour for LED {led} must be 6 hex digits, '
                                  f'got {color!r}')
        elif key in LED_ARGS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise Refused(f'set_led: args.{key} must be an integer, got {value!r}')
        else:
            raise Refused(f'set_led: unknown LED argument {key!r}')


def describe_led(effect: str, args: Dict[str, Any]) -> str:
    """``'LED flash ring=ff0000 count=3'``."""
    parts = [f'LED {effect}']
    for led, color in (args.get('colors') or {}).items():
        parts.append(f'{led}={color}')
    parts.extend(f'{k}={args[k]}' for k in LED_ARGS if k in args)
    return ' '.join(parts)


# ----------------------------------------------------------------- info
@handles('get_device_info')
def get_device_info(ctx: RequestContext) -> None:
    """``wf_api_get_device_info_request {_target, query, refresh}`` → ``{<query>: value}``.

    Location queries get no value while the device's location is turned off."""
    device = ctx.device_targets(single=True)[0]
    query = ctx.field('query', choices=QUERIES)
    refresh = ctx.field('refresh', default=False)
    if refresh:
        ctx.slow(ctx.sim.refresh_delay)
    if query in LOCATION_QUERIES and not device.location_enabled:
        ctx.note = 'location is off'
        return
    value = {
        'name': device.name, 'id': device.id, 'type': device.type, 'address': device.address,
        'location': device.address, 'latlong': device.latlong, 'battery': device.battery,
        'indoor_location': device.indoor_location, 'username': device.username,
        'location_enabled': device.location_enabled,
    }[query]
    if value is not None:
        ctx.respond(**{query: value})


@handles('set_device_info')
def set_device_info(ctx: RequestContext) -> None:
    """``wf_api_set_device_info_request {_target, field, value}``: ``label``
    renames the device, ``location_enabled`` takes ``"true"``/``"false"``;
    ``channel`` is refused (not supported by Relay)."""
    device = ctx.device_targets(single=True)[0]
    field = ctx.field('field', choices=DEVICE_FIELDS)
    value = ctx.field('value')
    sim, run = ctx.sim, ctx.run
    if field == 'channel':
        raise Refused('set_device_info: setting the channel is not supported')
    if field == 'location_enabled':
        if isinstance(value, str) and value not in ('true', 'false'):
            raise Refused(f'set_device_info: location_enabled must be "true" or "false", '
                          f'got {value!r}')
        enabled = value if isinstance(value, bool) else value == 'true'

        def switch() -> None:
            device.location_enabled = enabled
            sim.note(device.name, 'device', f'location {"on" if enabled else "off"}', run.number)
        ctx.then(switch)
        return
    if not isinstance(value, str) or not value:
        raise Refused(f'set_device_info: label must be a non-empty string, got {value!r}')
    if sim.find_device(f'urn:relay-resource:name:device:{value}') not in (None, device):
        raise Refused(f'set_device_info: another device is already named {value!r}')

    def rename() -> None:
        old = device.name
        sim.rename_device(device, value)
        sim.note(value, 'device', f'renamed from {q(old)}', run.number)
    ctx.then(rename)


@handles('set_user_profile')
def set_user_profile(ctx: RequestContext) -> None:
    """``wf_api_set_user_profile_request {_target, username, force}``."""
    device = ctx.device_targets(single=True)[0]
    username = ctx.field('username')
    force = ctx.field('force', default=False)
    if device.username and device.username != username and not force:
        raise Refused(f'set_user_profile: {device.name} is logged in as {device.username!r}; '
                      f'use force to replace')
    sim, run = ctx.sim, ctx.run
    ctx.respond(device_names=[device.name])

    def login() -> None:
        device.username = username
        sim.note(device.name, 'device', f'user profile {q(username)}', run.number)
    ctx.then(login)


@handles('set_channel')
def set_channel(ctx: RequestContext) -> None:
    """``wf_api_set_channel_request {_target, channel_name, suppress_tts,
    disable_home_channel}``."""
    devices = ctx.device_targets()
    channel = ctx.field('channel_name')
    ctx.field('suppress_tts', default=False)
    disable_home = ctx.field('disable_home_channel', default=False)
    sim, run = ctx.sim, ctx.run

    def switch(device: Any) -> None:
        device.channel = channel
        if disable_home:
            device.home_channel_enabled = False
        sim.note(device.name, 'device', f'channel {q(channel)}', run.number)
    for device in devices:
        ctx.then(lambda d=device: switch(d))


@handles('set_home_channel_state')
def set_home_channel_state(ctx: RequestContext) -> None:
    """``wf_api_set_home_channel_state_request {_target, enabled}``."""
    devices = ctx.device_targets()
    enabled = ctx.field('enabled')
    sim, run = ctx.sim, ctx.run

    def switch(device: Any) -> None:
        device.home_channel_enabled = enabled
        sim.note(device.name, 'device', f'home channel {"enabled" if enabled else "disabled"}',
                 run.number)
    for device in devices:
        ctx.then(lambda d=device: switch(d))


# ----------------------------------------------------------------- inbox
@handles('inbox_count')
def inbox_count(ctx: RequestContext) -> None:
    """``wf_api_inbox_count_request {_target}`` → ``{count: "<n>"}`` (a string)."""
    device = ctx.device_targets(single=True)[0]
    ctx.respond(count=str(len(device.inbox)))


@handles('play_inbox_messages')
def play_inbox_messages(ctx: RequestContext) -> None:
    """``wf_api_play_inbox_messages_request {_target}``: the unread messages are
    played, then ``wf_api_play_inbox_message_event {action: "complete"}``."""
    devices = ctx.device_targets()
    sim, run = ctx.sim, ctx.run

    def play(device: Any) -> None:
        for message in device.inbox:
            device.played.append(f'inbox: {message}')
            sim.note(device.name, 'played', f'played inbox message {q(message)}', run.number)
        device.inbox.clear()
        run.emit('play_inbox_message', action='complete')
    for device in devices:
        ctx.then(lambda d=device: play(d))


# ------------------------------------------------------------------ SIP
@handles('register')
def register(ctx: RequestContext) -> None:
    """``wf_api_register_request {_target, uri, password, expires}``: recorded
    on the device (``expires`` 0 unregisters); no SIP traffic is simulated."""
    device = ctx.device_targets(single=True)[0]
    uri = ctx.field('uri')
    ctx.field('password')
    expires = ctx.field('expires')
    if expires < 0:
        raise Refused(f'register: expires must not be negative, got {expires}')
    device.sip = {'uri': uri, 'expires': expires} if expires else None
