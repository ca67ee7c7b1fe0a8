"""The simulator's Python API and pytest fixture, driving real relaysync workflows.

Each test serves a small workflow in-process (the fixture starts a relaysync
Server on 127.0.0.1) and plays the Relay server against it over a real
WebSocket connection.
"""

import pytest

import relaysync
from relaysync.simulator import (HandshakeFailed, SimulationTimeout, Simulator,
                                 WorkflowCrashed)

FAST = 0.01  # time_scale: a simulated second lasts 10 ms


def hello_workflow(text='hello world'):
    wf = relaysync.Workflow('hello')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'hello interaction')

    @wf.on_interaction_lifecycle
    def lifecycle(relay, itype, uri, reason):
        if itype == relaysync.TYPE_STARTED:
            relay.say_and_wait(uri, text)
            relay.end_interaction(uri)
        elif itype == relaysync.TYPE_ENDED:
            relay.terminate()
    return wf


def interaction_workflow(body, name='test interaction', options=None):
    """A workflow that runs ``body(relay, interaction_uri)`` once its interaction
    has started, stores what it returns in ``wf.result`` and terminates."""
    wf = relaysync.Workflow('test')
    wf.result = None
    wf.error = None

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), name, options)

    @wf.on_interaction_started
    def started(relay, uri, reason):
        try:
            wf.result = body(relay, uri)
        except relaysync.WorkflowException as exc:
            wf.error = exc
        finally:
            relay.terminate()
    return wf


# ------------------------------------------------------------------ basics
def test_hello_world_heard_and_terminated(relay_simulator):
    sim = relay_simulator(hello_workflow())
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    run.wait_until_done(timeout=5)
    assert alice.heard == ['hello world']
    assert run.terminated and run.outcome == 'terminated'
    assert run.stop_reason == 'normal'
    assert run.request_names() == ['start_interaction', 'say', 'end_interaction', 'terminate']
    assert [e['type'] for e in run.events_of('interaction_lifecycle')] == \
        ['started', 'resumed', 'ended']
    assert [e['type'] for e in run.events_of('prompt')] == ['started', 'stopped']
    assert run.events[-1] == {'_type': 'wf_api_stop_event', 'reason': 'normal'}
    assert run.lines() == [
        'Alice: triggered the workflow (button action="action_button_single_tap")',
        'workflow: start_interaction -> Alice name="hello interaction"',
        'Alice: interaction "hello interaction" started',
        'workflow: say -> Alice text="hello world" lang="en-US"',
        'Alice: heard "hello world"',
        'workflow: end_interaction -> Alice',
        'Alice: interaction "hello interaction" ended',
        'workflow: terminate',
        'relay: workflow terminated (stop reason: normal)',
    ]


def test_start_event_carries_the_trigger(relay_simulator):
    seen = {}
    wf = relaysync.Workflow('trigger')

    @wf.on_start
    def start(relay, trigger):
        seen['trigger'] = trigger
        seen['vars'] = relay.get_var('group'), relay.get_var('missing', 'dflt')
        relay.terminate()

    sim = relay_simulator(wf)
    bob = sim.device('Bob')
    sim.trigger(bob, type='phrase', vars={'group': 'team'}, phrase='help',
                spillover='now').wait_until_done(5)
    assert seen['trigger'] == {'type': 'phrase', 'args': {
        'phrase': 'help', 'spillover': 'now', 'source_uri': 'urn:relay-resource:name:device:Bob'}}
    assert seen['vars'] == ('team', 'dflt')


def test_vars_persist_for_the_instance_only(relay_simulator):
    wf = relaysync.Workflow('vars')

    @wf.on_start
    def start(relay, trigger):
        before = relay.get_var('count', '0')
        relay.set_var('count', str(int(before) + 1))
        relay.set_var('gone', 'x')
        relay.unset_var('gone')
        relay.start_timer(1)

    @wf.on_timer
    def tick(relay):
        relay.stop_timer()
        relay.set_var('seen', relay.get_var('count') + ',' + str(relay.get_var('gone')))
        relay.terminate()

    sim = relay_simulator(wf, time_scale=FAST)
    first = sim.trigger('Alice').wait_until_done(5)
    second = sim.trigger('Alice').wait_until_done(5)
    assert first.vars == {'count': '1', 'seen': '1,None'}
    assert second.vars == first.vars  # a new instance starts afresh


# ----------------------------------------------------------------- listen
def test_listen_answered_from_the_device_script(relay_simulator):
    wf = interaction_workflow(lambda relay, uri: [relay.listen(uri, ['yes', 'no'], timeout=5),
                                                  relay.listen(uri, timeout=5)])
    sim = relay_simulator(wf, time_scale=FAST)
    alice = sim.device('Alice', says=['yes', 'my name is Alice'])
    run = sim.trigger(alice).wait_until_done(5)
    assert wf.result == ['yes', 'my name is Alice']
    speech = run.events_of('speech')
    listens = [m for m in run.requests if m['_type'] == 'wf_api_listen_request']
    assert [s['request_id'] for s in speech] == [m['_id'] for m in listens]
    assert speech[0]['lang'] == 'en-US' and speech[0]['source_uri'].startswith(
        'urn:relay-resource:name:interaction:test%20interaction?device=')
    assert alice.said == ['yes', 'my name is Alice']


def test_listen_silence_after_the_timeout(relay_simulator):
    wf = interaction_workflow(lambda relay, uri: relay.listen(uri, timeout=3))
    sim = relay_simulator(wf, time_scale=FAST)
    run = sim.trigger('Alice').wait_until_done(5)
    assert wf.result == ''
    assert run.events_of('speech')[0]['text'] == ''
    assert 'Alice: said nothing (the listen timed out)' in run.lines()


def test_listen_without_transcription_returns_audio(relay_simulator):
    wf = interaction_workflow(lambda relay, uri: relay.listen(uri, transcribe=False))
    sim = relay_simulator(wf)
    sim.device('Alice', says=['abc'])
    run = sim.trigger('Alice').wait_until_done(5)
    assert wf.result == 'YWJj'  # base64 of the scripted answer
    assert 'text' not in run.events_of('speech')[0]


def test_say_while_listening_answers_at_once(relay_simulator):
    wf = interaction_workflow(lambda relay, uri: relay.listen(uri, timeout=60))
    sim = relay_simulator(wf)  # real time: only the live answer can end this quickly
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    assert alice.wait_until_listening(5)
    assert alice.say('right now') is True
    run.wait_until_done(5)
    assert wf.result == 'right now'


# ---------------------------------------------------------------- buttons
def button_workflow(input_types):
    wf = relaysync.Workflow('buttons')
    wf.presses = []

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'buttons',
                                relay.interaction_options(input_types=input_types))

    @wf.on_interaction_started
    def started(relay, uri, reason):
        relay.say_and_wait(uri, 'press')

    @wf.on_button
    def button(relay, button, taps, source_uri):
        wf.presses.append((button, taps, source_uri))
        if taps == 'triple':
            relay.terminate()
    return wf


def test_buttons_reach_the_workflow_when_the_interaction_asks(relay_simulator):
    wf = button_workflow(['action_button_double_tap', 'action_button_triple_tap'])
    sim = relay_simulator(wf)
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    assert alice.wait_until_heard('press')
    assert alice.press('action', 'single') is False  # not among the input_types
    assert alice.press('action', 'double') is True
    assert alice.press('action', 'triple') is True
    run.wait_until_done(5)
    uri = next(iter(run.interactions))
    assert [p[:2] for p in wf.presses] == [('action', 'double'), ('action', 'triple')]
    assert wf.presses[0][2] == uri and 'interaction' in uri
    assert alice.pressed == [('action', 'single'), ('action', 'double'), ('action', 'triple')]
    assert ('Alice: pressed action single (not sent: interaction "buttons" did not ask for '
            'action_button_single_tap)') in run.lines()


def test_route_all_buttons(relay_simulator):
    wf = button_workflow([])
    sim = relay_simulator(wf, route_all_buttons=True)
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    assert alice.wait_until_heard('press')
    alice.press('channel', 'triple')
    run.wait_until_done(5)
    assert [p[:2] for p in wf.presses] == [('channel', 'triple')]


def test_press_validates_its_arguments(relay_simulator):
    sim = relay_simulator(hello_workflow())
    with pytest.raises(ValueError):
        sim.device('Alice').press('volume', 'single')


# ------------------------------------------------------ speech and prompts
def test_paced_speech_and_stop_playback(relay_simulator):
    def body(relay, uri):
        pid = relay.say(uri, 'a long sentence with quite a few words in it to say')
        relay.stop_playback(uri, pid)
        return pid

    wf = interaction_workflow(body)
    wf.prompts = []

    @wf.on_prompt
    def prompt(relay, source_uri, ptype):
        wf.prompts.append(ptype)

    sim = relay_simulator(wf, pace=True)  # real time: 4.4 s of speech, stopped at once
    run = sim.trigger('Alice').wait_until_done(5)
    prompts = run.events_of('prompt')
    assert [p['type'] for p in prompts] == ['started', 'stopped']
    assert prompts[0]['id'] == wf.result
    assert 'workflow: stop_playback -> Alice ids=' in '\n'.join(run.lines())


def test_play_and_wait(relay_simulator):
    wf = interaction_workflow(lambda relay, uri: relay.play_and_wait(uri, 'relay-static://beep'))
    sim = relay_simulator(wf)
    alice = sim.device('Alice')
    sim.trigger(alice).wait_until_done(5)
    assert alice.played == ['relay-static://beep'] and alice.heard == []


# ------------------------------------------------------------ LEDs, device
def test_leds_and_vibration_are_recorded(relay_simulator):
    def body(relay, uri):
        relay.flash(uri, 'ff0000', count=3)
        relay.switch_led_on(uri, 2, '00ff00')
        relay.vibrate(uri, [100, 200])
        relay.switch_all_led_off(uri)

    sim = relay_simulator(interaction_workflow(body))
    alice = sim.device('Alice')
    run = sim.trigger(alice).wait_until_done(5)
    assert [(c.effect, c.args) for c in alice.leds] == [
        ('flash', {'colors': {'ring': 'ff0000'}, 'count': 3}),
        ('static', {'colors': {'2': '00ff00'}}), ('off', {})]
    assert alice.led.effect == 'off'
    assert alice.vibrations == [[100, 200]]
    assert run.lines(kinds=['led', 'vibrate']) == [
        'Alice: LED flash ring=ff0000 count=3', 'Alice: LED static 2=00ff00',
        'Alice: vibrate [100, 200]', 'Alice: LED off']


def test_device_info_comes_from_the_virtual_device(relay_simulator):
    def body(relay, uri):
        return [relay.get_device_name(uri), relay.get_device_id(uri),
                relay.get_device_type(uri), relay.get_device_battery(uri),
                relay.get_device_location(uri), relay.get_device_coordinates(uri),
                relay.get_device_indoor_location(uri), relay.get_user_profile(uri),
                relay.get_device_location_enabled(uri)]

    wf = interaction_workflow(body)
    sim = relay_simulator(wf)
    sim.device('Cam', id='990007560023456', type='relay2', battery=42, address='5 Elm St',
               latlong=[1.5, -2.25], indoor_location='lobby', username='cam')
    sim.trigger('Cam').wait_until_done(5)
    assert wf.result == ['Cam', '990007560023456', 'relay2', 42, '5 Elm St', [1.5, -2.25],
                         'lobby', 'cam', True]


def test_device_changes_and_location_off(relay_simulator):
    def body(relay, uri):
        relay.disable_location(uri)
        address = relay.get_device_location(uri)
        relay.set_device_name(uri, 'Dora')
        relay.set_channel(uri, 'ops', disable_home_channel=True)
        relay.set_user_profile(uri, 'dora')
        return address, relay.get_device_name(relaysync.device_name('Dora'))

    wf = interaction_workflow(body)
    sim = relay_simulator(wf)
    cam = sim.device('Cam')
    sim.trigger(cam).wait_until_done(5)
    assert wf.result == (None, 'Dora')
    assert cam.name == 'Dora' and cam.location_enabled is False
    assert cam.channel == 'ops' and cam.home_channel_enabled is False and cam.username == 'dora'


def test_refreshed_device_info_is_slow_with_progress_events(relay_simulator):
    def body(relay, uri):
        relay.timeouts.refresh = 0.5  # real seconds: only progress events keep it alive
        return relay.get_device_battery(uri, refresh=True)

    wf = interaction_workflow(body)
    # 3 simulated seconds = 1.5 real seconds, a progress event every 0.1 real s.
    sim = relay_simulator(wf, time_scale=0.5, refresh_delay=3, progress_interval=0.2)
    run = sim.trigger('Alice').wait_until_done(10)
    assert wf.error is None and wf.result == 100
    progress = [m for m in run.events if m.get('_type') == 'wf_api_progress_event']
    assert len(progress) == 0  # progress events carry _id: they are not events
    request = next(m for m in run.requests if m.get('query') == 'battery')
    assert run.lines(kinds=['progress']).count('relay: progress event for get_device_info') >= 10
    assert request['refresh'] is True


def test_inbox(relay_simulator):
    wf = interaction_workflow(lambda relay, uri: [relay.get_unread_inbox_size(uri),
                                                  relay.play_unread_inbox_messages(uri),
                                                  relay.get_unread_inbox_size(uri)])
    wf.actions = []

    @wf.on_play_inbox_message
    def done(relay, action):
        wf.actions.append(action)

    sim = relay_simulator(wf)
    alice = sim.device('Alice', inbox=['call me', 'lunch?'])
    run = sim.trigger(alice).wait_until_done(5)
    assert wf.result == ['2', None, '0']
    assert alice.played == ['inbox: call me', 'inbox: lunch?']
    assert run.events_of('play_inbox_message') == [
        {'_type': 'wf_api_play_inbox_message_event', 'action': 'complete'}]


# ------------------------------------------------------------ interactions
def test_a_second_interaction_suspends_the_first(relay_simulator):
    wf = relaysync.Workflow('nested')
    wf.lifecycle = []

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'outer')

    @wf.on_interaction_lifecycle
    def lifecycle(relay, itype, uri, reason):
        name = relaysync.parse_interaction(uri)
        wf.lifecycle.append((name, itype))
        if (name, itype) == ('outer', 'started'):
            relay.start_interaction(relay.get_var('device', relaysync.device_name('Alice')),
                                    'inner')
        elif (name, itype) == ('inner', 'started'):
            relay.end_interaction(uri)
        elif (name, itype) == ('outer', 'resumed') and ('inner', 'ended') in wf.lifecycle:
            relay.end_interaction(uri)
        elif (name, itype) == ('outer', 'ended'):
            relay.terminate()

    sim = relay_simulator(wf)
    sim.trigger('Alice').wait_until_done(5)
    assert wf.lifecycle == [('outer', 'started'), ('outer', 'resumed'), ('outer', 'suspended'),
                            ('inner', 'started'), ('inner', 'resumed'), ('inner', 'ended'),
                            ('outer', 'resumed'), ('outer', 'ended')]


# ---------------------------------------------------------- notifications
def alert_workflow():
    wf = relaysync.Workflow('alert')
    wf.acks = []

    @wf.on_start
    def start(relay, trigger):
        relay.alert(relaysync.group_name('team'), relay.get_source_uri_from_trigger(trigger),
                    'help', 'help needed')

    @wf.on_notification(name='help', event='ack_event')
    def acked(relay, event, name, state, source_uri):
        wf.acks.append((source_uri, state))
        relay.cancel_alert(relaysync.group_name('team'), 'help')
        relay.terminate()
    return wf


def test_alert_acknowledged_by_another_device(relay_simulator):
    wf = alert_workflow()
    sim = relay_simulator(wf, time_scale=FAST)
    alice = sim.device('Alice')
    bob = sim.device('Bob', ack_alerts=2)
    carol = sim.device('Carol')
    sim.group('team', [bob, carol])
    run = sim.trigger(alice).wait_until_done(5)
    bob_urn, carol_urn = bob.urn, carol.urn
    assert wf.acks == [(bob_urn, {'acknowledged': [bob_urn], 'created': [bob_urn, carol_urn],
                                  'cancelled': [], 'timed_out': []})]
    assert [n.state for n in bob.notifications] == ['acknowledged']
    assert [n.state for n in carol.notifications] == ['cancelled']
    assert alice.notifications == []
    assert run.lines(kinds=['notification', 'ack']) == [
        'Bob: alert "help needed" from Alice ("help")',
        'Carol: alert "help needed" from Alice ("help")',
        'Bob: acknowledged alert "help"',
        'Carol: alert "help" cancelled']


def test_acknowledge_from_the_test(relay_simulator):
    wf = alert_workflow()
    sim = relay_simulator(wf)
    sim.group('team', ['Bob', 'Carol'])
    run = sim.trigger('Alice')
    carol = sim.devices['Carol']
    assert sim.wait_for(lambda: carol.notifications, 5)
    assert carol.acknowledge('other name') is False
    assert carol.acknowledge('help') is True
    run.wait_until_done(5)
    assert wf.acks[0][0] == carol.urn


def test_broadcast_to_all_devices_with_slow_progress(relay_simulator):
    def body(relay, uri):
        relay.timeouts.notification = 0.5  # real seconds; progress keeps it alive
        relay.broadcast(relaysync.all_devices(), relaysync.generic_originator(), 'news', 'hi')

    wf = interaction_workflow(body)
    sim = relay_simulator(wf, time_scale=0.5, slow={'notification': 3}, progress_interval=0.2)
    for name in ('Alice', 'Bob', 'Carol'):
        sim.device(name)
    run = sim.trigger('Alice').wait_until_done(10)
    assert wf.error is None
    assert [len(d.notifications) for d in sim.devices.values()] == [1, 1, 1]
    assert sim.devices['Bob'].notifications[0].type == 'broadcast'
    assert len(run.lines(kinds=['progress'])) >= 10


# ----------------------------------------------------------------- timers
def test_unnamed_timer_repeats_and_named_timers_fire(relay_simulator):
    wf = relaysync.Workflow('timers')
    wf.fired = []

    @wf.on_start
    def start(relay, trigger):
        relay.start_timer(2)
        relay.set_timer('once', 'timeout', 500, 'ms')
        relay.set_timer('every', 'interval', 3, 'secs')
        relay.set_timer('never', 'timeout', 1, 'hrs')

    @wf.on_timer
    def tick(relay):
        wf.fired.append('tick')

    @wf.on_timer_fired
    def fired(relay, name):
        wf.fired.append(name)
        if wf.fired.count('every') == 2:
            relay.stop_timer()
            relay.clear_timer('every')
            relay.clear_timer('never')
            relay.terminate()

    sim = relay_simulator(wf, time_scale=0.05)
    run = sim.trigger('Alice').wait_until_done(10)
    # 0.5 s once; 2 s tick; 3 s every; 4 s tick; 6 s tick and every (either order).
    assert wf.fired[:4] == ['once', 'tick', 'every', 'tick']
    assert sorted(wf.fired[4:6]) == ['every', 'tick']
    # Timers already due while stop_timer/clear_timer travel may still fire on a
    # loaded machine; the one-hour timer never does.
    assert set(wf.fired[6:]) <= {'tick', 'every'} and 'never' not in wf.fired
    assert run.lines(kinds=['timer'])[0] == 'relay: timer "once" fired'


# ------------------------------------------------------------------ calls
def test_call_between_two_virtual_devices(relay_simulator):
    wf = relaysync.Workflow('calls')
    wf.events = []

    @wf.on_start
    def start(relay, trigger):
        wf.call_id = relay.place_call(relay.get_source_uri_from_trigger(trigger),
                                      relaysync.device_name('Bob'))

    @wf.on_call_received
    def received(relay, call_id, direction, device_id, device_name, uri, onnet, start):
        wf.events.append(('received', direction, device_name))
        relay.answer_call(relaysync.device_name('Bob'), call_id)

    @wf.on_call_ringing
    def ringing(relay, call_id, direction, device_id, device_name, uri, onnet, start):
        wf.events.append(('ringing', direction, device_name))

    @wf.on_call_connected
    def connected(relay, call_id, direction, device_id, device_name, uri, onnet, start, conn):
        wf.events.append(('connected', direction, device_name))
        if direction == 'outbound':
            relay.hangup_call(relaysync.device_name('Alice'), call_id)

    @wf.on_call_disconnected
    def disconnected(relay, call_id, direction, device_id, device_name, uri, onnet, reason,
                     start, conn, end):
        wf.events.append(('disconnected', direction, reason))
        if direction == 'inbound':
            relay.terminate()

    sim = relay_simulator(wf)
    sim.device('Alice')
    bob = sim.device('Bob', id='990007560000099')
    run = sim.trigger('Alice').wait_until_done(5)
    assert wf.call_id == 'call_1'
    assert wf.events == [('received', 'inbound', 'Alice'), ('ringing', 'outbound', 'Bob'),
                         ('connected', 'outbound', 'Bob'), ('connected', 'inbound', 'Alice'),
                         ('disconnected', 'outbound', 'hangup'),
                         ('disconnected', 'inbound', 'hangup')]
    assert [e['_type'][7:-6] for e in run.events if 'call' in e['_type']] == [
        'call_progressing', 'call_received', 'call_ringing', 'call_connected', 'call_connected',
        'call_disconnected', 'call_disconnected']
    ring = run.events_of('call_ringing')[0]
    assert ring['device_id'] == bob.id and ring['uri'] == bob.urn
    assert run.lines(kinds=['call']) == [
        'Alice: calling Bob', 'Bob: incoming call from Alice', 'Bob: answered the call from Alice',
        'Alice: call ended (hangup)', 'Bob: call ended (hangup)']


def test_unanswered_and_outside_calls_fail(relay_simulator):
    wf = relaysync.Workflow('calls')
    wf.failures = []

    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        relay.place_call(me, relaysync.device_name('Bob'))
        relay.place_call(me, 'tel:+15555550100')

    @wf.on_call_failed
    def failed(relay, call_id, direction, device_id, device_name, uri, onnet, reason, *times):
        wf.failures.append((call_id, direction, reason))
        if len(wf.failures) == 3:
            relay.terminate()

    sim = relay_simulator(wf, time_scale=FAST, ring_timeout=5)
    sim.device('Alice')
    sim.device('Bob')
    sim.trigger('Alice').wait_until_done(5)
    assert sorted(wf.failures) == [('call_1', 'inbound', 'no_answer'),
                                   ('call_1', 'outbound', 'no_answer'),
                                   ('call_2', 'outbound', 'unreachable')]


def test_device_answers_and_hangs_up_itself(relay_simulator):
    wf = relaysync.Workflow('calls')
    wf.seen = []

    @wf.on_start
    def start(relay, trigger):
        relay.place_call(relay.get_source_uri_from_trigger(trigger), relaysync.device_name('Bob'))

    @wf.on_call_connected
    def connected(relay, call_id, direction, *rest):
        wf.seen.append(('connected', direction))

    @wf.on_call_disconnected
    def gone(relay, call_id, direction, device_id, device_name, uri, onnet, reason, *rest):
        wf.seen.append(('gone', direction, reason))
        if len(wf.seen) == 4:
            relay.terminate()

    sim = relay_simulator(wf, time_scale=FAST)
    sim.device('Alice')
    bob = sim.device('Bob', answer_calls=1)
    run = sim.trigger('Alice')
    assert sim.wait_for(lambda: len(wf.seen) == 2, 5)
    assert bob.hang_up() is True
    run.wait_until_done(5)
    assert wf.seen == [('connected', 'outbound'), ('connected', 'inbound'),
                       ('gone', 'outbound', 'hangup'), ('gone', 'inbound', 'hangup')]


# ------------------------------------------------- groups, incidents, misc
def test_groups_incidents_translate_analytics(relay_simulator):
    def body(relay, uri):
        team = relaysync.group_name('team')
        members = relay.get_group_members(team)
        yes = relay.is_group_member(team, relaysync.device_name('Bob'))
        no = relay.is_group_member(team, uri)
        new = relay.create_group('night shift')
        relay.add_group_members(new, relaysync.device_name('Alice'))
        incident = relay.create_incident(relay.get_var('me'), 'fall')
        relay.resolve_incident(incident, 'fine')
        relay.log_message('hello analytics', 'cat1')
        return [members, yes, no, new, incident, relay.translate('hello'),
                relay.translate('bye', to_lang='fr-FR')]

    wf = interaction_workflow(body)
    sim = relay_simulator(wf, translations={'es-ES': {'hello': 'hola'}})
    sim.device('Alice')
    sim.group('team', ['Bob', 'Carol'])
    sim.trigger('Alice', vars={'me': relaysync.device_name('Alice')}).wait_until_done(5)
    assert wf.error is None
    assert wf.result == [[relaysync.device_name('Bob'), relaysync.device_name('Carol')], True,
                         False, 'urn:relay-resource:name:group:night%20shift', '1001', 'hola',
                         '[fr-FR] bye']
    assert [d.name for d in sim.groups['night shift'].members] == ['Alice']
    assert sim.incidents['1001']['state'] == 'resolved'
    assert sim.analytics == [{'content': 'hello analytics', 'content_type': 'text/plain',
                              'category': 'cat1'}]


def test_operator_resolves_an_incident(relay_simulator):
    wf = relaysync.Workflow('incident')
    wf.incidents = []

    @wf.on_start
    def start(relay, trigger):
        relay.create_incident(relay.get_source_uri_from_trigger(trigger), 'panic')

    @wf.on_incident
    def incident(relay, itype, incident_id, reason):
        wf.incidents.append((itype, incident_id, reason))
        relay.terminate()

    sim = relay_simulator(wf)
    run = sim.trigger('Alice')
    assert sim.wait_for(lambda: sim.incidents, 5)
    assert sim.resolve_incident('1001', 'help arrived') is True
    assert sim.resolve_incident('1001', 'again') is False
    run.wait_until_done(5)
    assert wf.incidents == [('resolved', '1001', 'help arrived')]


def test_less_common_requests(relay_simulator):
    def body(relay, uri):
        alice = relaysync.device_name('Alice')
        results = []
        relay.enable_home_channel(uri)
        relay.disable_home_channel(uri)
        relay.register_for_calls(alice, 'sip:alice@example.invalid', 'secret', 60)
        results.append(relay.sms('text', 'on my way', 'tel:+15555550100'))
        relay.track_event('clicks', {'n': 1})
        with pytest.warns(DeprecationWarning):
            relay.notify(alice, alice, 'fyi', 'just so you know')
        with pytest.warns(DeprecationWarning):
            relay.cancel_notify(alice, 'fyi')
        relay.cancel_alert(alice, 'never-sent')
        group = relay.create_group('pair')
        relay.add_group_members(group, [alice, relaysync.device_name('Bob')])
        relay.remove_group_members(group, relaysync.device_name('Bob'))
        results.append(relay.request('list_group_members', {'group_name': 'pair'}))
        relay.delete_group(group)
        for attempt in (lambda: relay.set_user_profile(uri, 'mallory'),
                        lambda: relay.request('set_device_info', {'field': 'channel',
                                                                  'value': 'x'}, target=uri),
                        lambda: relay.get_group_members(group)):
            try:
                attempt()
            except relaysync.ErrorResponse as exc:
                results.append(str(exc))
        relay.set_user_profile(uri, 'mallory', force=True)
        return results

    wf = interaction_workflow(body)
    sim = relay_simulator(wf)
    alice = sim.device('Alice', username='alice')
    sim.device('Bob')
    run = sim.trigger(alice).wait_until_done(5)
    assert wf.error is None
    assert wf.result == [
        'sms_1',
        {'_id': wf.result[1]['_id'], '_type': 'wf_api_list_group_members_response',
         'device_names': ['Alice']},
        "set_user_profile: Alice is logged in as 'alice'; use force to replace",
        'set_device_info: setting the channel is not supported',
        'group_query: unknown group urn:relay-resource:name:group:pair',
    ]
    assert alice.home_channel_enabled is False and alice.username == 'mallory'
    assert alice.sip == {'uri': 'sip:alice@example.invalid', 'expires': 60}
    assert sim.sms == [{'message_id': 'sms_1', 'type': 'text', 'text': 'on my way',
                        'uri': 'tel:+15555550100'}]
    assert sim.analytics[0]['content'] == {'n': 1}
    assert [(n.type, n.state) for n in alice.notifications] == [('notify', 'cancelled')]
    assert 'pair' not in sim.groups
    lines = run.lines()
    assert any('notification -> Alice type="cancel" name="never-sent" (nothing active to '
               'cancel)' in line for line in lines)
    assert not any('secret' in line for line in lines)  # passwords stay out of the transcript


# -------------------------------------------------- strict error responses
def test_invalid_requests_get_error_responses(relay_simulator):
    def body(relay, uri):
        errors = []
        attempts = [
            lambda: relay.request('no_such_thing', {}),
            lambda: relay.request('say', {'text': 'no target'}),
            # relaysync refuses such a target itself; other SDKs send it
            lambda: relay.request('say', {'text': 'x', '_target': {'uris': ['not-a-urn']}}),
            lambda: relay.request('say', {'text': 'x'}, target='urn:relay-resource:foo'),
            lambda: relay.say(relaysync.device_name('Nobody'), 'x'),
            lambda: relay.request('say', {}, target=uri),
            lambda: relay.request('say', {'text': 5}, target=uri),
            lambda: relay.led_action(uri, 'sparkle'),
            lambda: relay.led_action(uri, 'static', {'colors': {'ring': 'blue'}}),
            lambda: relay.get_device_name([uri, relaysync.device_name('Alice')]),
            lambda: relay.request('get_device_info', {'query': 'shoe_size'}, target=uri),
            lambda: relay.set_timer('t', 'sometimes'),
            lambda: relay.resolve_incident('nope', 'x'),
            lambda: relay.answer_call(uri, 'call_404'),
            lambda: relay.request('set_device_mode', {'mode': 'panic'}, target=uri),
            lambda: relay.end_interaction(relaysync.device_name('Alice')),
        ]
        for attempt in attempts:
            try:
                attempt()
                errors.append(None)
            except relaysync.ErrorResponse as exc:
                errors.append(str(exc))
        return errors

    wf = interaction_workflow(body)
    sim = relay_simulator(wf)
    run = sim.trigger('Alice').wait_until_done(5)
    assert wf.error is None
    assert None not in wf.result, wf.result
    assert wf.result[0] == 'unknown request type wf_api_no_such_thing_request'
    assert wf.result[1] == 'say: missing _target'
    assert wf.result[2] == "say: invalid uri 'not-a-urn'"
    assert wf.result[4] == 'say: unknown device urn:relay-resource:name:device:Nobody'
    assert wf.result[5] == 'say: missing required field "text"'
    assert wf.result[14] == 'set_device_mode is not supported'
    assert len(run.errors) == len(wf.result)
    assert all(line.count('=> error') == 1 for line in run.lines(kinds=['request'])
               if 'set_device_mode' in line)


def test_requests_to_an_ended_interaction_are_refused(relay_simulator):
    def body(relay, uri):
        relay.end_interaction(uri)
        try:
            relay.say(uri, 'too late')
        except relaysync.ErrorResponse as exc:
            return str(exc)

    wf = interaction_workflow(body)
    sim = relay_simulator(wf)
    sim.trigger('Alice').wait_until_done(5)
    assert wf.result.startswith('say: interaction is no longer active')


# --------------------------------------------------- failures and targets
def test_handler_crash_is_reported(relay_simulator):
    wf = relaysync.Workflow('crash')

    @wf.on_start
    def start(relay, trigger):
        raise ValueError('boom in on_start')

    sim = relay_simulator(wf)
    run = sim.trigger('Alice')
    with pytest.raises(WorkflowCrashed, match='boom in on_start'):
        run.wait_until_done(timeout=5)


def test_timeout_when_the_workflow_never_terminates(relay_simulator):
    wf = relaysync.Workflow('forever')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'forever')

    sim = relay_simulator(wf)
    run = sim.trigger('Alice')
    with pytest.raises(SimulationTimeout, match='still running'):
        run.wait_until_done(timeout=0.3)
    sim.close()
    assert run.outcome == 'stopped' and run.events[-1]['reason'] == 'stopped'


def test_workflow_closing_without_terminate(relay_simulator):
    wf = relaysync.Workflow('rude')

    @wf.on_start
    def start(relay, trigger):
        relay.connection.close(1000, 'bye')

    sim = relay_simulator(wf)
    run = sim.trigger('Alice').wait_until_done(5)
    assert run.outcome == 'closed' and run.close_code == 1000


def test_server_and_url_targets():
    server = relaysync.Server('127.0.0.1', 0)
    server.register(hello_workflow('hi from the server'), '/hello')
    server.register(hello_workflow('other'), '/other')
    server.start_in_background()
    try:
        with Simulator(server, '/hello') as sim:
            sim.trigger('Alice').wait_until_done(5)
            assert sim.devices['Alice'].heard == ['hi from the server']
        with Simulator(f'ws://127.0.0.1:{server.port}/other') as sim:
            sim.trigger('Alice').wait_until_done(5)
            assert sim.devices['Alice'].heard == ['other']
        with Simulator(f'ws://127.0.0.1:{server.port}', path='nowhere') as sim:
            with pytest.raises(HandshakeFailed) as info:
                sim.trigger('Alice')
            assert info.value.status == 404
        with pytest.raises(ValueError, match='pass path='):
            Simulator(server)
    finally:
        server.stop(drain_timeout=0)


def test_bad_targets_and_options():
    with pytest.raises(TypeError):
        Simulator(42)
    with pytest.raises(ValueError):
        Simulator('http://example.invalid/x')
    with pytest.raises(ValueError):
        Simulator('ws://127.0.0.1:1/x', time_scale=0)


def test_device_properties_are_validated(relay_simulator):
    sim = relay_simulator(hello_workflow())
    with pytest.raises(ValueError):
        sim.device('Eve', type='phone')
    with pytest.raises(ValueError):
        sim.device('')
    dev = sim.device('Eve', battery=5)
    assert sim.device('Eve', battery=50) is dev and dev.battery == 50
    with pytest.raises(TypeError):
        sim.device('Eve', colour='red')


def test_any_request_can_be_made_slow_with_progress_events(relay_simulator):
    import relaysync
    wf = relaysync.Workflow('slow var')
    got = []

    @wf.on_start
    def start(relay, trigger):
        relay.timeouts.request = 0.5       # shorter than the simulated delay...
        got.append(relay.get_var('k', 'default'))   # ...but progress keeps it alive
        relay.terminate()

    sim = relay_simulator(wf, slow={'get_var': 1.5}, progress_interval=0.2)
    run = sim.trigger(sim.device('Alice'))
    run.wait_until_done(timeout=10)
    assert got == ['default']
    assert len(run.lines(kinds=['progress'])) >= 5
