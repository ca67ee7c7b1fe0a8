"""The simulator page's server, over real sockets: the page and its files, the
event stream (replay, live entries, wire messages, state), every command, the
checks that keep other web pages out, restart, hold, reconnection to a
simulator restarted on the same port, and ``pytest --relay-ui``."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import relaysync
from relaysync.simulator import Simulator
from pageclient import EventStream, command, request

WF = relaysync.Workflow('page test')


@WF.on_start
def _start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'main', relay.interaction_options(
        input_types=['action_button_single_tap', 'action_button_double_tap',
                     'action_button_triple_tap', 'action_button_long_press']))


@WF.on_interaction_started
def _started(relay, uri, reason):
    relay.say_and_wait(uri, f'ready, group {relay.get_var("group", "none")}')


@WF.on_button(button='action', taps='single')
def _single(relay, button, taps, uri):
    name = relay.listen(uri, timeout=30)
    relay.say_and_wait(uri, f'hello {name}')


@WF.on_button(button='action', taps='double')
def _double(relay, button, taps, uri):
    relay.alert(relaysync.group_name('team'), relaysync.device_name('Alice'), 'help', 'help!')


@WF.on_notification(event='ack_event')
def _acked(relay, event, name, state, source_uri):
    relay.say(relaysync.interaction_name('main'), f'{relaysync.parse_device_name(source_uri)} '
                                                  f'acknowledged')


@WF.on_button(button='action', taps='triple')
def _triple(relay, button, taps, uri):
    relay.say_and_wait(uri, f'battery {relay.get_device_battery(uri)}')
    relay.place_call(uri, relaysync.device_name('Bob'))


@WF.on_button(button='action', taps='long')
def _long(relay, button, taps, uri):
    relay.end_interaction(uri)


@WF.on_interaction_ended
def _ended(relay, uri, reason):
    relay.terminate()


@pytest.fixture
def sim():
    with Simulator(WF) as simulator:
        yield simulator


@pytest.fixture
def page(sim):
    return sim.serve_ui(title='page test')


def heard(sim, name, text):
    assert sim.devices[name].wait_until_heard(text, timeout=5), sim.devices[name].heard


# ------------------------------------------------------------ the page
def test_page_and_its_files_are_served_with_safe_headers(page):
    status, headers, body = request(page.url)
    assert status == 200 and headers['content-type'] == 'text/html; charset=utf-8'
    assert b'<script type="module" src="static/app.js">' in body
    assert "default-src 'self'" in headers['content-security-policy']
    assert headers['x-frame-options'] == 'DENY' and headers['cache-control'] == 'no-store'
    for name, kind in (('app.js', 'text/javascript'), ('device.js', 'text/javascript'),
                       ('leds.js', 'text/javascript'), ('dom.js', 'text/javascript'),
                       ('style.css', 'text/css'), ('favicon.svg', 'image/svg+xml')):
        status, headers, body = request(page.url, path=f'/static/{name}')
        assert status == 200 and headers['content-type'].startswith(kind) and body, name
    for path in ('/static/../server.py', '/static/%2e%2e/server.py', '/static/nothing.js',
                 '/static/', '/static/state.py', '/elsewhere'):
        assert request(page.url, path=path)[0] == 404, path
    assert page.url.startswith('http://127.0.0.1:') and page.port > 0


def test_requests_naming_another_host_are_refused(page):
    """A page of another site reaching 127.0.0.1 through DNS rebinding gets nothing."""
    for method, path in (('GET', '/'), ('GET', '/api/state'), ('POST', '/api/command')):
        status, _, _ = request(page.url, method, path, b'{}',
                               {'Host': f'attacker.example:{page.port}',
                                'Content-Type': 'application/json'})
        assert status == 403, (method, path)
    assert request(page.url, headers={'Host': f'localhost:{page.port}'})[0] == 200


def test_commands_from_another_origin_or_not_json_change_nothing(sim, page):
    alice = sim.device('Alice')
    body = json.dumps({'action': 'add_device', 'name': 'Mallory'}).encode()
    status, _, data = request(page.url, 'POST', '/api/command', body,
                              {'Content-Type': 'application/json',
                               'Origin': 'http://attacker.example'})
    assert status == 403 and b'simulator page only' in data
    status, _, _ = request(page.url, 'POST', '/api/command', body, {'Content-Type': 'text/plain'})
    assert status == 415
    status, _, data = request(page.url, 'POST', '/api/command', b'{not json',
                              {'Content-Type': 'application/json'})
    assert status == 400 and b'not a JSON command' in data
    status, _, _ = request(page.url, 'POST', '/api/command', b'x' * 70000,
                           {'Content-Type': 'application/json'})
    assert status == 413
    assert list(sim.devices) == ['Alice'] and alice.pressed == []
    answer = command(page.url, 'dance', device='Alice')
    assert answer == {'ok': False, 'error': "unknown action 'dance'", 'status': 400}
    answer = command(page.url, 'press', device='Alice', button='side', taps='single')
    assert answer['status'] == 400 and 'button is one of action, channel' in answer['error']
    assert command(page.url, 'press', device='Nobody')['error'] == "no device named 'Nobody'"
    origin = f'http://127.0.0.1:{page.port}'
    status, _, _ = request(page.url, 'POST', '/api/command', body,
                           {'Content-Type': 'application/json', 'Origin': origin})
    assert status == 200 and 'Mallory' in sim.devices


# ------------------------------------------------------- the event stream
def test_the_stream_replays_what_happened_then_follows(sim, page):
    alice = sim.device('Alice')
    run = sim.trigger(alice)
    heard(sim, 'Alice', 'ready')
    stream = EventStream(page.url)
    try:
        reset = stream.until(lambda e, d: e == 'reset')
        assert reset == {'session': page.session, 'title': 'page test'}
        entries = stream.until(lambda e, d: e == 'entries')
        assert {'who': 'Alice', 'kind': 'heard', 'text': 'heard "ready, group none"',
                'side': 'device', 'error': False, 'run': 1} \
            .items() <= next(e for e in entries if e['kind'] == 'heard').items()
        messages = stream.until(lambda e, d: e == 'messages')
        assert [m['type'] for m in messages][:2] == ['wf_api_start_event',
                                                     'wf_api_start_interaction_request']
        assert {m['way'] for m in messages} == {'sent', 'received'}
        state = stream.state(lambda s: s['devices'])
        device = state['devices'][0]
        assert device['name'] == 'Alice' and device['heard'][-1]['text'] == 'ready, group none'
        assert device['interactions'][0]['inputs'] == ['action single', 'action double',
                                                       'action triple', 'action long']
        assert state['runs'][0]['outcome'] == 'running' and state['title'] == 'page test'
        alice.press('action', 'single')
        entry = stream.until(lambda e, d: e == 'entry' and d['kind'] == 'listen')
        assert entry['text'] == 'listening (up to 30 s)' and entry['side'] == 'device'
        state = stream.state(lambda s: s['devices'][0]['listening'])
        assert any(f['kind'] == 'listen' and f['devices'] == ['Alice']
                   for f in state['runs'][0]['findings'])
        assert command(page.url, 'say', device='Alice', text='Bob')['result'] is True
        stream.until(lambda e, d: e == 'entry' and d['text'] == 'heard "hello Bob"')
        stream.since(lambda e, d: e == 'messages' and any(
            m['type'] == 'wf_api_speech_event' and '"text":"Bob"' in m['json'] for m in d))
        command(page.url, 'press', device='Alice', taps='long')
        state = stream.state(lambda s: s['runs'][0]['done'])
        assert state['runs'][0]['outcome'] == 'terminated' and run.terminated
    finally:
        stream.close()


def test_refused_requests_and_crashes_stand_out(page, sim):
    wf = relaysync.Workflow('breaks')

    @wf.on_start
    def start(relay, trigger):
        try:
            relay.say(relaysync.device_name('Nobody'), 'hi')
        except relaysync.ErrorResponse:
            pass
        raise RuntimeError('handler exploded')

    with Simulator(wf) as broken:
        shown = broken.serve_ui()
        stream = EventStream(shown.url)
        try:
            broken.trigger('Alice')
            refused = stream.until(lambda e, d: e == 'entry' and d['error'] and d['side']
                                   == 'workflow')
            assert 'say: unknown device urn:relay-resource:name:device:Nobody' in refused['text']
            crash = stream.until(lambda e, d: e == 'entry' and d['kind'] == 'crash')
            assert crash['error'] and 'RuntimeError: handler exploded' in crash['text']
            state = stream.state(lambda s: s['runs'] and s['runs'][0]['crashes'])
            run = state['runs'][0]
            assert run['errors'] == ['say: unknown device urn:relay-resource:name:device:Nobody']
            assert 'Traceback' in run['crashes'][0] and 'handler exploded' in run['crashes'][0]
            assert any(f['kind'] == 'unknown_device' for f in run['findings'])
        finally:
            stream.close()


def test_secrets_are_redacted_in_wire_messages(sim, page):
    wf = relaysync.Workflow('registers')

    @wf.on_start
    def start(relay, trigger):
        relay.register_for_calls(relay.make_target_uris(trigger), 'sip:a@b', 'hunter2')
        relay.terminate()

    with Simulator(wf) as registering:
        shown = registering.serve_ui()
        registering.trigger('Alice').wait_until_done(5)
        stream = EventStream(shown.url)
        try:
            messages = stream.until(lambda e, d: e == 'messages')
            register = next(m for m in messages if m['type'] == 'wf_api_register_request')
            assert '"password":"***"' in register['json'] and 'hunter2' not in register['json']
        finally:
            stream.close()


# ------------------------------------------------------------- commands
def test_device_commands(sim, page):
    alice, bob = sim.device('Alice'), sim.device('Bob')
    sim.group('team', ['Bob'])
    run = sim.trigger(alice)
    heard(sim, 'Alice', 'ready')
    assert command(page.url, 'say', device='Alice', text='Carol')['result'] is False  # queued
    assert command(page.url, 'press', device='Alice', button='action', taps='single')['ok']
    heard(sim, 'Alice', 'hello Carol')
    command(page.url, 'press', device='Alice', taps='double')
    assert sim.wait_for(lambda: bob.notifications)
    assert command(page.url, 'ack', device='Bob', name='help')['result'] is True
    heard(sim, 'Alice', 'Bob acknowledged')
    assert command(page.url, 'ack', device='Bob')['result'] is False
    for value in (101, -1, 'full', True, 5.5):
        answer = command(page.url, 'set_device', device='Alice', battery=value)
        assert answer['status'] == 400 and 'battery' in answer['error'], value
    for bad in ({'latlong': [91, 0]}, {'latlong': 'here'}, {'location_enabled': 'yes'},
                {'type': 'phone'}, {'address': 5}, {}):
        assert command(page.url, 'set_device', device='Alice', **bad)['status'] == 400, bad
    assert command(page.url, 'set_device', device='Alice', battery=7, latlong=[1.5, -2],
                   address='2 Side St', indoor_location='', location_enabled=False)['ok']
    assert (alice.battery, alice.latlong, alice.address, alice.indoor_location,
            alice.location_enabled) == (7, [1.5, -2.0], '2 Side St', None, False)
    command(page.url, 'press', device='Alice', taps='triple')
    heard(sim, 'Alice', 'battery 7')
    assert sim.wait_for(lambda: any(c.state == 'ringing' for c in sim.calls.calls.values()))
    assert command(page.url, 'answer', device='Bob')['result'] is True
    assert command(page.url, 'hangup', device='Alice')['result'] is True
    assert [c.state for c in sim.calls.calls.values()] == ['ended']
    assert command(page.url, 'call', device='Alice', uri='Bob')['result'] is True
    assert run.events_of('call_start_request')[-1]['uri'] == bob.urn
    assert command(page.url, 'say', device='Alice', text=None)['result'] is False
    assert alice.answers == [None]


def test_device_event_commands_go_through_the_device_api():
    wf = relaysync.Workflow('events')
    wf.got = []

    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        for kind in ('nfc_tap', 'indoor_position', 'outdoor_position', 'http_post'):
            relay.subscribe(me, kind)

    def record(name):
        def handler(relay, *fields):
            wf.got.append((name,) + fields[:-1])
            if len(wf.got) == 5:
                relay.terminate()
        return handler
    wf.on_nfc_tap(record('nfc_tap'))
    wf.on_position(record('position'))
    wf.on_geofence(record('geofence'))
    wf.on_http_post(record('http_post'))

    with Simulator(wf, time_scale=0.01) as sim:
        page = sim.serve_ui()
        alice = sim.device('Alice')
        run = sim.trigger(alice)
        assert sim.wait_for(lambda: len(alice.subscribers) == 4
                            and len(run.request_names()) >= 4)
        state = json.loads(request(page.url, path='/api/state')[2])
        assert sorted(s['type'] for s in state['devices'][0]['subscriptions']) == [
            'http_post', 'indoor_position', 'nfc_tap', 'outdoor_position']
        assert state['devices'][0]['subscriptions'][0]['runs'] == [1]
        # Bad input: a clear error (400), and nothing reaches the workflow.
        for bad, message in (
                ({'event': 'weather', 'fields': {}}, 'event is one of'),
                ({'event': 'nfc_tap', 'fields': {'uid': ''}}, '"uid" must be a non-empty'),
                ({'event': 'nfc_tap', 'fields': {'tag': 'x'}}, 'unknown key(s) tag'),
                ({'event': 'nfc_tap', 'fields': 'x'}, 'fields: give an object'),
                ({'event': 'geofence', 'fields': {'geofence_label': 'dock',
                                                  'transition': 'sideways'}}, 'transition'),
                ({'event': 'position', 'fields': {'position_metadata': 'hq',
                                                  'position_tags': 'a'}}, 'position_tags'),
                ({'event': 'http_post', 'value': '{"payload": '}, 'not valid JSON'),
                ({'event': 'nfc_tap', 'fields': {'uid': 'x'}, 'device': 'Nobody'},
                 "no device named 'Nobody'")):
            answer = command(page.url, 'device_event', **dict({'device': 'Alice'}, **bad))
            assert answer['status'] == 400 and message in answer['error'], (bad, answer)
        assert run.events_of('nfc_tap') == []
        # Fields as the device methods take them, or a value as --event KIND=VALUE reads it.
        assert command(page.url, 'device_event', device='Alice', event='nfc_tap',
                       fields={'uid': '04A2', 'tag_content': 'bay 2'})['result'] is True
        assert command(page.url, 'device_event', device='Alice', event='position',
                       fields={'position_metadata': 'HQ / 2', 'position_tags': ['desk'],
                               'transition': 'exit'})['result'] is True
        assert command(page.url, 'device_event', device='Alice', event='geofence',
                       value='dock')['result'] is True
        assert command(page.url, 'device_event', device='Alice', event='http_post',
                       fields={'payload': {'door': 'open'}})['result'] is True
        assert command(page.url, 'device_event', device='Alice', event='nfc_tap',
                       value='{"uid": "04B3", "counter": "9"}')['result'] is True
        run.wait_until_done(5)
        assert wf.got == [('nfc_tap', '04A2', '1', 'bay 2'),
                          ('position', 'HQ / 2', ['desk'], 'exit'),
                          ('geofence', 'dock', 'entry'),
                          ('http_post', {'door': 'open'}, '', ''),
                          ('nfc_tap', '04B3', '9', '')]
        # Nobody subscribed any more: the event is not sent, and the answer says so.
        assert command(page.url, 'device_event', device='Alice', event='nfc_tap',
                       value='04C4')['result'] is False


def test_account_commands(sim, page):
    sim.device('Alice')
    assert command(page.url, 'add_device', name='Bob', type='relay2')['ok']
    assert sim.devices['Bob'].type == 'relay2'
    assert command(page.url, 'add_device', name='Bob')['error'] == \
        "there is already a device named 'Bob'"
    assert 'type is one of' in command(page.url, 'add_device', name='Cy', type='pager')['error']
    assert command(page.url, 'add_device', name='  ')['status'] == 400
    assert command(page.url, 'add_group', name='team', members=['Alice', 'Bob'])['ok']
    assert [m.name for m in sim.groups['team'].members] == ['Alice', 'Bob']
    assert command(page.url, 'add_group', name='x', members=['Zed'])['error'] == \
        "no device named 'Zed'"
    assert command(page.url, 'remove_device', device='Bob')['ok']
    assert list(sim.devices) == ['Alice'] and [m.name for m in sim.groups['team'].members] \
        == ['Alice']
    assert command(page.url, 'set_var', name='group', value='team')['ok']
    assert page.start_vars == {'group': 'team'}
    number = command(page.url, 'trigger', device='Alice', type='phrase',
                     args={'phrase': 'help', 'spillover': 'now'})['result']
    run = sim.runs[-1]
    assert number == run.number == 1
    assert run.trigger == {'type': 'phrase', 'args': {'phrase': 'help', 'spillover': 'now',
                                                      'source_uri': sim.devices['Alice'].urn}}
    heard(sim, 'Alice', 'ready, group team')
    assert command(page.url, 'set_var', name='mood', value='fine')['ok']
    assert run.vars['mood'] == 'fine'
    assert command(page.url, 'unset_var', name='mood')['ok'] and 'mood' not in run.vars
    assert command(page.url, 'trigger', device='Alice', args={'source_uri': 'x'})['status'] == 400
    assert command(page.url, 'restart')['ok']
    assert sim.wait_for(lambda: len(sim.runs) == 2 and sim.runs[1].vars.get('group') == 'team')
    assert run.outcome == 'stopped' and run.stop_reason == 'restarted from the simulator page'
    assert sim.runs[1].trigger['type'] == 'phrase'
    assert command(page.url, 'stop', run=2)['ok'] and sim.wait_for(lambda: sim.runs[1].done)
    assert command(page.url, 'stop', run=9)['error'] == 'no run 9'
    assert command(page.url, 'remove_group', name='team')['ok'] and not sim.groups
    assert command(page.url, 'remove_group', name='team')['status'] == 400
    assert command(page.url, 'quit')['error'] == 'this simulator cannot be stopped from the page'


def test_resolving_an_incident_from_the_page():
    wf = relaysync.Workflow('incident')

    @wf.on_start
    def start(relay, trigger):
        relay.create_incident(relay.get_source_uri_from_trigger(trigger), 'fall')

    @wf.on_incident
    def closed(relay, incident_type, incident_id, reason):
        relay.terminate()

    with Simulator(wf) as sim:
        page = sim.serve_ui()
        run = sim.trigger('Alice')
        assert sim.wait_for(lambda: sim.incidents)
        (incident_id,) = sim.incidents
        assert command(page.url, 'resolve_incident', id=incident_id)['result'] is True
        run.wait_until_done(5)
        assert sim.incidents[incident_id]['reason'] == 'resolved from the simulator page'
        assert command(page.url, 'resolve_incident', id=incident_id)['result'] is False


def test_a_restart_that_fails_is_reported_on_the_page(sim):
    def broken(start_vars):
        raise RuntimeError('cannot restart now')
    page = sim.serve_ui(restart=broken)
    assert command(page.url, 'restart')['ok']
    assert sim.wait_for(lambda: 'relay: restart failed: cannot restart now' in sim.lines())


# ------------------------------------------------- hold, pages, restarts
def test_hold_until_continue_is_pressed(sim, page):
    assert page.hold(timeout=5) is False  # no page connected: nobody to press Continue
    stream = EventStream(page.url)
    try:
        assert page.wait_for_page(5) and page.pages == 1
        result = {}
        holder = threading.Thread(target=lambda: result.setdefault('held', page.hold(10)))
        holder.start()
        stream.state(lambda s: s['controls']['hold'])
        assert command(page.url, 'release')['ok']
        holder.join(10)
        assert result == {'held': True}
        stream.state(lambda s: not s['controls']['hold'])
    finally:
        stream.close()


def test_a_page_follows_a_simulator_restarted_on_the_same_port():
    first = Simulator(WF)
    page = first.serve_ui()
    port = page.port
    stream = EventStream(page.url)
    try:
        stream.until(lambda e, d: e == 'reset')
        first.device('Alice')
        stream.state(lambda s: [d['name'] for d in s['devices']] == ['Alice'])
        first.close()
        assert stream.until(lambda e, d: e == 'bye') == {'session': page.session}
        assert stream.next() is None  # the stream ends; the page's EventSource reconnects
    finally:
        stream.close()
    with socket.socket() as probe:
        assert probe.connect_ex(('127.0.0.1', port)) != 0, 'still served after close'
    with Simulator(WF) as second:
        again = second.serve_ui(port)
        second.device('Bob')
        stream = EventStream(again.url)
        try:
            reset = stream.until(lambda e, d: e == 'reset')
            assert reset['session'] != page.session
            stream.state(lambda s: [d['name'] for d in s['devices']] == ['Bob'])
        finally:
            stream.close()


def test_serve_ui_on_a_closed_simulator_or_a_taken_port():
    with Simulator(WF) as sim:
        page = sim.serve_ui()
        with pytest.raises(OSError):
            sim.serve_ui(page.port)
    with pytest.raises(RuntimeError):
        sim.serve_ui()


# -------------------------------------------------- pytest --relay-ui
def test_pytest_relay_ui_shows_each_test_and_holds_it_until_continue(tmp_path):
    """Two tests under ``pytest --relay-ui``: a page (this test's client) follows
    both on the session's port and presses Continue at the end of each."""
    (tmp_path / 'test_shown.py').write_text(textwrap.dedent('''
        import relaysync

        wf = relaysync.Workflow('shown')

        @wf.on_start
        def start(relay, trigger):
            relay.terminate()

        def test_one(relay_simulator):
            relay_simulator(wf, time_scale=0.01).trigger('Alice').wait_until_done(5)

        def test_two(relay_simulator):
            relay_simulator(wf, time_scale=0.01).trigger('Bob').wait_until_done(5)
    '''))
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = dict(os.environ)
    env.pop('DISPLAY', None)
    env.pop('WAYLAND_DISPLAY', None)
    proc = subprocess.Popen([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                             '--relay-ui', '--relay-ui-port', str(port), 'test_shown.py'],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}/'
    released = []
    try:
        deadline = time.monotonic() + 60
        while len(released) < 2 and time.monotonic() < deadline and proc.poll() is None:
            try:
                stream = EventStream(url, timeout=5)
            except OSError:
                time.sleep(0.1)  # between two tests: reconnect, as the page does
                continue
            try:
                state = stream.state(lambda s: s['controls']['hold'] and s['runs'], 20)
                released.append(state['devices'][0]['name'])
                assert command(url, 'release')['ok']
                stream.until(lambda e, d: e == 'bye', 20)
            except (AssertionError, OSError):
                pass
            finally:
                stream.close()
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert released == ['Alice', 'Bob'], output
    assert f'relaysync: open {url} in a browser to see the devices' in output
    assert 'has finished; press Continue on' in output


# ------------------------------------------------ relaysync simulate --ui
def _simulate_in_thread(*args):
    """``relaysync simulate ARGS --ui --no-browser`` on a thread: (thread, output, result)."""
    import io
    import re as regex
    from relaysync.cli import main
    from test_cli import Lines
    out, result = Lines(), {}
    thread = threading.Thread(target=lambda: result.setdefault('code', main(
        ['simulate', *args, '--ui', '--no-browser', '--no-times'], stdin=io.StringIO(''),
        stdout=out)), daemon=True)
    thread.start()
    line = out.expect('the simulator page is')
    url = regex.search(r'http://127\.0\.0\.1:\d+/', line).group(0)
    return thread, out, result, url


def test_simulate_ui_triggers_when_the_page_opens_and_quits_from_it():
    thread, out, result, url = _simulate_in_thread(
        os.path.join(os.path.dirname(__file__), '..', 'samples', 'hello_world_wf.py'))
    out.expect('the workflow starts when the page opens')
    stream = EventStream(url)
    try:
        state = stream.state(lambda s: s['runs'] and s['runs'][0]['done'])
        assert state['runs'][0]['outcome'] == 'terminated' and state['controls']['quit']
        assert state['devices'][0]['heard'][-1]['text'] == 'hello world'
        out.expect('result (run 1): OK - the workflow terminated (4 requests, 0 refused)')
        assert command(url, 'quit')['ok']
        thread.join(20)
    finally:
        stream.close()
    assert result == {'code': 0}


def test_simulate_ui_ends_at_its_timeout_and_a_taken_port_is_reported(tmp_path):
    hello = os.path.join(os.path.dirname(__file__), '..', 'samples', 'hello_world_wf.py')
    thread, out, result, url = _simulate_in_thread(hello, '--timeout', '1')
    thread.join(30)
    out.expect('result: FAILED (exit 3) - --timeout (1 s) passed with no page open before the '
               'workflow was triggered')
    assert result == {'code': 3}
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        from relaysync.cli import main
        from test_cli import Lines
        out = Lines()
        code = main(['simulate', hello, '--ui', '--no-browser', '--ui-port',
                     str(taken.getsockname()[1])], stdout=out)
        assert code == 4
        out.expect('cannot serve the page on port')


def test_simulate_ui_reports_a_dead_program_and_restart_starts_it_again(tmp_path):
    """The edit-and-Restart loop: the program dies, the page says so, Restart runs
    it again (here it behaves the second time)."""
    from test_cli import program
    mark = tmp_path / 'crashed-once'
    prog = program(tmp_path, f'''
    @wf.on_start
    def start(relay, trigger):
        if not os.path.exists({str(mark)!r}):
            open({str(mark)!r}, 'w').close()
            os._exit(7)
        relay.terminate()
    ''')
    thread, out, result, url = _simulate_in_thread(prog)
    stream = EventStream(url)
    try:
        failures = sorted(out.expect('FAILED (exit 4)') for _ in range(2))  # in either order
        assert failures == [
            'program: FAILED (exit 4) - the program exited with code 7; fix it and press '
            'Restart',
            'result (run 1): FAILED (exit 4) - the program exited with code 7']
        stream.since(lambda e, d: e == 'entry' and d['error'] and 'exited with code 7' in
                     d['text'])
        assert command(url, 'restart')['ok']
        restarted = out.expect('relaysync simulate: restarting')
        out.expect('result (run 2): OK - the workflow terminated')
        assert command(url, 'quit')['ok']
        thread.join(20)
    finally:
        stream.close()
    assert result == {'code': 0}
    port = int(restarted.split('PORT=')[1].rstrip(')'))
    with socket.socket() as probe:  # the restarted program was stopped too
        assert probe.connect_ex(('127.0.0.1', port)) != 0, 'the program still listens'
