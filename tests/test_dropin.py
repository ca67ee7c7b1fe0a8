"""relay-py programs run with only their import changed.

Checked against relay-py 2.0 itself: the signature of every public name of
``relay.workflow`` (names, order, defaults, static-ness), the exceptions a
relay-py program catches (types, messages, ``.message``), the module's
constants and helpers, and relay-py's README hello world, run unchanged but
for its import line, over real sockets against the simulator.
"""

import asyncio
import inspect
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import relaysync
import relaysync.workflow as W
from peer import DEVICE

ROOT = Path(__file__).resolve().parent.parent

#: relay-py 2.0's public callables: ``name -> '[static ](parameters)'``, as its
#: ``relay/workflow.py`` declares them (``self`` left out).
RELAY_PY_SIGNATURES = {
    'Server.register': '(workflow, path)',
    'Server.start': '()',
    'Server.total_connections': '()',
    'group_id': '(gid)',
    'group_name': '(name)',
    'device_name': '(name)',
    'interaction_name': '(name)',
    'group_member': '(group, device)',
    'device_id': '(gid)',
    'parse_group_name': '(uri)',
    'parse_group_id': '(uri)',
    'parse_device_name': '(uri)',
    'parse_device_id': '(uri)',
    'parse_interaction': '(uri)',
    'is_interaction_uri': '(uri)',
    'is_relay_uri': '(uri)',
    'remove_null': '(obj)',
    'trigger_workflow': '(access_token, refresh_token, client_id, workflow_id, subscriber_id, '
                        'user_id, targets, action_args=None)',
    'fetch_device': '(access_token, refresh_token, client_id, subscriber_id, user_id)',
    'Workflow.on_button': "(_func=None, *, button='*', taps='*')",
    'Workflow.on_notification': "(_func=None, *, name='*', event='*')",
    'Workflow.get_handler': '(event)',
    'Relay.make_target_uris': 'static (trigger)',
    'Relay.get_source_uri_from_trigger': 'static (trigger)',
    'Relay.targets_from_source_uri': 'static (source_uri)',
    'Relay.get_var': '(name, default=None)',
    'Relay.get_number_var': '(name, default=None)',
    'Relay.set_var': '(name, value)',
    'Relay.unset_var': '(name)',
    'Relay.interaction_options': "static (color='0000ff', input_types=None, "
                                 "home_channel='suspend')",
    'Relay.start_interaction': '(target, name, options=None)',
    'Relay.end_interaction': '(target)',
    'Relay.listen': '(target, phrases=None, transcribe=True, alt_lang=None, timeout=60)',
    'Relay.play': '(target, filename)',
    'Relay.play_and_wait': '(target, filename)',
    'Relay.say': "(target, text, lang='en-US')",
    'Relay.say_and_wait': "(target, text, lang='en-US')",
    'Relay.push_options': "static (priority='normal', title=None, body=None, sound='default')",
    'Relay.alert': '(target, originator, name, text, push_opts=None)',
    'Relay.cancel_alert': '(target, name)',
    'Relay.broadcast': '(target, originator, name, text, push_opts=None)',
    'Relay.cancel_broadcast': '(target, name)',
    'Relay.set_channel': '(target, channel_name, suppress_tts=False, disable_home_channel=False)',
    'Relay.get_device_name': '(target)',
    'Relay.get_device_address': '(target, refresh=False)',
    'Relay.get_device_location': '(target, refresh=False)',
    'Relay.get_device_latlong': '(target, refresh=False)',
    'Relay.get_device_coordinates': '(target, refresh=False)',
    'Relay.get_device_indoor_location': '(target, refresh=False)',
    'Relay.get_device_battery': '(target, refresh=False)',
    'Relay.get_device_type': '(target)',
    'Relay.get_device_id': '(target)',
    'Relay.get_user_profile': '(target)',
    'Relay.get_device_location_enabled': '(target)',
    'Relay.set_device_name': '(target, name)',
    'Relay.enable_location': '(target)',
    'Relay.disable_location': '(target)',
    'Relay.led_info': 'static (rotations=None, count=None, duration=None, repeat_delay=None, '
                      'pattern_repeats=None, colors=None)',
    'Relay.led_action': "(target, effect='flash', args=None)",
    'Relay.switch_all_led_on': "(target, color='0000ff')",
    'Relay.switch_led_on': "(target, index, color='0000ff')",
    'Relay.rainbow': '(target, rotations=-1)',
    'Relay.flash': "(target, color='0000ff', count=-1)",
    'Relay.breathe': "(target, color='0000ff', count=-1)",
    'Relay.rotate': "(target, color='0000ff', rotations=-1)",
    'Relay.switch_all_led_off': '(target)',
    'Relay.vibrate': '(target, pattern=None)',
    'Relay.start_timer': '(timeout=60)',
    'Relay.stop_timer': '()',
    'Relay.terminate': '()',
    'Relay.create_incident': '(originator, itype)',
    'Relay.resolve_incident': '(incident_id, reason)',
    'Relay.stop_playback': '(target, pb_id=None)',
    'Relay.translate': "(text, from_lang='en-US', to_lang='es-ES')",
    'Relay.place_call': '(target, callee_uri)',
    'Relay.answer_call': '(target, call_id)',
    'Relay.hangup_call': '(target, call_id)',
    'Relay.get_group_members': '(group_uri)',
    'Relay.is_group_member': '(group_name_uri, potential_member_name_uri)',
    'Relay.set_user_profile': '(target, username, force=False)',
    'Relay.get_unread_inbox_size': '(target)',
    'Relay.play_unread_inbox_messages': '(target)',
    'Relay.log_message': "(message, category='default', target=None, content_type='text/plain')",
    'Relay.log_user_message': '(message, target, category)',
    'Relay.set_timer': "(name, timer_type='timeout', timeout=60, timeout_type='secs')",
    'Relay.clear_timer': '(name)',
    'Relay.sms': '(stype, text, uri)',
    'Relay.enable_home_channel': '(target)',
    'Relay.disable_home_channel': '(target)',
    'Relay.register': '(target, uri, password, expires)',
}
#: relay-py's on_* decorators without filters all take ``(func)``.
RELAY_PY_DECORATORS = [
    'on_start', 'on_stop', 'on_prompt', 'on_timer', 'on_timer_fired', 'on_speech',
    'on_progress', 'on_play_inbox_message', 'on_call_connected', 'on_call_disconnected',
    'on_call_failed', 'on_call_received', 'on_call_ringing', 'on_call_start_request',
    'on_call_progressing', 'on_sms', 'on_incident', 'on_interaction_lifecycle', 'on_resume']
#: relay-py's module constants and their values.
RELAY_PY_CONSTANTS = {
    'SCHEME': 'urn', 'ROOT': 'relay-resource', 'GROUP': 'group', 'ID': 'id', 'NAME': 'name',
    'DEVICE': 'device', 'DEVICE_PATTERN': '?device=', 'INTERACTION': 'interaction',
    'INTERACTION_URI_NAME': 'urn:relay-resource:name:interaction',
    'INTERACTION_URI_ID': 'urn:relay-resource:id:interaction',
    'TYPE_ENDED': 'ended', 'TYPE_STARTED': 'started',
    'SERVER_HOSTNAME': 'all-main-pro-ibot.relaysvr.com', 'AUTH_HOSTNAME': 'auth.relaygo.com',
}

#: relay-py's README hello world (samples/hello_world_wf.py), verbatim.
RELAY_PY_HELLO_WORLD = '''\
import relay.workflow
import os
import logging

port = os.getenv('PORT', 8080)
wf_server = relay.workflow.Server('0.0.0.0', port, log_level=logging.INFO)
hello_workflow = relay.workflow.Workflow('hello workflow')
wf_server.register(hello_workflow, '/hellopath')


@hello_workflow.on_start
async def start_handler(workflow, trigger):
    target = workflow.make_target_uris(trigger)
    await workflow.start_interaction(target, "interaction name")


@hello_workflow.on_interaction_lifecycle
async def lifecycle_handler(workflow, itype, interaction_uri, reason):
    if itype == relay.workflow.TYPE_STARTED:
        await workflow.say_and_wait(interaction_uri, 'hello world')
        await workflow.end_interaction(interaction_uri)
    if itype == relay.workflow.TYPE_ENDED:
        await workflow.terminate()


wf_server.start()
'''


def _parse(spec: str):
    """``'static (a, b=1, *, c=2)'`` -> (static, [(name, default or EMPTY, kw_only)])."""
    static = spec.startswith('static ')
    inner = spec[len('static '):] if static else spec
    params, kw_only = [], False
    for part in filter(None, (p.strip() for p in inner.strip('()').split(', '))):
        if part == '*':
            kw_only = True
            continue
        name, eq, default = part.partition('=')
        params.append((name, eval(default) if eq else inspect.Parameter.empty, kw_only))
    return static, params


def _ours(qualified: str):
    owner, _, name = qualified.rpartition('.')
    if not owner:
        return False, getattr(W, name)
    cls = getattr(W, owner)
    return isinstance(inspect.getattr_static(cls, name), staticmethod), getattr(cls, name)


@pytest.mark.parametrize('name', sorted(RELAY_PY_SIGNATURES))
def test_signature_matches_relay_py(name):
    """Same parameter names in the same order, the same defaults, the same
    static-ness; relaysync may only add optional parameters after them."""
    static, params = _parse(RELAY_PY_SIGNATURES[name])
    our_static, func = _ours(name)
    assert our_static == static, f'{name}: static-ness differs'
    ours = [p for p in inspect.signature(func).parameters.values() if p.name != 'self']
    assert [p.name for p in ours[:len(params)]] == [p[0] for p in params], name
    for (pname, default, kw_only), mine in zip(params, ours):
        assert mine.default == default or (default is inspect.Parameter.empty
                                           and mine.kind != mine.KEYWORD_ONLY), (name, pname)
        assert (mine.kind == mine.KEYWORD_ONLY) == kw_only, (name, pname)
    for extra in ours[len(params):]:
        assert extra.default is not inspect.Parameter.empty or extra.kind in (
            extra.VAR_KEYWORD, extra.VAR_POSITIONAL), (name, extra.name)


@pytest.mark.parametrize('name', RELAY_PY_DECORATORS)
def test_decorators_take_the_function(name):
    params = [p for p in inspect.signature(getattr(W.Workflow, name)).parameters
              if p != 'self']
    assert params == ['func']


def test_constructors_take_relay_py_arguments():
    assert list(inspect.signature(W.Server).parameters)[:2] == ['host', 'port']
    assert list(inspect.signature(W.Workflow).parameters) == ['name']
    for exc in (W.WorkflowException, W.ServerException):
        assert exc(message='text').message == 'text'


def test_module_constants_keep_relay_py_values():
    for name, value in RELAY_PY_CONSTANTS.items():
        assert getattr(W, name) == value, name
    assert W.VERSION.startswith('relaysync/')
    assert isinstance(W.logger, logging.Logger)


def test_keyword_calls_use_relay_py_parameter_names():
    assert W.device_id(gid='990007560023456') == 'urn:relay-resource:id:device:990007560023456'
    assert W.group_id(gid='g 1') == 'urn:relay-resource:id:group:g%201'
    assert W.group_member(group='team', device='Jim Smith/2') == (
        'urn:relay-resource:name:group:team'
        '?device=urn%3Arelay-resource%3Aname%3Adevice%3AJim%20Smith/2')


def test_remove_null_as_relay_py_does():
    assert W.remove_null({'a': None, 'b': [None, {'c': None, 'd': 1}], 'e': 'x'}) == \
        {'b': [None, {'d': 1}], 'e': 'x'}
    assert W.remove_null('plain') == 'plain'


def test_get_handler_and_type_handlers_keyed_as_relay_py():
    wf = W.Workflow('lookup')

    @wf.on_start
    def start(relay, trigger):
        pass

    @wf.on_button(button='action')
    def action(relay, button, taps, source_uri):
        pass

    @wf.on('position')
    def position(relay, event):
        pass

    assert wf.get_handler({'_type': 'wf_api_start_event', 'trigger': {}}) is start
    assert wf.get_handler({'_type': 'wf_api_button_event', 'button': 'action',
                           'taps': 'double'}) is action
    assert wf.get_handler({'_type': 'wf_api_button_event', 'button': 'channel',
                           'taps': 'double'}) is None
    assert wf.get_handler({'_type': 'wf_api_position_event'}) is position
    assert wf.get_handler({'no': 'type'}) is None
    assert dict(wf.type_handlers) == {'wf_api_start_event': start,
                                      ('wf_api_button_event', 'action', '*'): action,
                                      'wf_api_position_event': position}
    with pytest.raises(TypeError):
        wf.type_handlers['wf_api_stop_event'] = start   # read-only: register with decorators


# ------------------------------------------- exceptions, over real sockets
def test_error_response_keeps_its_text_in_message(runner):
    def handler(relay):
        try:
            relay.say(DEVICE, 'hi')
        except W.WorkflowException as e:   # what relay-py programs write
            return type(e), e.message, str(e)

    with runner.start(handler) as job:
        job.peer.error(job.peer.expect('wf_api_say_request'), 'device is offline')
        assert job.result() == (relaysync.ErrorResponse, 'device is offline',
                                'device is offline')


def test_timeout_and_closed_connection_have_a_message(make_runner):
    runner = make_runner(timeouts=relaysync.Timeouts(request=0.2))
    caught = []

    def handler(relay):
        for attempt in (lambda: relay.get_var('x'), lambda: relay.get_var('y')):
            try:
                attempt()
            except asyncio.TimeoutError as e:   # relay-py's say_and_wait raised this
                caught.append(('timeout', e.message))
            except W.WorkflowException as e:
                caught.append(('closed', e.message))

    with runner.start(handler) as job:
        job.peer.expect('wf_api_get_var_request')      # never answered: times out
        job.peer.expect('wf_api_get_var_request')
        job.peer.close()
        job.result()
    assert caught[0] == ('timeout', caught[0][1]) and 'no response within 0.2 s' in caught[0][1]
    assert caught[1][0] == 'closed' and 'connection closed' in caught[1][1]


@pytest.mark.parametrize('trigger,message', [
    ('not a dict', 'trigger parameter is not a dictionary'),
    ({'type': 'phrase'}, 'trigger parameter is not a trigger dictionary'),
    ({'type': 'phrase', 'args': {}}, 'there is no source_uri definition in the trigger'),
])
def test_invalid_trigger_errors_as_relay_py(trigger, message):
    for helper in (W.Relay.make_target_uris, W.Relay.get_source_uri_from_trigger):
        with pytest.raises(W.WorkflowException) as info:
            helper(trigger)
        assert info.value.message == message == str(info.value)


def test_register_on_a_taken_path_says_what_relay_py_says():
    server = W.Server('127.0.0.1', 0)
    server.register(W.Workflow('first'), '/x')
    with pytest.raises(W.ServerException) as info:
        server.register(W.Workflow('second'), '/x')
    assert info.value.message == 'a workflow is already registered at path /x'


def test_set_var_sends_a_value_that_is_not_a_string_untouched(runner):
    with runner.start(lambda relay: relay.set_var('count', 3)) as job:
        request = job.peer.expect('wf_api_set_var_request')
        assert request['value'] == 3
        job.peer.respond(request, name='count', value='3', type='string')
        assert job.result() == '3'   # the response's value, as relay-py returns it


# ------------------------------------------------ the README hello world
def test_relay_py_readme_hello_world_runs_with_only_its_import_changed(tmp_path):
    ported = RELAY_PY_HELLO_WORLD.replace('import relay.workflow\n', 'import relaysync as relay\n')
    changed = [(a, b) for a, b in zip(RELAY_PY_HELLO_WORLD.splitlines(), ported.splitlines())
               if a != b]
    assert changed == [('import relay.workflow', 'import relaysync as relay')]
    (tmp_path / 'hello_world_wf.py').write_text(ported, encoding='utf-8')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop('PORT', None)
    proc = subprocess.run([sys.executable, '-m', 'relaysync.cli', 'simulate', 'hello_world_wf.py',
                           '--no-times', '--no-requests', '--timeout', '20'],
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1:-1] == [
        'Alice: triggered the workflow (button action="action_button_single_tap")',
        'Alice: interaction "interaction name" started',
        'Alice: heard "hello world"',
        'Alice: interaction "interaction name" ended',
        'relay: workflow terminated (stop reason: normal)']
    assert lines[-1].startswith('result: OK - the workflow terminated')
    assert 'RuntimeWarning' not in proc.stderr and 'never awaited' not in proc.stderr


def test_notify_is_deprecated_and_says_what_to_use(runner):
    def handler(relay):
        with pytest.warns(DeprecationWarning) as notify_warning:
            relay.notify(DEVICE, DEVICE, 'n', 'fyi')
        with pytest.warns(DeprecationWarning) as cancel_warning:
            relay.cancel_notify(DEVICE, 'n')
        return str(notify_warning[0].message), str(cancel_warning[0].message)

    with runner.start(handler) as job:
        for _ in range(2):
            request = job.peer.expect('wf_api_notification_request')
            job.peer.respond(request)
        notify_text, cancel_text = job.result()
    assert request['type'] == 'cancel'
    assert 'use alert() (acknowledged) or broadcast()' in notify_text
    assert 'use cancel_alert() or cancel_broadcast()' in cancel_text
