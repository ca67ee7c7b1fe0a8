"""The exact JSON of every Relay action, and what each returns, over real sockets.

One parametrized test walks a table: each row runs an action inside a real
``on_start`` handler, checks every request the peer receives (all keys except
``_id``, which must be 32 hex digits), answers it, and checks the value returned
(or the exception raised).  After the action the handler sends a sentinel
request, so "nothing else was sent" is checked too.

Expectations follow relay-py's wire format (keys holding None omitted, ``_target``
as ``{"uris": [...]}``, ``target`` repeated in notification requests, ``refresh``
always sent on device-info queries, the default vibration pattern, a single listen
phrase wrapped in a list ...) and relay-js for the extras relay-py lacks.
"""

import json
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import pytest

import relaysync
from relaysync import Relay, WorkflowException
from relaysync.actions import ACTIONS, NOTHING
from relaysync.codec import decode
from peer import DEVICE, INTERACTION

T = DEVICE
BOB = 'urn:relay-resource:name:device:Bob'
IT = INTERACTION
G = 'urn:relay-resource:name:group:Team%20A'
TG = {'uris': [T]}
ITG = {'uris': [IT]}
GG = {'uris': [G]}
PARAMS_TYPE = 'application/vnd.relay.event.parameters+json'
DEFAULT_PATTERN = [100, 500, 500, 500, 500, 500]
SIP = 'sip:alice@example.com'

Exchange = Tuple[Dict[str, Any], Optional[Dict[str, Any]]]


class Step(NamedTuple):
    """One request the action must send and how the peer answers it."""
    request: Dict[str, Any]          # expected request without _id
    response: Any = None             # dict of response fields, a callable(request), or None
    after: Optional[Callable] = None  # callable(peer, request): events sent after answering


class Computed(NamedTuple):
    """An expected return value computed from the exchanges."""
    fn: Callable[[List[Exchange]], Any]


class Case(NamedTuple):
    id: str
    call: Callable[[Relay], Any]
    steps: List[Step]
    returns: Any = None
    raises: Optional[type] = None


def case(id: str, call: Callable[[Relay], Any], request: Optional[Dict[str, Any]] = None,
         response: Any = None, returns: Any = None, *, steps: Optional[List[Step]] = None,
         raises: Optional[type] = None, after: Optional[Callable] = None) -> Case:
    if steps is None:
        steps = [] if request is None else [
            Step(request, {} if response is None else response, after)]
    return Case(id, call, steps, returns, raises)


def req(_name: str, /, **fields: Any) -> Dict[str, Any]:
    return {'_type': f'wf_api_{_name}_request', **fields}


def stopped_prompt(peer, request):
    peer.prompt(request['_id'], 'stopped')


def speech(**fields):
    def send(peer, request):
        peer.event('wf_api_speech_event', request_id=request['_id'], source_uri=IT, **fields)
    return send


def echo_id(request):
    return {'id': request['_id']}


def deprecated(call):
    def run(r):
        with pytest.warns(DeprecationWarning, match='deprecated'):
            return call(r)
    return run


def with_defaults(call):
    def run(r):
        r.set_default_analytic_event_parameters({'app': 'demo', 'count': 0})
        return call(r)
    return run


CASES = [
    # ------------------------------------------------------------- variables
    case('get_var', lambda r: r.get_var('color'),
         req('get_var', name='color'), {'value': 'red'}, 'red'),
    case('get_var_default_when_absent', lambda r: r.get_var('color', 'blue'),
         req('get_var', name='color'), {}, 'blue'),
    case('get_var_value_as_char_codes', lambda r: r.get_var('color'),
         req('get_var', name='color'), {'value': [114, 101, 100]}, 'red'),
    case('get_number_var', lambda r: r.get_number_var('n'),
         req('get_var', name='n'), {'value': '42'}, 42),
    case('get_number_var_default', lambda r: r.get_number_var('n', 7),
         req('get_var', name='n'), {}, 7),
    case('get_number_var_missing', lambda r: r.get_number_var('n'),
         req('get_var', name='n'), {}, raises=WorkflowException),
    case('get_number_var_not_a_number', lambda r: r.get_number_var('n'),
         req('get_var', name='n'), {'value': 'abc'}, raises=ValueError),
    case('get_mapped_var', lambda r: r.get_mapped_var('m', str.upper),
         req('get_var', name='m'), {'value': 'abc'}, 'ABC'),
    case('get_mapped_var_default', lambda r: r.get_mapped_var('m', str.upper, 'dflt'),
         req('get_var', name='m'), {}, 'dflt'),
    case('get_boolean_var_true', lambda r: r.get_boolean_var('b'),
         req('get_var', name='b'), {'value': 'true'}, True),
    case('get_boolean_var_false', lambda r: r.get_boolean_var('b', True),
         req('get_var', name='b'), {'value': 'false'}, False),
    case('get_boolean_var_default', lambda r: r.get_boolean_var('b', True),
         req('get_var', name='b'), {}, True),
    case('get_array_var', lambda r: r.get_array_var('a'),
         req('get_var', name='a'), {'value': 'x,y,z'}, ['x', 'y', 'z']),
    case('get_array_var_empty', lambda r: r.get_array_var('a'),
         req('get_var', name='a'), {'value': ''}, []),
    case('get_array_var_default', lambda r: r.get_array_var('a', ['d']),
         req('get_var', name='a'), {}, ['d']),
    case('get_number_array_var', lambda r: r.get_number_array_var('a'),
         req('get_var', name='a'), {'value': '1,2.5,-3'}, [1, 2.5, -3]),
    case('set_var', lambda r: r.set_var('k', 'v'),
         req('set_var', name='k', value='v'), {'name': 'k', 'value': 'v', 'type': 'string'},
         'v'),
    # relay-py sends a value that is not a string as it is, and returns the response's value.
    case('set_var_number_sent_as_is', lambda r: r.set_var('k', 5),
         req('set_var', name='k', value=5), {'name': 'k', 'value': 5}, 5),
    case('set_vars', lambda r: r.set_vars({'a': '1', 'b': '2'}), steps=[
        Step(req('set_var', name='a', value='1'), {'value': '1'}),
        Step(req('set_var', name='b', value='2'), {'value': '2'})]),
    case('unset_var', lambda r: r.unset_var('k'), req('unset_var', name='k')),
    case('unset_vars', lambda r: r.unset_vars(['a', 'b']), steps=[
        Step(req('unset_var', name='a'), {}), Step(req('unset_var', name='b'), {})]),

    # ---------------------------------------------------------- interactions
    case('start_interaction',
         lambda r: r.start_interaction(Relay.make_target_uris({'args': {'source_uri': T}}),
                                       'hello'),
         req('start_interaction', _target=TG, name='hello')),
    case('start_interaction_default_options',
         lambda r: r.start_interaction(T, 'hello', Relay.interaction_options()),
         req('start_interaction', _target=TG, name='hello',
             options={'color': '0000ff', 'input_types': [], 'home_channel': 'suspend'})),
    case('start_interaction_options',
         lambda r: r.start_interaction([T, BOB], 'hello', Relay.interaction_options(
             'ff0000', ['action_button_single_tap'], 'normal')),
         req('start_interaction', _target={'uris': [T, BOB]}, name='hello',
             options={'color': 'ff0000', 'input_types': ['action_button_single_tap'],
                      'home_channel': 'normal'})),
    case('end_interaction', lambda r: r.end_interaction(IT),
         req('end_interaction', _target=ITG)),

    # ---------------------------------------------------------------- speech
    case('say', lambda r: r.say(IT, 'hello'),
         req('say', _target=ITG, text='hello', lang='en-US'), {'id': 'pb-1'}, 'pb-1'),
    case('say_lang', lambda r: r.say(IT, 'hola', 'es-ES'),
         req('say', _target=ITG, text='hola', lang='es-ES'), {'id': 'pb-1'}, 'pb-1'),
    case('say_and_wait', lambda r: r.say_and_wait(IT, 'hello'),
         req('say', _target=ITG, text='hello', lang='en-US'), echo_id,
         Computed(lambda ex: ex[0][0]['_id']), after=stopped_prompt),
    case('play', lambda r: r.play(IT, 'relay-static://emergency'),
         req('play', _target=ITG, filename='relay-static://emergency'), {'id': 'pb-2'},
         'pb-2'),
    case('play_and_wait', lambda r: r.play_and_wait(IT, 'relay-static://emergency'),
         req('play', _target=ITG, filename='relay-static://emergency'), echo_id,
         Computed(lambda ex: ex[0][0]['_id']), after=stopped_prompt),
    case('stop_playback_all', lambda r: r.stop_playback(IT),
         req('stop_playback', _target=ITG)),
    case('stop_playback_one', lambda r: r.stop_playback(IT, 'pb-1'),
         req('stop_playback', _target=ITG, ids=['pb-1'])),
    case('stop_playback_list', lambda r: r.stop_playback(IT, ['pb-1', 'pb-2']),
         req('stop_playback', _target=ITG, ids=['pb-1', 'pb-2'])),
    case('stop_playback_bad_id', lambda r: r.stop_playback(IT, 5), raises=TypeError),
    case('listen', lambda r: r.listen(IT),
         req('listen', _target=ITG, phrases=[], transcribe=True, timeout=60), {},
         'yes', after=speech(text='yes', lang='en-US')),
    case('listen_phrase_string', lambda r: r.listen(IT, 'yes'),
         req('listen', _target=ITG, phrases=['yes'], transcribe=True, timeout=60), {},
         'yes', after=speech(text='yes', lang='en-US')),
    case('listen_all_options',
         lambda r: r.listen(IT, ['yes', 'no'], alt_lang='es-ES', timeout=10),
         req('listen', _target=ITG, phrases=['yes', 'no'], transcribe=True, timeout=10,
             alt_lang='es-ES'), {}, 'no', after=speech(text='no', lang='es-ES')),
    case('listen_audio', lambda r: r.listen(IT, transcribe=False),
         req('listen', _target=ITG, phrases=[], transcribe=False, timeout=60), {},
         'UklGRg==', after=speech(audio='UklGRg==')),
    case('translate', lambda r: r.translate('hello'),
         req('translate', text='hello', from_lang='en-US', to_lang='es-ES'),
         {'text': 'hola'}, 'hola'),
    case('translate_langs', lambda r: r.translate('hola', 'es-ES', 'en-US'),
         req('translate', text='hola', from_lang='es-ES', to_lang='en-US'),
         {'text': 'hello'}, 'hello'),

    # --------------------------------------------------------- notifications
    case('alert', lambda r: r.alert(G, BOB, 'fire', 'Fire!'),
         req('notification', _target=GG, originator=BOB, type='alert', name='fire',
             text='Fire!', target=GG, push_opts={})),
    case('alert_push_options',
         lambda r: r.alert(G, BOB, 'fire', 'Fire!',
                           Relay.push_options('high', 'Title', 'Body', 'sos')),
         req('notification', _target=GG, originator=BOB, type='alert', name='fire',
             text='Fire!', target=GG,
             push_opts={'priority': 'high', 'sound': 'sos', 'title': 'Title',
                        'body': 'Body'})),
    case('alert_default_push_options',
         lambda r: r.alert(T, BOB, 'fire', 'Fire!', Relay.push_options()),
         req('notification', _target=TG, originator=BOB, type='alert', name='fire',
             text='Fire!', target=TG, push_opts={'priority': 'normal', 'sound': 'default'})),
    case('cancel_alert', lambda r: r.cancel_alert(G, 'fire'),
         req('notification', _target=GG, type='cancel', name='fire', target=GG)),
    case('broadcast', lambda r: r.broadcast(G, BOB, 'news', 'Lunch'),
         req('notification', _target=GG, originator=BOB, type='broadcast', name='news',
             text='Lunch', target=GG, push_opts={})),
    case('cancel_broadcast', lambda r: r.cancel_broadcast(G, 'news'),
         req('notification', _target=GG, type='cancel', name='news', target=GG)),
    # Deprecated (DeprecationWarning), still sent as before for old code.
    case('notify', deprecated(lambda r: r.notify([T, BOB], BOB, 'n', 'Hi')),
         req('notification', _target={'uris': [T, BOB]}, originator=BOB, type='notify',
             name='n', text='Hi', target={'uris': [T, BOB]}, push_opts={})),
    case('cancel_notify', deprecated(lambda r: r.cancel_notify(T, 'n')),
         req('notification', _target=TG, type='cancel', name='n', target=TG)),

    # ----------------------------------------------------------- device info
    case('get_device_name', lambda r: r.get_device_name(T),
         req('get_device_info', _target=TG, query='name', refresh=False),
         {'name': 'Alice'}, 'Alice'),
    case('get_device_id', lambda r: r.get_device_id(T),
         req('get_device_info', _target=TG, query='id', refresh=False),
         {'id': '990007560023456'}, '990007560023456'),
    case('get_device_type', lambda r: r.get_device_type(T),
         req('get_device_info', _target=TG, query='type', refresh=False),
         {'type': 'relay2'}, 'relay2'),
    case('get_user_profile', lambda r: r.get_user_profile(T),
         req('get_device_info', _target=TG, query='username', refresh=False),
         {'username': 'alice'}, 'alice'),
    case('get_device_location', lambda r: r.get_device_location(T),
         req('get_device_info', _target=TG, query='address', refresh=False),
         {'address': '1 Main St'}, '1 Main St'),
    case('get_device_location_refresh', lambda r: r.get_device_location(T, True),
         req('get_device_info', _target=TG, query='address', refresh=True),
         {'address': '1 Main St'}, '1 Main St'),
    case('get_device_address', lambda r: r.get_device_address(T, True),
         req('get_device_info', _target=TG, query='address', refresh=True),
         {'address': '2 Side St'}, '2 Side St'),
    case('get_device_coordinates', lambda r: r.get_device_coordinates(T),
         req('get_device_info', _target=TG, query='latlong', refresh=False),
         {'latlong': [35.5, -78.25]}, [35.5, -78.25]),
    case('get_device_latlong_integers_kept', lambda r: r.get_device_latlong(T, True),
         req('get_device_info', _target=TG, query='latlong', refresh=True),
         {'latlong': [40, 74]}, [40, 74]),
    case('get_device_indoor_location', lambda r: r.get_device_indoor_location(T),
         req('get_device_info', _target=TG, query='indoor_location', refresh=False),
         {'indoor_location': 'Lab'}, 'Lab'),
    case('get_device_battery', lambda r: r.get_device_battery(T),
         req('get_device_info', _target=TG, query='battery', refresh=False),
         {'battery': 87}, 87),
    case('get_device_battery_refresh', lambda r: r.get_device_battery(T, refresh=True),
         req('get_device_info', _target=TG, query='battery', refresh=True),
         {'battery': 12}, 12),
    case('get_device_location_enabled', lambda r: r.get_device_location_enabled(T),
         req('get_device_info', _target=TG, query='location_enabled', refresh=False),
         {'location_enabled': True}, True),

    # ------------------------------------------------------- device settings
    case('set_device_name', lambda r: r.set_device_name(T, 'Bob'),
         req('set_device_info', _target=TG, field='label', value='Bob')),
    case('enable_location', lambda r: r.enable_location(T),
         req('set_device_info', _target=TG, field='location_enabled', value='true')),
    case('disable_location', lambda r: r.disable_location(T),
         req('set_device_info', _target=TG, field='location_enabled', value='false')),
    case('set_channel', lambda r: r.set_channel(T, 'Team'),
         req('set_channel', _target=TG, channel_name='Team', suppress_tts=False,
             disable_home_channel=False)),
    case('set_channel_flags', lambda r: r.set_channel(T, 'Team', True, True),
         req('set_channel', _target=TG, channel_name='Team', suppress_tts=True,
             disable_home_channel=True)),
    case('enable_home_channel', lambda r: r.enable_home_channel(T),
         req('set_home_channel_state', _target=TG, enabled=True)),
    case('disable_home_channel', lambda r: r.disable_home_channel(T),
         req('set_home_channel_state', _target=TG, enabled=False)),
    case('set_user_profile', lambda r: r.set_user_profile(T, 'bob'),
         req('set_user_profile', _target=TG, username='bob', force=False)),
    case('set_user_profile_force', lambda r: r.set_user_profile(T, 'bob', True),
         req('set_user_profile', _target=TG, username='bob', force=True)),

    # --------------------------------------------------------- LEDs, vibrate
    case('led_action_default', lambda r: r.led_action(IT),
         req('set_led', _target=ITG, effect='flash')),
    case('led_action_led_info',
         lambda r: r.led_action(IT, 'rainbow', Relay.led_info(rotations=3)),
         req('set_led', _target=ITG, effect='rainbow', args={'rotations': 3})),
    case('led_action_full_led_info',
         lambda r: r.led_action(IT, 'breathe', Relay.led_info(
             count=2, duration=500, repeat_delay=100, pattern_repeats=1,
             colors={'ring': '00ff00'})),
         req('set_led', _target=ITG, effect='breathe',
             args={'count': 2, 'duration': 500, 'repeat_delay': 100, 'pattern_repeats': 1,
                   'colors': {'ring': '00ff00'}})),
    case('switch_all_led_on', lambda r: r.switch_all_led_on(IT),
         req('set_led', _target=ITG, effect='static', args={'colors': {'ring': '0000ff'}})),
    case('switch_all_led_on_color', lambda r: r.switch_all_led_on(IT, 'ff0000'),
         req('set_led', _target=ITG, effect='static', args={'colors': {'ring': 'ff0000'}})),
    case('switch_led_on', lambda r: r.switch_led_on(IT, 3, 'ff0000'),
         req('set_led', _target=ITG, effect='static', args={'colors': {'3': 'ff0000'}})),
    case('switch_led_on_default_color', lambda r: r.switch_led_on(IT, 16),
         req('set_led', _target=ITG, effect='static', args={'colors': {'16': '0000ff'}})),
    case('switch_led_on_index_as_string', lambda r: r.switch_led_on(IT, '12', 'ff0000'),
         req('set_led', _target=ITG, effect='static', args={'colors': {'12': 'ff0000'}})),
    case('switch_led_on_index_not_a_number', lambda r: r.switch_led_on(IT, 'x'),
         raises=ValueError),
    case('switch_led_on_index_0', lambda r: r.switch_led_on(IT, 0), raises=ValueError),
    case('switch_led_on_index_17', lambda r: r.switch_led_on(IT, 17), raises=ValueError),
    case('switch_all_led_off', lambda r: r.switch_all_led_off(IT),
         req('set_led', _target=ITG, effect='off', args={})),
    case('rainbow', lambda r: r.rainbow(IT),
         req('set_led', _target=ITG, effect='rainbow', args={'rotations': -1})),
    case('rainbow_rotations', lambda r: r.rainbow(IT, 2),
         req('set_led', _target=ITG, effect='rainbow', args={'rotations': 2})),
    case('rotate', lambda r: r.rotate(IT),
         req('set_led', _target=ITG, effect='rotate',
             args={'colors': {'1': '0000ff'}, 'rotations': -1})),
    case('flash', lambda r: r.flash(IT),
         req('set_led', _target=ITG, effect='flash',
             args={'colors': {'ring': '0000ff'}, 'count': -1})),
    case('flash_args', lambda r: r.flash(IT, '00ff00', 3),
         req('set_led', _target=ITG, effect='flash',
             args={'colors': {'ring': '00ff00'}, 'count': 3})),
    case('breathe', lambda r: r.breathe(IT),
         req('set_led', _target=ITG, effect='breathe',
             args={'colors': {'ring': '0000ff'}, 'count': -1})),
    case('vibrate_default', lambda r: r.vibrate(IT),
         req('vibrate', _target=ITG, pattern=DEFAULT_PATTERN)),
    case('vibrate_empty_pattern', lambda r: r.vibrate(IT, []),
         req('vibrate', _target=ITG, pattern=DEFAULT_PATTERN)),
    case('vibrate_pattern', lambda r: r.vibrate(IT, [200, 100]),
         req('vibrate', _target=ITG, pattern=[200, 100])),

    # ---------------------------------------------------------------- timers
    case('start_timer', lambda r: r.start_timer(), req('start_timer', timeout=60)),
    case('start_timer_timeout', lambda r: r.start_timer(5), req('start_timer', timeout=5)),
    case('stop_timer', lambda r: r.stop_timer(), req('stop_timer')),
    case('set_timer', lambda r: r.set_timer('t1'),
         req('set_timer', type='timeout', name='t1', timeout=60, timeout_type='secs')),
    case('set_timer_args', lambda r: r.set_timer('t2', 'interval', 500, 'ms'),
         req('set_timer', type='interval', name='t2', timeout=500, timeout_type='ms')),
    case('clear_timer', lambda r: r.clear_timer('t1'), req('clear_timer', name='t1')),

    # ------------------------------------------------------------- incidents
    case('create_incident', lambda r: r.create_incident(T, 'Panic Alert'),
         req('create_incident', type='Panic Alert', originator_uri=T),
         {'incident_id': 'inc-1'}, 'inc-1'),
    case('resolve_incident', lambda r: r.resolve_incident('inc-1', 'handled'),
         req('resolve_incident', incident_id='inc-1', reason='handled')),

    # ----------------------------------------------------------------- calls
    case('place_call', lambda r: r.place_call(T, BOB),
         req('call', _target=TG, uri=BOB), {'call_id': 'call-1'}, 'call-1'),
    case('answer_call', lambda r: r.answer_call(T, 'call-1'),
         req('answer', _target=TG, call_id='call-1')),
    case('hangup_call', lambda r: r.hangup_call(T, 'call-1'),
         req('hangup', _target=TG, call_id='call-1')),
    case('register', lambda r: r.register(T, SIP, 'pw', 600),
         req('register', _target=TG, uri=SIP, password='pw', expires=600)),
    case('register_for_calls', lambda r: r.register_for_calls(T, SIP, 'pw'),
         req('register', _target=TG, uri=SIP, password='pw', expires=3600)),
    case('unregister_for_calls', lambda r: r.unregister_for_calls(T, SIP, 'pw'),
         req('register', _target=TG, uri=SIP, password='pw', expires=0)),

    # ---------------------------------------------------------------- groups
    case('get_group_members', lambda r: r.get_group_members(G),
         req('group_query', query='list_members', group_uri=G),
         {'member_uris': [T, BOB]}, [T, BOB]),
    case('is_group_member',
         lambda r: r.is_group_member(relaysync.group_name('Team A'),
                                     relaysync.device_name('Alice')),
         req('group_query', query='is_member',
             group_uri='urn:relay-resource:name:group:Team%20A'
                       '?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice'),
         {'is_member': True}, True),
    case('is_group_member_interaction', lambda r: r.is_group_member(G, IT),
         req('group_query', query='is_member',
             group_uri='urn:relay-resource:name:group:Team%20A'
                       '?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice'),
         {'is_member': False}, False),
    # relay-py keeps "/" in the device URN it encodes (as in every URN builder).
    case('is_group_member_slash_in_name',
         lambda r: r.is_group_member(G, relaysync.device_name('Jim Smith/2')),
         req('group_query', query='is_member',
             group_uri='urn:relay-resource:name:group:Team%20A'
                       '?device=urn%3Arelay-resource%3Aname%3Adevice%3AJim%20Smith/2'),
         {'is_member': True}, True),
    case('is_group_member_id_based',
         lambda r: r.is_group_member(relaysync.group_id('g1'), T), raises=ValueError),
    case('create_group', lambda r: r.create_group('Team B'),
         req('create_group', name='Team B'), {'uri': 'urn:relay-resource:id:group:abc'},
         'urn:relay-resource:id:group:abc'),
    case('delete_group', lambda r: r.delete_group(G), req('delete_group', uri=G)),
    case('add_group_members', lambda r: r.add_group_members(G, [T, BOB]),
         req('add_group_members', _target={'uris': [T, BOB]}, group_uri=G)),
    case('remove_group_members', lambda r: r.remove_group_members(G, BOB),
         req('remove_group_members', _target={'uris': [BOB]}, group_uri=G)),

    # ----------------------------------------------------------------- inbox
    case('get_unread_inbox_size', lambda r: r.get_unread_inbox_size(T),
         req('inbox_count', _target=TG), {'count': '3'}, '3'),
    case('play_unread_inbox_messages', lambda r: r.play_unread_inbox_messages(T),
         req('play_inbox_messages', _target=TG)),

    # ------------------------------------------------------------- analytics
    case('log_message', lambda r: r.log_message('hello'),
         req('log_analytics_event', content='hello', content_type='text/plain',
             category='default')),
    case('log_message_target', lambda r: r.log_message('hello', 'cat', T),
         req('log_analytics_event', content='hello', content_type='text/plain',
             category='cat', device_uri=T)),
    case('log_message_content_type',
         lambda r: r.log_message('{"a": 1}', 'cat', None, 'application/json'),
         req('log_analytics_event', content='{"a": 1}', content_type='application/json',
             category='cat')),
    case('log_user_message', lambda r: r.log_user_message('hello', T, 'cat'),
         req('log_analytics_event', content='hello', content_type='text/plain',
             category='cat', device_uri=T)),
    case('track_event', lambda r: r.track_event('button', {'count': 2}),
         req('log_analytics_event', category='button', content_type=PARAMS_TYPE,
             content={'count': 2})),
    case('track_event_no_parameters', lambda r: r.track_event('start'),
         req('log_analytics_event', category='start', content_type=PARAMS_TYPE, content={})),
    case('track_event_default_parameters',
         with_defaults(lambda r: r.track_event('button', {'count': 2})),
         req('log_analytics_event', category='button', content_type=PARAMS_TYPE,
             content={'app': 'demo', 'count': 2})),
    case('track_user_event', with_defaults(lambda r: r.track_user_event('tap', T, {'x': 'y'})),
         req('log_analytics_event', device_uri=T, category='tap', content_type=PARAMS_TYPE,
             analytics_content={'app': 'demo', 'count': 0, 'x': 'y'})),

    # ---------------------------------------------------------- sms, misc
    # ------------------- server features no released SDK has yet (SDK branches)
    case('debug_log', lambda r: r.debug_log('step 2 done'),
         req('debug_log', content='step 2 done')),
    case('subscribe', lambda r: r.subscribe(T, 'nfc_tap'),
         req('subscribe', _target=TG, event_type='nfc_tap')),
    case('subscribe_enum', lambda r: r.subscribe([T, BOB],
                                                 relaysync.SubscribableEvent.OUTDOOR_POSITION),
         req('subscribe', _target={'uris': [T, BOB]}, event_type='outdoor_position')),
    case('subscribe_no_event_type', lambda r: r.subscribe(T, None), raises=TypeError),
    case('unsubscribe', lambda r: r.unsubscribe(T, 'indoor_position'),
         req('unsubscribe', _target=TG, event_type='indoor_position')),
    case('sms', lambda r: r.sms('text', 'hello', 'tel:+15555550100'),
         req('sms', type='text', text='hello', uri='tel:+15555550100'),
         {'message_id': 'm-1'}, 'm-1'),
    case('terminate', lambda r: r.terminate(),
         steps=[Step({'_type': 'wf_api_terminate_request'}, None)]),
    case('request_escape_hatch',
         lambda r: r.request('custom_thing', {'a': 1, 'b': None,
                                              'c': {'d': None, 'e': [None, 2]}},
                             target=[T, BOB]),
         req('custom_thing', _target={'uris': [T, BOB]}, a=1, c={'e': [None, 2]}),
         {'x': 1}, Computed(lambda ex: ex[0][1])),
    case('request_full_type', lambda r: r.request('wf_api_get_var_request', {'name': 'n'}),
         req('get_var', name='n'), {'value': 'v'}, Computed(lambda ex: ex[0][1])),
    case('target_uris_dict_with_string', lambda r: r.say({'uris': T}, 'x'),
         req('say', _target=TG, text='x', lang='en-US'), {'id': 'p'}, 'p'),
    case('target_not_a_urn', lambda r: r.say(5, 'x'), raises=relaysync.InvalidArgument),
    case('target_empty_list', lambda r: r.say([], 'x'), raises=relaysync.InvalidArgument),
    case('target_empty_string', lambda r: r.say('', 'x'), raises=TypeError),
    # A None or non-URN target is refused before anything is sent.
    case('target_none', lambda r: r.say(None, 'x'), raises=TypeError),
    case('target_none_no_text', lambda r: r.end_interaction(None), raises=TypeError),
    case('target_not_a_relay_urn', lambda r: r.say('Alice', 'x'), raises=TypeError),
    case('target_uris_not_urns', lambda r: r.vibrate({'uris': [T, 'Bob']}), raises=TypeError),
]


def test_case_ids_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_public_action_is_in_the_table():
    """Every public Relay method that talks to the server appears in a row."""
    import inspect
    local_only = {'make_target_uris', 'get_source_uri_from_trigger', 'targets_from_source_uri',
                  'interaction_options', 'push_options', 'led_info',
                  'set_default_analytic_event_parameters'}
    names = {n for n, v in inspect.getmembers(Relay) if not n.startswith('_')
             and callable(v)} - local_only
    covered = {c.id for c in CASES}
    missing = sorted(n for n in names if not any(i == n or i.startswith(n + '_')
                                                  for i in covered))
    assert missing == []


def test_the_cases_agree_with_the_action_table():
    """Each row of relaysync.actions.ACTIONS has cases here, and what those cases
    expect (request type, fields, the response field returned) is what the row
    says; the cases themselves spell the JSON out by hand, as relay-py sends it."""
    def owner(case_id):
        names = [n for n in ACTIONS if case_id == n or case_id.startswith(n + '_')]
        return max(names, key=len) if names else None

    for name, action in ACTIONS.items():
        cases = [c for c in CASES if owner(c.id) == name and c.steps]
        assert cases, f'no wire-format case for {name}'
        allowed = {f.name for f in action.fields} | ({'_target'} if action.target else set())
        for case in cases:
            for step in case.steps:
                assert step.request['_type'] == f'wf_api_{action.request}_request', case.id
                assert set(step.request) - {'_type'} <= allowed, case.id
            response = case.steps[0].response
            if action.returns and isinstance(response, dict) and action.returns in response \
                    and action.waits != NOTHING and case.raises is None \
                    and not isinstance(case.returns, Computed) and name != 'get_mapped_var':
                sent = decode(json.dumps(response))[action.returns]  # char codes become text
                assert case.returns == sent or name.startswith(
                    ('get_number', 'get_boolean', 'get_array')), case.id


@pytest.mark.parametrize('case', CASES, ids=[c.id for c in CASES])
def test_action_wire_format(runner, case):
    def call(relay):
        try:
            outcome = ('ok', case.call(relay))
        except Exception as exc:
            outcome = ('error', exc)
        relay.get_var('__sentinel__')  # proves nothing else was sent before it
        return outcome

    with runner.start(call) as job:
        exchanges: List[Exchange] = []
        for step in case.steps:
            request = job.peer.expect(step.request['_type'])
            body = dict(request)
            del body['_id']
            assert body == step.request
            fields = step.response(request) if callable(step.response) else step.response
            response = job.peer.respond(request, **fields) if fields is not None else None
            if step.after is not None:
                step.after(job.peer, request)
            exchanges.append((request, response))
        sentinel = job.peer.expect('wf_api_get_var_request')
        assert sentinel['name'] == '__sentinel__'
        job.peer.respond(sentinel, value='x')
        kind, value = job.result()

    if case.raises is not None:
        assert kind == 'error' and isinstance(value, case.raises), value
        return
    if kind == 'error':
        raise value
    expected = case.returns.fn(exchanges) if isinstance(case.returns, Computed) \
        else case.returns
    assert value == expected
    assert type(value) is type(expected)


# ------------------------------------------------------------ local helpers
def test_trigger_helpers():
    trigger = {'type': 'phrase', 'args': {'source_uri': T}}
    assert Relay.make_target_uris(trigger) == {'uris': [T]}
    assert Relay.get_source_uri_from_trigger(trigger) == T
    assert Relay.targets_from_source_uri(BOB) == {'uris': [BOB]}
    for bad, message in (('x', 'not a dictionary'), ({'type': 'phrase'}, 'not a trigger'),
                         ({'args': {}}, 'no source_uri')):
        with pytest.raises(WorkflowException, match=message):
            Relay.make_target_uris(bad)
        with pytest.raises(WorkflowException, match=message):
            Relay.get_source_uri_from_trigger(bad)


def test_option_builders():
    assert Relay.interaction_options() == {'color': '0000ff', 'input_types': [],
                                           'home_channel': 'suspend'}
    assert Relay.push_options() == {'priority': 'normal', 'sound': 'default'}
    assert list(Relay.push_options(title='t', body='b')) == ['priority', 'sound', 'title', 'body']
    assert Relay.led_info() == {}
    assert Relay.led_info(rotations=0, colors={'1': 'fff'}) == {'rotations': 0,
                                                                 'colors': {'1': 'fff'}}


def test_invalid_arguments_are_precise_and_compatible():
    """InvalidArgument: a WorkflowException (as relay-py raised for a bad
    trigger) and the TypeError/ValueError earlier versions raised."""
    for call in (lambda: relaysync.make_target(None), lambda: relaysync.make_target([]),
                 lambda: Relay.make_target_uris({'type': 'x'})):
        with pytest.raises(relaysync.InvalidArgument) as info:
            call()
        error = info.value
        assert isinstance(error, (WorkflowException, TypeError, ValueError))
        assert isinstance(error, TypeError) and isinstance(error, ValueError)
        assert error.message == str(error)


def test_make_target():
    make_target = relaysync.make_target
    assert make_target(T) == {'uris': [T]}
    assert make_target([T, BOB]) == {'uris': [T, BOB]}
    assert make_target((T,)) == {'uris': [T]}
    assert make_target({'uris': [T]}) == {'uris': [T]}
    with pytest.raises(TypeError):
        make_target({'uris': [T], 'other': 1})
    with pytest.raises(TypeError):
        make_target([T, None])
    with pytest.raises(ValueError):
        make_target([])
