"""The table of Relay actions: what each :class:`~relaysync.Relay` method sends and returns.

One row per method that talks to the Relay server.  A row says which request
the method sends (``wf_api_<request>_request``), how its arguments become the
request's fields, what the call waits for, which :class:`~relaysync.Timeouts`
field bounds the wait, and which field of the answer it returns.  The methods
build their requests from this table, the API reference renders it (see
:func:`describe`), the tests check the wire format against it, and the
simulator checks the JSON types of the fields it receives with it
(:func:`field_kinds`).

Example:
    >>> ACTIONS['say'].request, [f.name for f in ACTIONS['say'].fields]
    ('say', ['text', 'lang'])
    >>> print(describe('unset_var'))
    Sends ``wf_api_unset_var_request`` ``{name}``; waits for the response (``timeouts.request``).
"""

from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple, Union

from .constants import DEFAULT_VIBRATE_PATTERN
from .events import WAIT_PROMPT, WAIT_SPEECH

#: ``Action.waits`` of a request answered by its response.
RESPONSE = 'response'
#: ``Action.waits`` of a request that gets no answer (terminate).
NOTHING = 'nothing'

Kind = Union[type, Tuple[type, ...]]
Build = Callable[[Mapping[str, Any]], Any]


class Field(NamedTuple):
    """One field of a request and where its value comes from.

    Attributes:
        name: the JSON key.
        arg: the method argument sent as the value, or ``''`` when the value is
            ``value`` or is built by ``build``.
        value: the constant sent when ``arg`` and ``build`` are empty.
        build: computes the value from the method's arguments (a dict).
        shown: how the reference shows a built or constant value.
        kind: the JSON type(s) the Relay server reads (``str``, ``int``,
            ``bool``, ``list``, ``dict``, or a tuple of them).
    """
    name: str
    arg: str = ''
    value: Any = None
    build: Optional[Build] = None
    shown: str = ''
    kind: Kind = str

    def describe(self) -> str:
        """The field as the reference shows it: ``text``, ``type: "alert"``..."""
        if self.shown:
            return f'{self.name}: {self.shown}'
        if self.build is None and not self.arg:
            return f'{self.name}: {_json(self.value)}'
        return self.name if self.arg == self.name else f'{self.name}: {self.arg}'


class Action(NamedTuple):
    """How one :class:`~relaysync.Relay` method talks to the Relay server.

    Attributes:
        request: the request name: ``'say'`` sends ``wf_api_say_request``.
        fields: the request's fields after ``_target``, in the order sent.
            Fields whose value is None are left out.
        target: the argument sent as ``_target`` (normalised by
            :func:`~relaysync.make_target`), or ``''`` for no ``_target``.
        returns: the answer's field the method returns (``''``: nothing).
        waits: ``'response'``, ``'prompt'`` (the response, then the prompt
            ``stopped`` event of the playback), ``'speech'`` (the response,
            then the speech event of the listen) or ``'nothing'``.
        timeout: the :class:`~relaysync.Timeouts` field bounding the response:
            ``'request'``, ``'notification'``, or ``'refresh'`` (used when the
            ``refresh`` argument is true, else ``'request'``).
        note: what else the reference says about the request.
        repeat: the argument whose items each get one request (``''``: one request).
    """
    request: str
    fields: Tuple[Field, ...] = ()
    target: str = ''
    returns: str = ''
    waits: str = RESPONSE
    timeout: str = 'request'
    note: str = ''
    repeat: str = ''


def _json(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _arg(name: str, kind: Kind = str) -> Field:
    return Field(name, name, kind=kind)


def _const(name: str, value: Any, kind: Kind = str) -> Field:
    return Field(name, value=value, kind=kind)


def _target_repeat() -> Field:
    return Field('target', build=lambda a: a['target'], shown='_target',
                 kind=dict)


def _push_opts() -> Field:
    return Field('push_opts', build=lambda a: a['push_opts'] or {},
                 shown='push_opts or {}', kind=dict)


def _notification(ntype: str) -> Action:
    if ntype == 'cancel':
        return Action('notification', (_const('type', 'cancel'), _arg('name'),
                                       _target_repeat()),
                      target='target', timeout='notification')
    return Action('notification', (_arg('originator'), _const('type', ntype), _arg('name'),
                                   _arg('text'), _target_repeat(), _push_opts()),
                  target='target', timeout='notification')


def _device_info(query: str, refresh: bool = True) -> Action:
    return Action('get_device_info',
                  (_const('query', query),
                   _arg('refresh', bool) if refresh else _const('refresh', False, bool)),
                  target='target', returns=query, timeout='refresh' if refresh else 'request')


def _set_device_info(field: str, value: Optional[str] = None) -> Action:
    return Action('set_device_info', (_const('field', field),
                                      _const('value', value) if value is not None
                                      else Field('value', 'name', kind=(str, bool))),
                  target='target')


def _led(effect: Optional[str], build: Optional[Build] = None, shown: str = '') -> Action:
    first = _arg('effect') if effect is None else _const('effect', effect)
    args = _arg('args', dict) if build is None else Field('args', build=build, shown=shown,
                                                           kind=dict)
    return Action('set_led', (first, args), target='target')


_VAR = Action('get_var', (_arg('name'),), returns='value')
_SET_VAR = Action('set_var', (_arg('name'), Field('value', 'value', kind=(str, int, float, bool))),
                  returns='value')
_REGISTER = (_arg('uri'), _arg('password'))
_ANALYTICS = 'application/vnd.relay.event.parameters+json'

#: Every :class:`~relaysync.Relay` method that talks to the Relay server, by name.
ACTIONS: Dict[str, Action] = {
    # variables
    'get_var': _VAR._replace(note='``default`` when the response has no ``value``; an '
                                  'explicit JSON ``null`` is returned as None.'),
    'get_number_var': _VAR._replace(note='The value is converted with ``int()``.'),
    'get_mapped_var': _VAR._replace(note='The value is converted with ``mapper``.'),
    'get_boolean_var': _VAR._replace(note='The value is compared with ``"true"``.'),
    'get_array_var': _VAR._replace(note='The value is split on ``,``.'),
    'get_number_array_var': _VAR._replace(note='The value is split on ``,`` into numbers.'),
    'set_var': _SET_VAR,
    'set_vars': Action('set_var', (Field('name', build=lambda a: a['name'], shown='each key'),
                                   Field('value', build=lambda a: a['value'],
                                         shown='its value')),
                       repeat='values', note='The first failure stops the rest.'),
    'unset_var': Action('unset_var', (_arg('name'),)),
    'unset_vars': Action('unset_var', (Field('name', build=lambda a: a['name'],
                                             shown='each name'),),
                         repeat='names', note='The first failure stops the rest.'),
    # interactions and speech
    'start_interaction': Action('start_interaction', (_arg('name'), _arg('options', dict)),
                                target='target',
                                note='The interaction URN arrives in the lifecycle '
                                     '``started`` event.'),
    'end_interaction': Action('end_interaction', target='target'),
    'say': Action('say', (_arg('text'), _arg('lang')), target='target', returns='id'),
    'say_and_wait': Action('say', (_arg('text'), _arg('lang')), target='target',
                           returns='id', waits=WAIT_PROMPT),
    'play': Action('play', (_arg('filename'),), target='target', returns='id'),
    'play_and_wait': Action('play', (_arg('filename'),), target='target', returns='id',
                            waits=WAIT_PROMPT),
    'stop_playback': Action('stop_playback',
                            (Field('ids', build=lambda a: a['ids'],
                                   shown='[pb_id], or the list pb_id', kind=list),),
                            target='target'),
    'listen': Action('listen', (Field('phrases', build=lambda a: a['phrases'],
                                      shown='phrases as a list', kind=list),
                                _arg('transcribe', bool), _arg('timeout', (int, float)),
                                _arg('alt_lang')),
                     target='target', returns='text', waits=WAIT_SPEECH,
                     note='Returns the speech event\'s ``audio`` instead when ``transcribe`` '
                          'is false.'),
    'translate': Action('translate', (_arg('text'), _arg('from_lang'), _arg('to_lang')),
                        returns='text'),
    # notifications
    'alert': _notification('alert'),
    'cancel_alert': _notification('cancel'),
    'broadcast': _notification('broadcast'),
    'cancel_broadcast': _notification('cancel'),
    'notify': _notification('notify'),
    'cancel_notify': _notification('cancel'),
    # device information
    'get_device_name': _device_info('name', refresh=False),
    'get_device_id': _device_info('id', refresh=False),
    'get_device_type': _device_info('type', refresh=False),
    'get_user_profile': _device_info('username', refresh=False),
    'get_device_location': _device_info('address'),
    'get_device_address': _device_info('address'),
    'get_device_coordinates': _device_info('latlong'),
    'get_device_latlong': _device_info('latlong'),
    'get_device_indoor_location': _device_info('indoor_location'),
    'get_device_battery': _device_info('battery'),
    'get_device_location_enabled': _device_info('location_enabled', refresh=False),
    # device settings
    'set_device_name': _set_device_info('label'),
    'enable_location': _set_device_info('location_enabled', 'true'),
    'disable_location': _set_device_info('location_enabled', 'false'),
    'set_channel': Action('set_channel', (_arg('channel_name'), _arg('suppress_tts', bool),
                                          _arg('disable_home_channel', bool)),
                          target='target'),
    'enable_home_channel': Action('set_home_channel_state', (_const('enabled', True, bool),),
                                  target='target'),
    'disable_home_channel': Action('set_home_channel_state', (_const('enabled', False, bool),),
                                   target='target'),
    'set_user_profile': Action('set_user_profile', (_arg('username'), _arg('force', bool)),
                               target='target'),
    # LEDs and vibration
    'led_action': _led(None),
    'switch_all_led_on': _led('static', lambda a: {'colors': {'ring': a['color']}},
                              '{"colors": {"ring": color}}'),
    'switch_led_on': _led('static', lambda a: {'colors': {str(a['index']): a['color']}},
                          '{"colors": {"<index>": color}}'),
    'switch_all_led_off': _led('off', lambda a: {}, '{}'),
    'rainbow': _led('rainbow', lambda a: {'rotations': a['rotations']},
                    '{"rotations": rotations}'),
    'rotate': _led('rotate', lambda a: {'colors': {'1': a['color']},
                                        'rotations': a['rotations']},
                   '{"colors": {"1": color}, "rotations": rotations}'),
    'flash': _led('flash', lambda a: {'colors': {'ring': a['color']}, 'count': a['count']},
                  '{"colors": {"ring": color}, "count": count}'),
    'breathe': _led('breathe', lambda a: {'colors': {'ring': a['color']}, 'count': a['count']},
                    '{"colors": {"ring": color}, "count": count}'),
    'vibrate': Action('vibrate', (Field('pattern', build=lambda a: a['pattern'] or list(
        DEFAULT_VIBRATE_PATTERN), shown=f'pattern or {DEFAULT_VIBRATE_PATTERN}', kind=list),),
                      target='target'),
    # timers
    'start_timer': Action('start_timer', (_arg('timeout', (int, float)),)),
    'stop_timer': Action('stop_timer'),
    'set_timer': Action('set_timer', (Field('type', 'timer_type'), _arg('name'),
                                      _arg('timeout', (int, float)), _arg('timeout_type'))),
    'clear_timer': Action('clear_timer', (_arg('name'),)),
    # incidents
    'create_incident': Action('create_incident', (Field('type', 'itype'),
                                                  Field('originator_uri', 'originator')),
                              returns='incident_id'),
    'resolve_incident': Action('resolve_incident', (_arg('incident_id'), _arg('reason'))),
    # calls
    'place_call': Action('call', (Field('uri', 'callee_uri'),), target='target',
                         returns='call_id'),
    'answer_call': Action('answer', (_arg('call_id'),), target='target'),
    'hangup_call': Action('hangup', (_arg('call_id'),), target='target'),
    'register': Action('register', _REGISTER + (_arg('expires', int),), target='target',
                       note='The wire log never shows the password.'),
    'register_for_calls': Action('register', _REGISTER + (_arg('expires', int),),
                                 target='target'),
    'unregister_for_calls': Action('register', _REGISTER + (_const('expires', 0, int),),
                                   target='target'),
    # groups
    'get_group_members': Action('group_query', (_const('query', 'list_members'),
                                                _arg('group_uri')), returns='member_uris'),
    'is_group_member': Action('group_query', (
        _const('query', 'is_member'),
        Field('group_uri', build=lambda a: a['group_uri'],
              shown='group_member(group, device)')),
        returns='is_member'),
    'create_group': Action('create_group', (_arg('name'),), returns='uri'),
    'delete_group': Action('delete_group', (Field('uri', 'group_uri'),)),
    'add_group_members': Action('add_group_members', (_arg('group_uri'),), target='members'),
    'remove_group_members': Action('remove_group_members', (_arg('group_uri'),),
                                   target='members'),
    # inbox
    'get_unread_inbox_size': Action('inbox_count', target='target', returns='count'),
    'play_unread_inbox_messages': Action('play_inbox_messages', target='target'),
    # subscriptions and the debug log
    'subscribe': Action('subscribe', (_arg('event_type'),), target='target'),
    'unsubscribe': Action('unsubscribe', (_arg('event_type'),), target='target'),
    'debug_log': Action('debug_log', (Field('content', 'message'),)),
    # analytics
    'log_message': Action('log_analytics_event', (
        Field('content', 'message', kind=(str, dict)), _arg('content_type'), _arg('category'),
        Field('device_uri', 'target'))),
    'log_user_message': Action('log_analytics_event', (
        Field('content', 'message', kind=(str, dict)), _const('content_type', 'text/plain'),
        _arg('category'), Field('device_uri', 'target'))),
    'track_event': Action('log_analytics_event', (
        _arg('category'), _const('content_type', _ANALYTICS),
        Field('content', build=lambda a: a['parameters'],
              shown='defaults merged with parameters', kind=(str, dict)))),
    'track_user_event': Action('log_analytics_event', (
        Field('device_uri', 'target'), _arg('category'), _const('content_type', _ANALYTICS),
        Field('analytics_content', build=lambda a: a['parameters'],
              shown='defaults merged with parameters', kind=dict)),
        note='The parameters go under ``analytics_content``, as relay-js sends them.'),
    # sms and the instance itself
    'sms': Action('sms', (Field('type', 'stype'), _arg('text'), _arg('uri')),
                  returns='message_id'),
    'terminate': Action('terminate', waits=NOTHING,
                        note='The Relay server answers with a stop event and closes the '
                             'connection.'),
}


def field_kinds(request: str) -> Dict[str, Kind]:
    """The JSON type(s) of each field of one request, as the table describes it.

    Args:
        request: the request name, e.g. ``'say'``.

    Returns:
        ``{field: kind}`` over every action sending that request (empty for a
        request no action sends); ``kind`` is a type or a tuple of types.
    """
    kinds: Dict[str, Kind] = {}
    for action in ACTIONS.values():
        if action.request == request:
            for field in action.fields:
                kinds.setdefault(field.name, field.kind)
    return kinds


def targeted(request: str) -> Optional[bool]:
    """Whether the actions sending ``request`` give it a ``_target``.

    Args:
        request: the request name, e.g. ``'say'``.

    Returns:
        True or False; None when no action sends that request.
    """
    for action in ACTIONS.values():
        if action.request == request:
            return bool(action.target)
    return None


def build(action: Action, args: Mapping[str, Any],
          payload: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The fields of one request, from the method's arguments.

    Args:
        action: the table row.
        args: the method's arguments by name (``target`` already normalised).
        payload: the dict to add the fields to (default: a new one).

    Returns:
        ``payload`` with ``{field: value}`` added in the order sent (None values
        included; the encoder leaves them out).
    """
    if payload is None:
        payload = {}
    for field in action.fields:
        if field.arg:
            payload[field.name] = args[field.arg]
        elif field.build is not None:
            payload[field.name] = field.build(args)
        else:
            payload[field.name] = field.value
    return payload


_WAITS = {
    RESPONSE: 'waits for the response ({timeout})',
    WAIT_PROMPT: 'waits for the response ({timeout}), then for the prompt '
                 '``stopped`` event whose ``id`` is the request ``_id`` or the response '
                 '``id`` (``timeouts.prompt``, restarted by the prompt ``started`` event)',
    WAIT_SPEECH: 'waits for the response ({timeout}), then for the speech '
                 'event whose ``request_id`` is the request ``_id`` (``timeout`` + '
                 '``timeouts.listen_margin``)',
    NOTHING: 'returns at once: the request has no response',
}


def describe(name: str) -> str:
    """One paragraph of the reference: the request a method sends, what it waits
    for and what it returns.

    Args:
        name: a key of :data:`ACTIONS`, e.g. ``'say'``.

    Returns:
        The paragraph, in the docstrings' reStructuredText flavour.
    """
    action = ACTIONS[name]
    fields = ([f'_target: {action.target}' if action.target != 'target' else '_target']
              if action.target else [])
    fields += [f.describe() for f in action.fields]
    body = f' ``{{{", ".join(fields)}}}``' if fields else ''
    times = f' one per item of ``{action.repeat}``' if action.repeat else ''
    timeout = (f'``timeouts.{action.timeout}``' if action.timeout != 'refresh' else
               '``timeouts.request``, ``timeouts.refresh`` when ``refresh`` is true')
    text = (f'Sends ``wf_api_{action.request}_request``{body}{times}; '
            + _WAITS[action.waits].format(timeout=timeout))
    if action.returns:
        source = 'the speech event\'s' if action.waits == WAIT_SPEECH else 'its'
        text += f'; returns {source} ``{action.returns}``'
    text += '.'
    if action.note:
        text += ' ' + action.note
    return text


__all__ = ['ACTIONS', 'Action', 'Field', 'RESPONSE', 'NOTHING', 'build', 'describe',
           'field_kinds', 'targeted']
