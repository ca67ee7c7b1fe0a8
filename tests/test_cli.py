"""``relaysync simulate``: the command line, running real workflow programs as
child processes, and the interactive mode driven through stdin."""

import io
import os
import queue
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import relaysync
from relaysync.cli import main
from relaysync.simulator.command import _device_spec, _press_step
from relaysync.simulator.program import discover_path
from relaysync.simulator.scenario import ScenarioError

HEADER = '''\
import os
import relaysync

server = relaysync.Server('127.0.0.1', os.getenv('PORT', 8080))
wf = relaysync.Workflow('test workflow')
server.register(wf, '{path}')
'''

HELLO = '''
@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'hello interaction')

@wf.on_interaction_lifecycle
def lifecycle(relay, itype, uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.say_and_wait(uri, 'hello world')
        relay.end_interaction(uri)
    elif itype == relaysync.TYPE_ENDED:
        relay.terminate()
'''


def program(tmp_path, body, path='/hellopath', name='wf.py', header=True, start=True):
    """Write a workflow program into tmp_path and return its file name."""
    text = (HEADER.format(path=path) if header else '') + textwrap.dedent(body)
    if start:
        text += '\nserver.start()\n'
    file = tmp_path / name
    file.write_text(text)
    return str(file)


def simulate(*args, stdin=None):
    """Run ``relaysync simulate ARGS`` in-process; returns (exit code, output)."""
    out = io.StringIO()
    code = main(['simulate', *args], stdin=stdin or io.StringIO(''), stdout=out)
    return code, out.getvalue()


def port_of(output):
    return int(output.split('PORT=', 1)[1].split(',', 1)[0])


def assert_port_closed(port):
    with socket.socket() as sock:
        sock.settimeout(1)
        assert sock.connect_ex(('127.0.0.1', port)) != 0, 'the program is still listening'


# -------------------------------------------------------------- outcomes
def test_hello_world_exit_0_and_the_program_is_stopped(tmp_path):
    code, out = simulate(program(tmp_path, HELLO))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith('relaysync simulate: ') and 'path /hellopath)' in lines[0]
    assert any(line.endswith('Alice     heard "hello world"') for line in lines)
    assert lines[-1].startswith('result: OK - the workflow terminated after ')
    assert '(4 requests, 0 refused)' in lines[-1]
    assert_port_closed(port_of(out))


def test_crash_at_import_exits_4_with_the_traceback(tmp_path):
    code, out = simulate(program(tmp_path, "raise RuntimeError('broken at import')\n",
                                 start=False))
    assert code == 4, out
    assert '  | RuntimeError: broken at import' in out
    assert out.rstrip().endswith('the program exited with code 1 before listening')


def test_never_terminating_workflow_times_out_with_3(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'forever')
    '''
    code, out = simulate(program(tmp_path, body), '--timeout', '1', '--no-times')
    assert code == 3, out
    assert 'Alice: interaction "forever" started' in out
    assert 'relay: the simulator stopped the workflow (stop reason: stopped)' in out
    assert out.rstrip().endswith('the workflow was still running after 1 s (--timeout)')
    assert_port_closed(port_of(out))


def test_handler_crash_exits_1(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        raise ValueError('handler exploded')
    '''
    code, out = simulate(program(tmp_path, body), '--timeout', '20')
    assert code == 1, out
    assert '  | ValueError: handler exploded' in out
    assert 'a workflow handler raised (ValueError: handler exploded)' in out


def test_refused_requests_fail_unless_allowed(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        try:
            relay.say('urn:relay-resource:name:device:Nobody', 'hi')
        except relaysync.ErrorResponse:
            pass
        relay.terminate()
    '''
    prog = program(tmp_path, body)
    code, out = simulate(prog, '--no-times')
    assert code == 1, out
    assert ('workflow: say -> urn:relay-resource:name:device:Nobody text="hi" lang="en-US" '
            '=> error "say: unknown device urn:relay-resource:name:device:Nobody"') in out
    assert 'but 1 request(s) were refused; first: say: unknown device' in out
    code, out = simulate(prog, '--allow-errors')
    assert code == 0, out


def test_closing_without_terminate_exits_1(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        relay.connection.close(1000, 'done here')
    '''
    code, out = simulate(program(tmp_path, body), '--timeout', '20')
    assert code == 1, out
    assert 'closed the connection without terminating (code 1000)' in out


def test_program_dying_mid_run_exits_4(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        os._exit(7)
    '''
    code, out = simulate(program(tmp_path, body), '--timeout', '20')
    assert code == 4, out
    assert 'the program exited with code 7' in out


# ------------------------------------------------------------------ paths
def test_path_discovery_rule():
    assert discover_path("server.register(wf, '/hellopath')") == ('/hellopath', ['/hellopath'])
    source = 'a.register(x, "one/")\nb.register( wf2 , path="/two")\nc.register(x, "/one")'
    assert discover_path(source) == ('/one', ['/one', '/two'])
    assert discover_path('print("no server here")') == (None, [])


def test_first_path_is_used_and_path_chooses(tmp_path):
    body = HELLO + "\nother = relaysync.Workflow('other')\nserver.register(other, '/second')\n"
    prog = program(tmp_path, body, path='/first')
    code, out = simulate(prog)
    assert code == 0, out
    assert 'path /first; the source also registers /second, choose with --path)' in out
    code, out = simulate(prog, '--path', 'nowhere', '--timeout', '5')
    assert code == 4, out
    assert 'refused the WebSocket upgrade: HTTP 404' in out and 'see --path' in out


def test_url_mode_against_a_running_server():
    server = relaysync.Server('127.0.0.1', 0)
    wf = relaysync.Workflow('url')

    @wf.on_start
    def start(relay, trigger):
        relay.say(relay.get_source_uri_from_trigger(trigger), 'via url')
        relay.terminate()

    server.register(wf, '/url')
    with server.start_in_background():
        code, out = simulate('--url', f'ws://127.0.0.1:{server.port}', '--path', '/url',
                             '--no-times', '--no-requests')
    assert code == 0, out
    assert out.splitlines()[1:4] == [
        'Alice: triggered the workflow (button action="action_button_single_tap")',
        'Alice: heard "via url"', 'relay: workflow terminated (stop reason: normal)']


# ------------------------------------------------- scripting from options
def test_options_script_the_devices(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        relay.set_var('me', relay.get_source_uri_from_trigger(trigger))
        relay.start_interaction(relay.make_target_uris(trigger), 'ask',
            relay.interaction_options(input_types=['action_button_double_tap']))

    @wf.on_interaction_started
    def started(relay, uri, reason):
        name = relay.listen(uri)
        relay.say_and_wait(uri, f'hi {name}, battery {relay.get_device_battery(uri)}')
        relay.alert(relaysync.group_name(relay.get_var('group')), relay.get_var('me'), 'a', 'help')

    @wf.on_notification(event='ack_event')
    def ack(relay, event, name, state, source_uri):
        who = relaysync.parse_device_name(source_uri)
        relay.say_and_wait(relay.get_var('me'), 'acked by ' + who)

    @wf.on_button(taps='double')
    def double(relay, button, taps, uri):
        relay.terminate()
    '''
    code, out = simulate(program(tmp_path, body), '--no-times', '--no-requests',
                         '--device', 'Zoe,battery=12,type=relay2', '--say', 'Zed',
                         '--group', 'crew=Yan,Xu', '--var', 'group=crew', '--ack', 'Xu@2',
                         '--press', 'Zoe:action:double@heard=acked by', '--time-scale', '0.01')
    assert code == 0, out
    assert out.splitlines()[1:-1] == [
        'Zoe: triggered the workflow (button action="action_button_single_tap")',
        'Zoe: interaction "ask" started',
        'Zoe: listening (up to 60 s)',
        'Zoe: said "Zed"',
        'Zoe: heard "hi Zed, battery 12"',
        'Yan: alert "help" from Zoe ("a")',
        'Xu: alert "help" from Zoe ("a")',
        'Xu: acknowledged alert "a"',
        'Zoe: heard "acked by Xu"',
        'Zoe: pressed action double',
        'relay: workflow terminated (stop reason: normal)',
    ]


def test_scenario_file_and_trigger_options(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        me = relay.get_source_uri_from_trigger(trigger)
        relay.say(me, trigger['type'] + ' ' + trigger['args'].get('phrase', '-'))
        relay.say(me, relay.get_var('mood', 'none'))
        relay.terminate()
    '''
    scenario = tmp_path / 'scenario.json'
    scenario.write_text('{"devices": [{"name": "Ann"}, {"name": "Ben"}],'
                        ' "trigger": {"device": "Ann", "vars": {"mood": "calm"}},'
                        ' "options": {"timeout": 10}}')
    prog = program(tmp_path, body)
    code, out = simulate(prog, '--scenario', str(scenario), '--no-times', '--no-requests',
                         '--trigger', 'Ben', '--trigger-type', 'phrase', '--arg', 'phrase=go')
    assert code == 0, out
    assert 'Ben: heard "phrase go"' in out and 'Ben: heard "calm"' in out
    (tmp_path / 'bad.json').write_text('{"devices": [{"nam": "x"}]}')
    code, out = simulate(prog, '--scenario', str(tmp_path / 'bad.json'))
    assert code == 2 and 'devices[0]: unknown key(s) nam' in out


@pytest.mark.parametrize('args, message', [
    ([], 'give a PROGRAM to run or --url'),
    (['missing_program.py'], 'no such file: missing_program.py'),
    (['PROG', '--press', 'action:single@soon'], 'after @ write seconds or heard=TEXT'),
    (['PROG', '--press', 'volume:up'], 'press'),
    (['PROG', '--device', 'Bob,battery=lots'], 'bad value for battery'),
    (['PROG', '--var', 'novalue'], 'write KEY=VALUE'),
    (['PROG', '--time-scale', '0'], '--time-scale must be positive'),
    (['PROG', '--ui', '--ui-port', '70000'], '--ui-port must be a port number'),
    (['PROG', '--no-browser'], '--no-browser and --ui-port go with --ui'),
    (['PROG', '--ui', '--interactive'], 'use --ui or --interactive, not both'),
])
def test_usage_errors_exit_2(tmp_path, args, message):
    prog = program(tmp_path, HELLO)
    code, out = simulate(*[prog if a == 'PROG' else a for a in args])
    assert code == 2
    assert message in out


def test_argparse_errors_and_version(capsys):
    assert main(['simulate', '--no-such-option']) == 2
    assert main(['--version']) == 0
    assert relaysync.__version__ in capsys.readouterr().out
    assert main([], stdout=io.StringIO()) == 2


def test_option_parsers():
    assert _device_spec('Bob,battery=40,type=relay2,latlong=1.5;-2,location_enabled=no,'
                        'ack_alerts=2') == {
        'name': 'Bob', 'battery': 40, 'type': 'relay2', 'latlong': [1.5, -2.0],
        'location_enabled': False, 'ack_alerts': 2.0}
    assert _press_step('action:double@2.5') == {'press': 'action double', 'at': 2.5}
    assert _press_step('Bob:channel:triple@heard=go on') == {
        'device': 'Bob', 'press': 'channel triple', 'after_heard': 'go on'}
    assert _press_step('Bob:action') == {'device': 'Bob', 'press': 'action'}
    with pytest.raises(ScenarioError):
        _press_step('action:single@later')


# ------------------------------------------------------------ interactive
INTERACTIVE = '''
@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'chat',
        relay.interaction_options(input_types=['action_button_single_tap',
                                               'action_button_double_tap']))

@wf.on_interaction_started
def started(relay, uri, reason):
    text = relay.listen(uri, timeout=30)
    relay.say_and_wait(uri, f'you said {text}')
    relay.say_and_wait(uri, 'press the button')

@wf.on_button
def button(relay, button, taps, uri):
    relay.say_and_wait(uri, f'pressed {taps}')
    if taps == 'double':
        relay.end_interaction(uri)

@wf.on_interaction_ended
def ended(relay, uri, reason):
    relay.terminate()
'''


class Lines(io.TextIOBase):
    """A stdout that tests can wait on, line by line."""

    def __init__(self):
        self.lines = queue.Queue()
        self.seen = []
        self._partial = ''

    def write(self, text):
        self._partial += text
        *complete, self._partial = self._partial.split('\n')
        for line in complete:
            self.lines.put(line)
        return len(text)

    def expect(self, fragment, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if fragment in line:
                return line
        raise AssertionError(f'no line with {fragment!r}; got:\n' + '\n'.join(self.seen))


def test_interactive_mode_through_stdin(tmp_path):
    prog = program(tmp_path, INTERACTIVE)
    read_fd, write_fd = os.pipe()
    stdin, feed = os.fdopen(read_fd, 'r'), os.fdopen(write_fd, 'w')
    out = Lines()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault('code', main(
        ['simulate', prog, '--interactive', '--timeout', '30', '--no-times',
         '--device', 'Alice', '--device', 'Bob'], stdin=stdin, stdout=out)), daemon=True)
    thread.start()
    try:
        def send(line):
            feed.write(line + '\n')
            feed.flush()

        out.expect('interactive: you are Alice')
        out.expect('Alice: listening')
        send('help')
        out.expect('quit')
        send('dance')
        out.expect("unknown command 'dance'")
        send('say hello there')
        out.expect('Alice: heard "press the button"')
        send('devices')
        out.expect('* Alice (relay, battery 100%): in interaction "chat"')
        send('press')
        out.expect('Alice: heard "pressed single"')
        send('press Bob action single')
        out.expect('Bob: pressed action single (not sent: no interaction on the device)')
        send('press action sideways')
        out.expect('press [DEVICE] [BUTTON] [TAPS]')
        send('press action double')
        out.expect('result: OK')
        thread.join(10)
        assert result.get('code') == 0
        assert 'Alice: said "hello there"' in out.seen
    finally:
        feed.close()
        stdin.close()


def test_interactive_quit(tmp_path):
    body = '''
    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'forever')
    '''
    commands = io.StringIO('use Nobody\nack\nanswer\nhangup\nsilence\nquit\n')
    code, out = simulate(program(tmp_path, body), '--interactive', '--timeout', '20',
                         stdin=commands)
    assert code == 1, out
    assert "no device named 'Nobody'" in out
    assert 'Alice has no active alert' in out and 'Alice has no ringing call' in out
    assert 'stopped by the user (quit) before the workflow terminated' in out


def test_interactive_in_a_real_process(tmp_path):
    """The installed command in its own process, commands typed on its stdin."""
    prog = program(tmp_path, INTERACTIVE)
    command = [sys.executable, '-c', 'import sys; from relaysync.cli import main; '
                                     'sys.exit(main())',
               'simulate', prog, '--interactive', '--timeout', '30', '--no-times']
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line.rstrip('\n'))
                                              for line in proc.stdout], daemon=True)
    reader.start()
    seen = []

    def expect(fragment, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            if fragment in line:
                return
        raise AssertionError(f'no line with {fragment!r}; got:\n' + '\n'.join(seen))

    try:
        expect('Alice: listening')
        proc.stdin.write('say from a pipe\n')
        proc.stdin.flush()
        expect('Alice: heard "press the button"')
        proc.stdin.write('press double\n')
        proc.stdin.flush()
        expect('result: OK')
        assert proc.wait(15) == 0
        assert 'Alice: heard "you said from a pipe"' in seen
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        proc.stdin.close()
        proc.stdout.close()


def test_bad_scenario_option_and_missing_interpreter_give_clean_exit_codes(tmp_path):
    import json
    scenario = tmp_path / 'scenario.json'
    scenario.write_text(json.dumps({'options': {'time_scale': 0}}))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sample = os.path.join(root, 'samples', 'hello_world_wf.py')
    bad = subprocess.run([sys.executable, '-m', 'relaysync.cli', 'simulate', sample,
                          '--scenario', str(scenario)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and 'options.time_scale' in bad.stdout + bad.stderr
    assert 'Traceback' not in bad.stdout + bad.stderr
    missing = subprocess.run([sys.executable, '-m', 'relaysync.cli', 'simulate', sample,
                              '--python', str(tmp_path / 'no-such-python')],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 4 and 'could not be started' in missing.stdout
    assert 'Traceback' not in missing.stdout + missing.stderr
