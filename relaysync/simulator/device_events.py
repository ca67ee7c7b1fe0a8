"""The events a simulated device makes for the runs subscribed to them.

:class:`~relaysync.simulator.VirtualDevice` (``position``, ``geofence``,
``nfc_tap``, ``http_post``) builds and sends them through this module; the
``subscribe`` request handler (:mod:`relaysync.simulator.handlers.subscriptions`)
keeps who is subscribed.
"""

from typing import Any, Dict

from .transcript import quote as q

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
    return bool(sent)


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
