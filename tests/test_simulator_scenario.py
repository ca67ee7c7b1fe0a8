"""Scenarios: the file format, its validation, and scripted steps driving real workflows."""

import json

import pytest

import relaysync
from relaysync.simulator import Scenario, ScenarioError


def buttons_workflow():
    """Says a prompt, then answers each routed button press; a long press ends it."""
    wf = relaysync.Workflow('buttons')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'buttons',
                                relay.interaction_options(input_types=[
                                    'action_button_single_tap', 'action_button_double_tap',
                                    'action_button_long_press']))

    @wf.on_interaction_started
    def started(relay, uri, reason):
        relay.say_and_wait(uri, 'ready for taps')

    @wf.on_button
    def button(relay, button, taps, uri):
        relay.say_and_wait(uri, f'got {taps}')
        if taps == 'long':
            relay.terminate()
    return wf


@pytest.mark.parametrize('data, message', [
    ({'device': []}, 'scenario: unknown key(s) device'),
    ({'devices': [{'type': 'relay'}]}, 'devices[0]: needs a "name"'),
    ({'devices': [{'name': 'A', 'colour': 'red'}]}, 'devices[0]: unknown key(s) colour'),
    ({'groups': {'team': 'Bob'}}, 'groups.team: must be a list of device names'),
    ({'trigger': {'device': 'A', 'kind': 'x'}}, 'trigger: unknown key(s) kind'),
    ({'steps': [{'device': 'A'}]}, 'steps[0]: needs exactly one action'),
    ({'steps': [{'press': 'action', 'say': 'x'}]}, 'steps[0]: needs exactly one action'),
    ({'steps': [{'press': 'volume up'}]}, 'steps[0]: press'),
    ({'steps': [{'say': 'x', 'at': -1}]},
     'steps[0].at: give a number of seconds from 0 to 86400 (a day), got -1'),
    # Times that would overflow the simulator's clock are refused, not played.
    ({'steps': [{'say': 'x', 'delay': 1e12}]}, 'steps[0].delay: give a number of seconds'),
    ({'steps': [{'say': 'x', 'at': float('inf')}]}, 'steps[0].at: give a number of seconds'),
    ({'steps': [{'say': 'x', 'delay': float('nan')}]}, 'steps[0].delay: give a number'),
    ({'steps': [{'say': 'x', 'delay': True}]}, 'steps[0].delay: give a number'),
    ({'devices': [{'name': 'A', 'ack_alerts': 1e12}]}, 'devices[0].ack_alerts: give a number'),
    ({'options': {'ring_timeout': float('inf')}}, 'options.ring_timeout: give a number'),
    ({'options': {'time_scale': 0}}, 'options.time_scale: give a number of seconds above 0'),
    ({'options': {'slow': {'say': 1e300}}}, 'options.slow.say: give a number'),
    ({'steps': [{'resolve_incident': 5}]}, 'steps[0].resolve_incident: give a reason'),
    ({'steps': [{'say': 'x', 'at': 1, 'after_heard': 'y'}]}, 'at most one condition'),
    ({'steps': [{'set': {'name': 'B'}}]}, 'steps[0].set: unknown key(s) name'),
    ({'options': {'speed': 2}}, 'options: unknown key(s) speed'),
])
def test_validation_names_the_bad_part(data, message):
    with pytest.raises(ScenarioError) as info:
        Scenario(data)
    assert message in str(info.value)


def test_load_from_a_file(tmp_path):
    path = tmp_path / 'scenario.json'
    path.write_text(json.dumps({'devices': [{'name': 'Zed', 'battery': 9}],
                                'options': {'time_scale': 0.5, 'timeout': 3}}))
    scenario = Scenario.load(str(path))
    assert scenario.devices == [{'name': 'Zed', 'battery': 9}]
    assert scenario.simulator_options() == {'time_scale': 0.5}
    (tmp_path / 'bad.json').write_text('{"devices": [')
    with pytest.raises(ScenarioError, match='not valid JSON'):
        Scenario.load(str(tmp_path / 'bad.json'))
    with pytest.raises(ScenarioError, match='cannot read'):
        Scenario.load(str(tmp_path / 'missing.json'))


def test_steps_press_buttons_on_cue(relay_simulator):
    scenario = Scenario({
        'devices': [{'name': 'Alice', 'type': 'relay2'}],
        'steps': [
            {'press': 'action single'},                               # once the interaction is up
            {'press': 'action:double', 'after_heard': 'GOT SINGLE'},  # case-insensitive
            {'press': 'channel triple', 'after_heard': 'got double'},  # not routed
            {'press': 'action long', 'at': 2},                        # two simulated seconds in
        ]})
    sim = relay_simulator(buttons_workflow(), time_scale=0.01)
    run = scenario.start(sim)
    run.wait_until_done(5)
    alice = sim.devices['Alice']
    assert alice.type == 'relay2'
    assert alice.heard == ['ready for taps', 'got single', 'got double', 'got long']
    assert alice.pressed == [('action', 'single'), ('action', 'double'), ('channel', 'triple'),
                             ('action', 'long')]


def alert_workflow():
    wf = relaysync.Workflow('alert')

    @wf.on_start
    def start(relay, trigger):
        relay.set_var('me', relay.get_source_uri_from_trigger(trigger))
        relay.alert(relaysync.group_name(relay.get_var('group')), relay.get_var('me'), 'sos',
                    'come quickly')

    @wf.on_notification(event='ack_event')
    def acked(relay, event, name, state, source_uri):
        relay.say_and_wait(relay.get_var('me'),
                           f'{relaysync.parse_device_name(source_uri)} is coming')
        relay.terminate()
    return wf


def test_trigger_groups_and_ack_step(relay_simulator):
    scenario = Scenario({
        'devices': [{'name': 'Bob'}, {'name': 'Carol'}, {'name': 'Dan'}],
        'groups': {'responders': ['Bob', 'Carol']},
        'trigger': {'device': 'Dan', 'type': 'phrase', 'args': {'phrase': 'sos'},
                    'vars': {'group': 'responders'}},
        'steps': [{'device': 'Carol', 'ack': 'sos', 'after': 'notification', 'delay': 1}],
    })
    sim = relay_simulator(alert_workflow(), time_scale=0.01)
    run = scenario.start(sim)
    run.wait_until_done(5)
    assert run.device.name == 'Dan' and run.trigger['type'] == 'phrase'
    assert sim.devices['Dan'].heard == ['Carol is coming']
    assert [n.state for n in sim.devices['Carol'].notifications] == ['acknowledged']
    assert [n.state for n in sim.devices['Bob'].notifications] == ['active']


def test_say_set_and_incident_steps(relay_simulator):
    wf = relaysync.Workflow('mixed')

    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        relay.set_var('me', me)
        relay.create_incident(me, 'fall')
        relay.start_interaction(me, 'ask')

    @wf.on_interaction_started
    def started(relay, uri, reason):
        relay.say_and_wait(uri, 'how are you')
        answer = relay.listen(uri, timeout=10)
        relay.say_and_wait(uri, f'you said {answer}; battery {relay.get_device_battery(uri)}')

    @wf.on_incident
    def incident(relay, itype, incident_id, reason):
        relay.say_and_wait(relay.get_var('me'), f'incident {itype}: {reason}')
        relay.terminate()

    scenario = Scenario({
        'steps': [
            {'set': {'battery': 7}, 'after': 'listen'},
            {'say': 'fine thanks'},  # no condition: right after the previous step
            {'resolve_incident': 'all good', 'after_heard': 'you said'},
        ]})
    sim = relay_simulator(wf, time_scale=0.01)
    run = scenario.start(sim)
    run.wait_until_done(5)
    alice = sim.devices['Alice']  # the default device
    assert alice.heard == ['how are you', 'you said fine thanks; battery 7',
                           'incident resolved: all good']
    assert sim.incidents['1001']['state'] == 'resolved'
    assert run.events_of('incident') == [{'_type': 'wf_api_incident_event', 'type': 'resolved',
                                          'incident_id': '1001', 'reason': 'all good'}]


def test_call_answer_and_hang_up_steps(relay_simulator):
    wf = relaysync.Workflow('phone')
    wf.log = []

    @wf.on_call_start_request
    def wants(relay, uri):
        wf.log.append(('asked', uri))
        relay.place_call(relay.get_var('me'), uri)

    @wf.on_start
    def start(relay, trigger):
        relay.set_var('me', relay.get_source_uri_from_trigger(trigger))

    @wf.on_call_connected
    def connected(relay, call_id, direction, *rest):
        wf.log.append(('connected', direction))

    @wf.on_call_disconnected
    def ended(relay, call_id, direction, device_id, device_name, uri, onnet, reason, *rest):
        wf.log.append(('ended', direction, reason))
        if direction == 'outbound':
            relay.terminate()

    bob = relaysync.device_name('Bob')
    scenario = Scenario({
        'devices': [{'name': 'Alice'}, {'name': 'Bob'}],
        'steps': [
            {'call': bob, 'at': 0.5},
            {'device': 'Bob', 'answer': True, 'after': 'call', 'text': 'incoming'},
            {'device': 'Bob', 'hang_up': True, 'after': 'call', 'text': 'answered'},
        ]})
    sim = relay_simulator(wf, time_scale=0.01)
    run = scenario.start(sim)
    run.wait_until_done(5)
    assert wf.log[0] == ('asked', bob)
    assert sorted(wf.log[1:3]) == [('connected', 'inbound'), ('connected', 'outbound')]
    assert sorted(wf.log[3:]) == [('ended', 'inbound', 'hangup'), ('ended', 'outbound', 'hangup')]


def test_the_simulators_errors_are_relaysync_errors():
    """One root for everything relaysync raises, the simulator included; each
    keeps the builtin it was (ValueError, ConnectionError, TimeoutError)."""
    from relaysync.simulator import (HandshakeFailed, SimulationTimeout, SimulatorError,
                                     WorkflowCrashed)
    assert issubclass(SimulatorError, relaysync.RelaysyncError)
    for cls, builtin in ((ScenarioError, ValueError), (HandshakeFailed, ConnectionError),
                         (SimulationTimeout, TimeoutError), (WorkflowCrashed, Exception)):
        assert issubclass(cls, SimulatorError) and issubclass(cls, builtin), cls
    with pytest.raises(relaysync.RelaysyncError) as info:
        Scenario({'devices': 'not a list'})
    assert isinstance(info.value, ValueError) and info.value.message == str(info.value)
    error = HandshakeFailed('ws://x refused the WebSocket upgrade: HTTP 404', 404)
    assert error.status == 404 and error.message.endswith('404')
