"""The table of events the Relay server sends, and how each reaches a handler.

Each row maps a wire ``_type`` to the handler name it is registered under and the
event fields passed to the handler, in order, after the ``relay`` context.  A
field missing from the message is passed as ``None``.  The argument orders are
relay-py's, so ported handlers keep their signatures.

Button and notification handlers are also keyed by a filter pair; see
:class:`relaysync.Workflow`.

Any other ``wf_api_<name>_event`` is still delivered, to a handler registered
with ``Workflow.on(name)`` (see :func:`spec_for`), so an event type the Relay
server adds can be handled before relaysync knows it.
"""

import re
from typing import Dict, NamedTuple, Optional, Tuple

#: What a call waits for after its response, when it waits for an event too:
#: the prompt ``stopped`` event of a playback (say/play_and_wait) ...
WAIT_PROMPT = 'prompt'
#: ... or the speech event answering a listen.
WAIT_SPEECH = 'speech'

_CALL = ('call_id', 'direction', 'device_id', 'device_name', 'uri', 'onnet')


class EventSpec(NamedTuple):
    """How one event type is dispatched.

    Attributes:
        name: the handler name (``on_<name>`` is the decorator).
        fields: the message fields passed as positional handler arguments.
        filter_fields: for filtered events, the two fields matched against the
            handler's filter pair (``'*'`` matches anything).
        whole: the handler gets the whole event as one dict (its fields without
            the ``_``-prefixed envelope keys) instead of ``fields``.
        typed: False for an event type not in :data:`EVENTS`: only a handler
            registered by name (``Workflow.on``) can take it.
    """
    name: str
    fields: Tuple[str, ...]
    filter_fields: Optional[Tuple[str, str]] = None
    whole: bool = False
    typed: bool = True


EVENTS: Dict[str, EventSpec] = {
    'wf_api_start_event': EventSpec('start', ('trigger',)),
    'wf_api_stop_event': EventSpec('stop', ('reason',)),
    'wf_api_interaction_lifecycle_event': EventSpec(
        'interaction_lifecycle', ('type', 'source_uri', 'reason')),
    'wf_api_prompt_event': EventSpec('prompt', ('source_uri', 'type')),
    'wf_api_button_event': EventSpec('button', ('button', 'taps', 'source_uri'),
                                     ('button', 'taps')),
    'wf_api_notification_event': EventSpec(
        'notification', ('event', 'name', 'notification_state', 'source_uri'),
        ('name', 'event')),
    'wf_api_timer_event': EventSpec('timer', ()),
    'wf_api_timer_fired_event': EventSpec('timer_fired', ('name',)),
    'wf_api_speech_event': EventSpec(
        'speech', ('text', 'audio', 'lang', 'request_id', 'source_uri')),
    'wf_api_progress_event': EventSpec('progress', ()),
    'wf_api_incident_event': EventSpec('incident', ('type', 'incident_id', 'reason')),
    'wf_api_play_inbox_message_event': EventSpec('play_inbox_message', ('action',)),
    # relay-java's spelling of the same event; both are accepted.
    'wf_api_play_inbox_messages_event': EventSpec('play_inbox_message', ('action',)),
    'wf_api_call_start_request_event': EventSpec('call_start_request', ('uri',)),
    'wf_api_call_received_event': EventSpec('call_received', _CALL + ('start_time_epoch',)),
    'wf_api_call_ringing_event': EventSpec('call_ringing', _CALL + ('start_time_epoch',)),
    'wf_api_call_progressing_event': EventSpec(
        'call_progressing', _CALL + ('start_time_epoch', 'connect_time_epoch')),
    'wf_api_call_connected_event': EventSpec(
        'call_connected', _CALL + ('start_time_epoch', 'connect_time_epoch')),
    'wf_api_call_disconnected_event': EventSpec(
        'call_disconnected',
        _CALL + ('reason', 'start_time_epoch', 'connect_time_epoch', 'end_time_epoch')),
    'wf_api_call_failed_event': EventSpec(
        'call_failed',
        _CALL + ('reason', 'start_time_epoch', 'connect_time_epoch', 'end_time_epoch')),
    'wf_api_sms_event': EventSpec('sms', ('id', 'event')),
    'wf_api_resume_event': EventSpec('resume', ('trigger',)),
    # Events of server features no released SDK has yet: the subscriptions of
    # Relay.subscribe (relay-js branch "event") and relay-dotnet's audio event.
    'wf_api_position_event': EventSpec(
        'position', ('position_metadata', 'position_tags', 'transition', 'source_uri')),
    'wf_api_geofence_event': EventSpec('geofence', ('geofence_label', 'transition', 'source_uri')),
    'wf_api_nfc_tap_event': EventSpec('nfc_tap', ('uid', 'counter', 'tag_content', 'source_uri')),
    'wf_api_http_post_event': EventSpec('http_post', ('payload', 'headers', 'query', 'source_uri')),
    'wf_api_audio_event': EventSpec('audio', (), whole=True),
}

#: Lifecycle types that also have a handler of their own
#: (``on_interaction_started`` ... ``on_interaction_failed``), called with
#: ``(relay, interaction_uri, reason)``.
LIFECYCLE_TYPES = ('started', 'resumed', 'suspended', 'ended', 'failed')

#: Events a workflow usually leaves unhandled on purpose: a missing handler is
#: logged at DEBUG only (the others at INFO, once per instance).
QUIET_EVENTS = frozenset(('prompt', 'speech', 'stop', 'progress'))

_EVENT_TYPE = re.compile(r'wf_api_([A-Za-z0-9_]+)_event')


def handler_label(name: str) -> str:
    """How log lines name a handler: ``'on_button'``, or ``"on('position')"``.

    Args:
        name: a handler name as ``Workflow.resolve`` returns it
            (``'button'``, ``"on('position')"``).

    Returns:
        The decorator that registered it.
    """
    return name if name.startswith('on(') else f'on_{name}'


def event_name(event_type: str) -> Optional[str]:
    """The ``<name>`` of an event type ``wf_api_<name>_event``, else None.

    Args:
        event_type: a message's ``_type``.

    Returns:
        ``'position'`` for ``'wf_api_position_event'``; None for anything that
        is not an event type.
    """
    match = _EVENT_TYPE.fullmatch(event_type)
    return match.group(1) if match else None


def spec_for(event_type: str) -> Optional[EventSpec]:
    """How an event of this ``_type`` is dispatched.

    Args:
        event_type: a message's ``_type``.

    Returns:
        Its row of :data:`EVENTS`; for an event type not in the table, a row
        ``EventSpec(<name>, (), whole=True, typed=False)`` (only
        ``Workflow.on(name)`` handlers receive it); None when ``event_type`` is
        not an event type.
    """
    spec = EVENTS.get(event_type)
    if spec is not None:
        return spec
    name = event_name(event_type)
    return EventSpec(name, (), whole=True, typed=False) if name else None
