"""The simulator models subscriptions and the debug log: it answers
``subscribe``/``unsubscribe``/``debug_log``, sends position, geofence, NFC and
HTTP POST events to subscribed runs (device API, scenario steps,
``relaysync simulate --event``) and shows all of it in the transcript."""

import io

import pytest

import relaysync
from relaysync.cli import main
from relaysync.simulator import Scenario, ScenarioError, Simulator


def subscriber(*kinds, terminate_after=None):
    """A workflow subscribing the triggering device to ``kinds`` and recording events."""
    wf = relaysync.Workflow('subscriber')
    wf.events = []

    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        for kind in kinds:
            relay.subscribe(me, kind)
        relay.debug_log(f'subscribed to {len(kinds)}')

    def record(name):
        def handler(relay, *args):
            wf.events.append((name,) + args)
            if terminate_after is not None and len(wf.events) >= terminate_after:
                relay.terminate()
        return handler

    wf.on_position(record('position'))
    wf.on_geofence(record('geofence'))
    wf.on_nfc_tap(record('nfc_tap'))
    wf.on_http_post(record('http_post'))
    return wf


def subscribed(sim, device, kind):
    return sim.wait_for(lambda: any(not r.done for r in device.subscribers.get(kind, [])))


def test_device_events_reach_subscribed_runs_only(relay_simulator):
    wf = subscriber('indoor_position', 'outdoor_position', 'nfc_tap', 'http_post',
                    terminate_after=5)
    sim = relay_simulator(wf, time_scale=0.01)
    alice, bob = sim.device('Alice'), sim.device('Bob')
    run = sim.trigger(alice)
    assert subscribed(sim, alice, 'http_post')
    assert bob.nfc_tap('FFFF') is False                    # Bob is not subscribed
    assert alice.position('HQ / floor 2 / room 4', ['desk'], 'entry') is True
    assert alice.geofence('dock', transition='exit') is True
    assert alice.nfc_tap('04A2', 'pallet 7') is True
    assert alice.nfc_tap('04A2', counter='41') is True
    assert alice.http_post('{"order": 1}', headers='content-type: application/json',
                           query='a=1') is True
    run.wait_until_done(timeout=5)
    me = alice.urn
    assert wf.events == [
        ('position', 'HQ / floor 2 / room 4', ['desk'], 'entry', me),
        ('geofence', 'dock', 'exit', me),
        ('nfc_tap', '04A2', '1', 'pallet 7', me),
        ('nfc_tap', '04A2', '41', '', me),
        ('http_post', '{"order": 1}', 'content-type: application/json', 'a=1', me)]
    assert run.debug_log == ['subscribed to 4']
    lines = sim.lines()
    assert 'Bob: tapped NFC tag "FFFF" (not sent: no workflow subscribed to nfc_tap on Bob)' \
        in lines
    assert run.lines(who='Alice') == [
        'Alice: triggered the workflow (button action="action_button_single_tap")',
        'Alice: subscribed to indoor_position events',
        'Alice: subscribed to outdoor_position events',
        'Alice: subscribed to nfc_tap events',
        'Alice: subscribed to http_post events',
        'Alice: entered position "HQ / floor 2 / room 4" (tags "desk")',
        'Alice: left geofence "dock"',
        'Alice: tapped NFC tag "04A2" "pallet 7"',
        'Alice: tapped NFC tag "04A2"',
        'Alice: HTTP POST "{\\"order\\": 1}"']
    assert 'relay: debug log: "subscribed to 4"' in run.lines()
    assert 'workflow: debug_log' in run.lines()


def test_unsubscribe_and_the_end_of_a_run_stop_the_events(relay_simulator):
    wf = relaysync.Workflow('unsubscribe')
    taps = []

    @wf.on_start
    def start(relay, trigger):
        relay.subscribe(relay.get_source_uri_from_trigger(trigger), 'nfc_tap')

    @wf.on_nfc_tap
    def tap(relay, uid, counter, tag_content, source_uri):
        taps.append(uid)
        relay.unsubscribe(source_uri, 'nfc_tap')
        relay.unsubscribe(source_uri, 'nfc_tap')   # not subscribed any more: no error
        relay.terminate()

    sim = relay_simulator(wf, time_scale=0.01)
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    assert subscribed(sim, alice, 'nfc_tap')
    assert alice.nfc_tap('1') is True
    run.wait_until_done(timeout=5)
    assert alice.nfc_tap('2') is False and taps == ['1']
    assert not run.errors
    assert 'workflow: unsubscribe -> Alice event_type="nfc_tap" (Alice was not subscribed)' \
        in run.lines()

    # A run that ends without unsubscribing loses its subscriptions.
    wf2 = subscriber('outdoor_position')
    sim2 = relay_simulator(wf2, time_scale=0.01)
    bob = sim2.device('Bob')
    run2 = sim2.trigger(bob)
    assert subscribed(sim2, bob, 'outdoor_position')
    sim2.stop_run(run2)
    run2.wait_until_done(timeout=5)
    assert bob.subscribers['outdoor_position'] == []
    assert bob.geofence('dock') is False


def test_bad_subscriptions_are_refused(relay_simulator):
    wf = relaysync.Workflow('bad')
    errors = []

    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        for attempt in (lambda: relay.subscribe(me, 'weather'),
                        lambda: relay.request('subscribe', {}, me),
                        lambda: relay.request('debug_log', {'content': 5})):
            try:
                attempt()
            except relaysync.ErrorResponse as exc:
                errors.append(str(exc))
        relay.terminate()

    sim = relay_simulator(wf, time_scale=0.01)
    sim.trigger('Alice').wait_until_done(timeout=5)
    assert errors == [
        'subscribe: field "event_type" must be one of indoor_position, outdoor_position, '
        "nfc_tap, http_post, got 'weather'",
        'subscribe: missing required field "event_type"',
        'debug_log: field "content" must be a string, got 5']


def test_device_event_arguments_are_checked():
    with Simulator(relaysync.Workflow('idle'), time_scale=0.01) as sim:
        alice = sim.device('Alice')
        with pytest.raises(ValueError, match='transition'):
            alice.geofence('dock', transition='sideways')
        with pytest.raises(ValueError, match='transition'):
            alice.position('room', transition='in')


def test_scenario_steps_send_device_events_after_the_subscription(relay_simulator):
    wf = subscriber('nfc_tap', 'outdoor_position', terminate_after=3)
    sim = relay_simulator(wf, time_scale=0.01)
    scenario = Scenario({
        'steps': [
            {'nfc_tap': '04A2'},                                       # waits to be subscribed
            {'geofence': {'geofence_label': 'dock', 'transition': 'exit'}, 'delay': 1},
            {'device': 'Alice', 'nfc_tap': {'uid': '04B3', 'tag_content': 'bay 2'}},
        ]})
    run = scenario.start(sim)
    run.wait_until_done(timeout=5)
    me = sim.devices['Alice'].urn
    assert wf.events == [('nfc_tap', '04A2', '1', '', me), ('geofence', 'dock', 'exit', me),
                         ('nfc_tap', '04B3', '2', 'bay 2', me)]


@pytest.mark.parametrize('step,message', [
    ({'nfc_tap': {'tag_content': 'x'}}, 'needs "uid"'),
    ({'geofence': {'geofence_label': 'x', 'transition': 'out'}}, '"transition" must be'),
    ({'position': {'metadata': 'x'}}, 'unknown key'),
    ({'http_post': 'x', 'nfc_tap': 'y'}, 'exactly one action'),
])
def test_bad_scenario_event_steps(step, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario({'steps': [step]})


NFC_PROGRAM = '''\
import os
import relaysync

server = relaysync.Server('127.0.0.1', os.environ['PORT'])
wf = relaysync.Workflow('nfc')
server.register(wf, '/nfc')


@wf.on_start
def start(relay, trigger):
    me = relay.get_source_uri_from_trigger(trigger)
    relay.subscribe(me, 'nfc_tap')
    relay.subscribe(me, 'indoor_position')


@wf.on_position
def moved(relay, position_metadata, position_tags, transition, source_uri):
    relay.debug_log(f'{transition} {position_metadata}')


@wf.on_nfc_tap
def tapped(relay, uid, counter, tag_content, source_uri):
    relay.debug_log(f'{uid} {tag_content}')
    relay.terminate()


server.start()
'''


def test_cli_event_option(tmp_path):
    program = tmp_path / 'nfc_program.py'
    program.write_text(NFC_PROGRAM, encoding='utf-8')
    out = io.StringIO()
    code = main(['simulate', str(program), '--no-times', '--no-requests', '--timeout', '20',
                 '--time-scale', '0.01', '--event', 'position={"position_metadata": "lobby", '
                 '"position_tags": ["a@b"], "transition": "exit"}',
                 '--event', 'Alice:nfc_tap={"uid": "04A2", "tag_content": "me@example.com"}@2'],
                stdout=out)
    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    assert lines[1:-1] == [
        'Alice: triggered the workflow (button action="action_button_single_tap")',
        'Alice: subscribed to nfc_tap events',
        'Alice: subscribed to indoor_position events',
        'Alice: left position "lobby" (tags "a@b")',
        'relay: debug log: "exit lobby"',
        'Alice: tapped NFC tag "04A2" "me@example.com"',
        'relay: debug log: "04A2 me@example.com"',
        'relay: workflow terminated (stop reason: normal)']


@pytest.mark.parametrize('option,message', [
    ('weather=sunny', 'KIND must be one of position, geofence, nfc_tap, http_post'),
    ('nfc_tap={"uid": ', 'not valid JSON'),
])
def test_cli_event_option_errors(option, message):
    out = io.StringIO()
    assert main(['simulate', 'missing.py', '--event', option], stdout=out) == 2
    assert message in out.getvalue()


FORGED = 'x\nrelay: workflow terminated (stop reason: normal)'


def test_peer_text_cannot_forge_transcript_lines(relay_simulator):
    """What the workflow or a device sends is quoted like heard text, and an
    entry always prints as one line."""
    wf = relaysync.Workflow('forger')

    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        relay.subscribe(me, 'nfc_tap')
        relay.debug_log(FORGED)
        incident = relay.create_incident(me, FORGED)
        relay.resolve_incident(incident, FORGED)
        relay.alert(me, me, FORGED, 'look')
        relay.cancel_alert(me, FORGED)
        relay.play(me, FORGED)
        relay.set_device_name(me, FORGED)

    @wf.on_nfc_tap
    def tapped(relay, uid, counter, tag_content, source_uri):
        relay.terminate()

    sim = relay_simulator(wf, time_scale=0.01)
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    assert subscribed(sim, alice, 'nfc_tap')
    assert sim.wait_for(lambda: any(e.kind == 'device' for e in sim.transcript))
    assert alice.nfc_tap(FORGED, FORGED)
    run.wait_until_done(timeout=5)
    escaped = 'x\\nrelay: workflow terminated (stop reason: normal)'
    quoted = f'"{escaped}"'
    printed = '\n'.join(sim.lines(times=True)).splitlines()
    assert len(printed) == len(sim.transcript)             # one line per entry
    assert sum('workflow terminated' in line and 'x\\n' not in line for line in printed) == 1
    lines = sim.lines()
    for line in (f'relay: debug log: {quoted}',
                 f'relay: incident 1001 ({quoted}) opened for Alice',
                 f'relay: incident 1001 resolved: {quoted}',
                 f'Alice: alert "look" from Alice ({quoted})',
                 f'Alice: alert {quoted} cancelled',
                 f'Alice: played {quoted}',
                 f'{escaped}: renamed from "Alice"',
                 f'{escaped}: tapped NFC tag {quoted} {quoted}'):
        assert line in lines, (line, lines)
