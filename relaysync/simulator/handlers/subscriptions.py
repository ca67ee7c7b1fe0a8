"""Event subscriptions and the debug log: server features no released SDK has yet.

* ``subscribe`` / ``unsubscribe {_target, event_type}``: the run receives the
  targeted devices' events of that type from then on, until it unsubscribes
  or ends.  ``event_type`` is one of :data:`EVENT_TYPES`.
* A device makes those events with :meth:`VirtualDevice.position`,
  :meth:`~VirtualDevice.geofence`, :meth:`~VirtualDevice.nfc_tap` and
  :meth:`~VirtualDevice.http_post` (or a scenario step, or ``relaysync
  simulate --event``); each goes to every run subscribed to it on that device.
* ``debug_log {content}``: recorded in ``Run.debug_log`` and shown in the
  transcript, as ``relay workflow debug`` would show it.
"""

from typing import Any, Dict, List

from ..context import RequestContext
from ..transcript import RELAY
from ..transcript import quote as q
from . import handles

#: subscription event_type -> (event name sent, transcript kind of the device's action)
EVENT_TYPES: Dict[str, str] = {
    'indoor_position': 'position',
    'outdoor_position': 'geofence',
    'nfc_tap': 'nfc_tap',
    'http_post': 'http_post',
}
#: event name -> the subscription event_type that brings it
SUBSCRIPTION_OF = {event: kind for kind, event in EVENT_TYPES.items()}
TRANSITIONS = ('entry', 'exit')


def _targets(ctx: RequestContext) -> List[Any]:
    devices = ctx.device_targets()
    ctx.field('event_type', str, choices=tuple(EVENT_TYPES))
    return devices


@handles('subscribe')
def subscribe(ctx: RequestContext) -> None:
    """``wf_api_subscribe_request {_target, event_type}``."""
    devices = _targets(ctx)
    kind = ctx.msg['event_type']
    for device in devices:
        runs = device.subscribers.setdefault(kind, [])
        if ctx.run not in runs:
            runs.append(ctx.run)
        ctx.then(lambda d=device: ctx.sim.note(d.name, 'subscribe', f'subscribed to {kind} '
                                               f'events', ctx.run.number))


@handles('unsubscribe')
def unsubscribe(ctx: RequestContext) -> None:
    """``wf_api_unsubscribe_request {_target, event_type}`` (no error when not subscribed)."""
    devices = _targets(ctx)
    kind = ctx.msg['event_type']
    missing = []
    for device in devices:
        runs = device.subscribers.get(kind, [])
        if ctx.run in runs:
            runs.remove(ctx.run)
            ctx.then(lambda d=device: ctx.sim.note(d.name, 'subscribe', f'unsubscribed from '
                                                   f'{kind} events', ctx.run.number))
        else:
            missing.append(device.name)
    if missing:
        ctx.note = f'{", ".join(missing)} was not subscribed'


@handles('debug_log')
def debug_log(ctx: RequestContext) -> None:
    """``wf_api_debug_log_request {content}``: appended to ``Run.debug_log``."""
    content = ctx.field('content', str)
    ctx.run.debug_log.append(content)
    ctx.then(lambda: ctx.sim.note(RELAY, 'debug', f'debug log: {q(content)}', ctx.run.number))


def end_all(run: Any) -> None:
    """Drop every subscription of a finished run."""
    for device in run.sim.devices.values():
        for runs in device.subscribers.values():
            if run in runs:
                runs.remove(run)


def emit(device: Any, event: str, fields: Dict[str, Any], text: str) -> bool:
    """Send a device event to every run subscribed to it (clock thread).

    Args:
        device: the device the event is about (its URN is the ``source_uri``).
        event: ``'position'``, ``'geofence'``, ``'nfc_tap'`` or ``'http_post'``.
        fields: the event's other fields.
        text: how the transcript describes what the device did.

    Returns:
        True when at least one run was sent the event.
    """
    sim = device._sim
    kind = SUBSCRIPTION_OF[event]
    runs = [r for r in device.subscribers.get(kind, []) if not r.done]
    if not runs:
        sim.note(device.name, event, f'{text} (not sent: no workflow subscribed to '
                                     f'{kind} on {device.name})')
        return False
    sent = False
    for run in runs:
        sim.note(device.name, event, text, run.number)
        sent = run.emit(event, source_uri=device.urn, **fields) or sent
    return sent


def position_fields(metadata: Any, tags: Any = None, transition: str = 'entry') -> Dict[str, Any]:
    """The fields of ``wf_api_position_event`` (checked).

    Raises:
        ValueError: ``transition`` is neither ``entry`` nor ``exit``.
    """
    _transition(transition)
    return {'position_metadata': metadata, 'position_tags': list(tags or []),
            'transition': transition}


def geofence_fields(label: Any, transition: str = 'entry') -> Dict[str, Any]:
    """The fields of ``wf_api_geofence_event`` (checked).

    Raises:
        ValueError: ``transition`` is neither ``entry`` nor ``exit``.
    """
    _transition(transition)
    return {'geofence_label': label, 'transition': transition}


def _transition(value: Any) -> None:
    if value not in TRANSITIONS:
        raise ValueError(f'transition must be "entry" or "exit", got {value!r}')


def describe(event: str, fields: Dict[str, Any]) -> str:
    """The transcript text of a device event."""
    if event == 'position':
        verb = 'entered' if fields['transition'] == 'entry' else 'left'
        tags = fields.get('position_tags')
        return f'{verb} position {q(fields["position_metadata"])}' + (
            f' (tags {", ".join(map(q, tags))})' if tags else '')
    if event == 'geofence':
        verb = 'entered' if fields['transition'] == 'entry' else 'left'
        return f'{verb} geofence {q(fields["geofence_label"])}'
    if event == 'nfc_tap':
        content = fields.get('tag_content')
        return f'tapped NFC tag {q(fields["uid"])}' + (f' {q(content)}' if content else '')
    return f'HTTP POST {q(fields.get("payload"))}'


