"""What ``relaysync simulate`` scripts with --press, --event, --say and
--resolve-incident: the steps play in command-line order, a step that never ran
is reported (and fails the run), a step for an unknown device is a usage error,
times that the simulator's clock cannot hold are refused, and an operator can
resolve the workflow's incident."""

import re

import pytest

from relaysync.simulator.clock import Clock
from test_cli import program, simulate

# Takes a single press and subscribes to NFC taps; each of the two says what it
# got, and the workflow ends after both.
PRESS_AND_TAP = '''
@wf.on_start
def start(relay, trigger):
    me = relay.get_source_uri_from_trigger(trigger)
    relay.set_var('me', me)
    relay.set_var('got', '0')
    relay.start_interaction(me, 'both', relay.interaction_options(
        input_types=['action_button_single_tap']))

@wf.on_interaction_started
def started(relay, uri, reason):
    relay.subscribe(relay.get_var('me'), 'nfc_tap')
    relay.say_and_wait(uri, 'ready')

def got(relay, what):
    relay.say_and_wait(relay.get_var('me'), what)
    count = relay.get_number_var('got') + 1
    relay.set_var('got', str(count))
    if count == 2:
        relay.terminate()

@wf.on_button
def pressed(relay, button, taps, uri):
    got(relay, 'pressed')

@wf.on_nfc_tap
def tapped(relay, uid, counter, tag_content, source_uri):
    got(relay, f'tapped {uid}')
'''

TERMINATES = '''
@wf.on_start
def start(relay, trigger):
    relay.terminate()
'''

# An incident the workflow waits for an operator to resolve.
INCIDENT = '''
@wf.on_start
def start(relay, trigger):
    relay.create_incident(relay.get_source_uri_from_trigger(trigger), 'fall')

@wf.on_incident
def incident(relay, itype, incident_id, reason):
    relay.say_and_wait(relaysync.device_name('Alice'), f'incident {itype}: {reason}')
    relay.terminate()
'''


def heard(out):
    return re.findall(r'^Alice: heard "(.*)"$', out, re.M)


@pytest.mark.parametrize('options,order', [
    (['--press', 'action:single', '--event', 'nfc_tap=04A2'], ['pressed', 'tapped 04A2']),
    (['--event', 'nfc_tap=04A2', '--press', 'action:single'], ['tapped 04A2', 'pressed']),
])
def test_presses_and_events_play_in_command_line_order(tmp_path, options, order):
    code, out = simulate(program(tmp_path, PRESS_AND_TAP), '--no-times', '--time-scale',
                         '0.01', *options)
    assert code == 0, out
    assert heard(out) == ['ready'] + order


def test_a_say_after_a_press_is_said_once_the_press_is_done(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'ask',
            relay.interaction_options(input_types=['action_button_single_tap']))

    @wf.on_interaction_started
    def started(relay, uri, reason):
        first = relay.listen(uri, timeout=1)
        relay.say_and_wait(uri, f'first {first or "nothing"}')

    @wf.on_button
    def pressed(relay, button, taps, uri):
        second = relay.listen(uri, timeout=5)
        relay.say_and_wait(uri, f'second {second or "nothing"}')
        relay.terminate()
    '''
    wf = program(tmp_path, body)
    # --say before the steps answers the next listen; after --press, once it is done.
    code, out = simulate(wf, '--no-times', '--no-requests', '--time-scale', '0.01',
                         '--press', 'action:single@heard=first', '--say', 'two')
    assert code == 0, out
    assert heard(out) == ['first nothing', 'second two']
    code, out = simulate(wf, '--no-times', '--no-requests', '--time-scale', '0.01',
                         '--say', 'one', '--press', 'action:single@heard=first')
    assert code == 0, out   # the second listen had no answer: it ended in silence
    assert heard(out) == ['first one', 'second nothing']


def test_steps_that_never_ran_are_reported_and_fail_the_run(tmp_path):
    code, out = simulate(program(tmp_path, TERMINATES), '--no-times', '--no-requests',
                         '--event', 'nfc_tap=1', '--press', 'action:single', '--say', 'hi')
    assert code == 1, out
    assert out.splitlines()[-4:] == [
        'not run: --event nfc_tap=1 (it waited for the workflow to subscribe to nfc_tap '
        'events on Alice)',
        'not run: --press action:single',
        'not run: --say hi',
        'result: FAILED (exit 1) - the workflow terminated, but 3 scripted steps never ran']


def test_an_answer_no_listen_took_is_reported(tmp_path):
    code, out = simulate(program(tmp_path, TERMINATES), '--no-times', '--no-requests',
                         '--say', 'Bob')
    assert code == 1, out
    assert out.splitlines()[-2:] == [
        'not used: the answer "Bob" queued on Alice (no listen took it)',
        'result: FAILED (exit 1) - the workflow terminated, but 1 answer for a listen was '
        'never used']


def test_a_timeout_names_the_step_still_pending(tmp_path):
    code, out = simulate(program(tmp_path, PRESS_AND_TAP), '--no-times', '--no-requests',
                         '--time-scale', '0.01', '--press', 'action:single@heard=never said',
                         '--event', 'nfc_tap=04A2')
    assert code == 3, out
    assert ('waiting for: the scripted step --press action:single@heard=never said (step 1 '
            'of 2), which waits for Alice to hear "never said"; 1 more after it') in out
    assert 'not run: --event nfc_tap=04A2' in out


@pytest.mark.parametrize('option', [
    ['--event', 'Nobody:nfc_tap=1'],
    ['--press', 'Nobody:action:single'],
    ['--device', 'Bob', '--press', 'Nobody:action:single'],
])
def test_a_step_for_an_unknown_device_is_a_usage_error(tmp_path, option):
    code, out = simulate(program(tmp_path, TERMINATES), *option)
    assert code == 2, out
    assert "no device named 'Nobody'" in out and 'add it with --device Nobody' in out
    assert 'triggered' not in out  # nothing ran


def test_a_step_for_a_declared_device_plays(tmp_path):
    body = PRESS_AND_TAP.replace("relay.subscribe(relay.get_var('me'), 'nfc_tap')",
                                 "relay.subscribe(relay.get_var('me'), 'nfc_tap')\n"
                                 "    relay.subscribe(relaysync.device_name('Bob'), 'nfc_tap')")
    code, out = simulate(program(tmp_path, body), '--no-times', '--time-scale', '0.01',
                         '--device', 'Alice', '--device', 'Bob', '--event', 'Bob:nfc_tap=B1',
                         '--press', 'action:single')
    assert code == 0, out
    assert 'Bob: tapped NFC tag "B1"' in out
    assert heard(out) == ['ready', 'tapped B1', 'pressed']


@pytest.mark.parametrize('option,message', [
    (['--event', 'nfc_tap=1@inf'], "--event 'nfc_tap=1@inf': give a number of seconds"),
    (['--event', 'nfc_tap=1@nan'], "--event 'nfc_tap=1@nan': give a number of seconds"),
    (['--event', 'nfc_tap=1@1e12'], "--event 'nfc_tap=1@1e12': give a number of seconds"),
    (['--press', 'action:single@inf'], "--press 'action:single@inf': give a number"),
    (['--press', 'action:single@-1'], "--press 'action:single@-1': give a number"),
    (['--ack', 'Bob@inf'], "--ack 'Bob@inf': give a number of seconds"),
    (['--resolve-incident', 'done@inf'], "--resolve-incident 'done@inf': give a number"),
    (['--timeout', 'inf'], '--timeout must be positive and finite'),
    (['--time-scale', 'nan'], '--time-scale must be positive and finite'),
    (['--resolve-incident', '@2'], "--resolve-incident '@2': give a REASON"),
    (['--event', 'nfc_tap'], '"uid" must be a non-empty text'),
])
def test_times_the_clock_cannot_hold_and_bad_values_are_usage_errors(tmp_path, option,
                                                                     message):
    code, out = simulate(program(tmp_path, TERMINATES), *option)
    assert code == 2, out
    assert message in out


def test_a_scenario_delay_the_clock_cannot_hold_is_a_usage_error(tmp_path):
    scenario = tmp_path / 'far.json'
    scenario.write_text('{"steps": [{"say": "x", "delay": 1e12}]}')
    code, out = simulate(program(tmp_path, TERMINATES), '--scenario', str(scenario))
    assert code == 2, out
    assert 'steps[0].delay: give a number of seconds from 0 to 86400 (a day), got ' in out


def test_the_clock_survives_a_task_due_far_away():
    clock = Clock(1.0)
    try:
        clock.call_later(1e12, lambda: None)   # beyond what a lock can wait for at once
        assert clock.run_sync(lambda: 'still running', timeout=5) == 'still running'
        with pytest.raises(ValueError, match='finite'):
            clock.call_later(float('inf'), lambda: None)
        with pytest.raises(ValueError, match='finite'):
            clock.call_later(float('nan'), lambda: None)
        assert clock.run_sync(lambda: 'still running', timeout=5) == 'still running'
    finally:
        clock.stop()


def test_an_operator_resolves_the_incident_from_the_command_line(tmp_path):
    code, out = simulate(program(tmp_path, INCIDENT), '--no-times', '--no-requests',
                         '--time-scale', '0.01', '--resolve-incident', 'help arrived@2')
    assert code == 0, out
    assert out.splitlines()[1:-1] == [
        'Alice: triggered the workflow (button action="action_button_single_tap")',
        'relay: incident 1001 ("fall") opened for Alice',
        'relay: incident 1001 resolved by an operator: "help arrived"',
        'Alice: heard "incident resolved: help arrived"',
        'relay: workflow terminated (stop reason: normal)']


def test_a_run_waiting_for_an_operator_says_to_resolve_the_incident(tmp_path):
    code, out = simulate(program(tmp_path, INCIDENT), '--no-times', '--no-requests')
    assert code == 3, out
    assert ('waiting for: an operator to resolve the incident 1001 ("fall"), which the '
            'workflow opened and has not resolved') in out
    assert ('  try: --resolve-incident REASON resolves it, as an operator in Relay Dash would '
            '(or --ui)') in out


def test_http_post_and_position_take_a_json_value(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        relay.subscribe(me, 'http_post')
        relay.subscribe(me, 'indoor_position')

    @wf.on_position
    def moved(relay, position_metadata, position_tags, transition, source_uri):
        relay.debug_log(f'position {position_metadata!r}')

    @wf.on_http_post
    def posted(relay, payload, headers, query, source_uri):
        relay.debug_log(f'payload {payload!r}')
        relay.terminate()
    '''
    code, out = simulate(program(tmp_path, body), '--no-times', '--no-requests',
                         '--time-scale', '0.01', '--event', 'position={"floor": "2"}',
                         '--event', 'http_post={"door": "open"}')
    assert code == 0, out
    assert 'relay: debug log: "position {\'floor\': \'2\'}"' in out
    assert 'relay: debug log: "payload {\'door\': \'open\'}"' in out


def test_the_explanation_says_how_to_resolve_the_incident_from_python_and_the_page():
    import relaysync
    from relaysync.simulator import Simulator
    from relaysync.simulator.explain import explain, hint

    wf = relaysync.Workflow('help')

    @wf.on_start
    def start(relay, trigger):
        relay.create_incident(relay.get_source_uri_from_trigger(trigger), 'fall')

    @wf.on_incident
    def incident(relay, itype, incident_id, reason):
        relay.terminate()

    with Simulator(wf, time_scale=0.01) as sim:
        run = sim.trigger('Alice')
        assert sim.wait_for(lambda: sim.incidents)
        assert run.wait_for(lambda: any(line.startswith('waiting for: an operator')
                                        for line in run.explain()))
        assert "  try: sim.resolve_incident('1001', REASON) resolves it, as an operator " \
               "would" in run.explain()
        finding = next(f for f in sim.clock.run_sync(lambda: explain(run))
                       if f.kind == 'incident')
        assert hint(finding, 'page') == 'press Resolve by incident 1001 under Incidents'
        assert sim.resolve_incident('1001', 'help arrived')
        run.wait_until_done(5)
        assert run.terminated and run.explain() == []


def test_a_pending_step_is_told_only_for_the_run_it_plays_for():
    import relaysync
    from relaysync.simulator import Scenario, Simulator
    from relaysync.simulator.explain import explain

    wf = relaysync.Workflow('waits')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'waiting')

    with Simulator(wf, time_scale=0.01) as sim:
        scenario = Scenario({'steps': [{'press': 'action single', 'after_heard': 'never'}]})
        first = scenario.start(sim)
        second = sim.trigger('Alice')   # as the page's Trigger does, without the steps
        assert sim.wait_for(lambda: len(sim.devices['Alice'].interactions) == 2)
        kinds = lambda run: [f.kind for f in sim.clock.run_sync(  # noqa: E731
            lambda: explain(run, scenario.runner))]
        assert 'step' in kinds(first)
        assert 'step' not in kinds(second)
