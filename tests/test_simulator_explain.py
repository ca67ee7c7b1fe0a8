"""The text simulator explains itself: a run that does not finish says what the
workflow waits for (the handler still running and the call it is blocked in,
a listen, an alert, a call, button presses, a timer, an event with no handler)
and which option would move it on; refused requests name the group or device
the account lacks; ``--interactive`` is scriptable; every sample either
completes bare or says which option it needs, and samples/README.md gives each
sample's command line."""

import io
import pathlib
import re
import shlex

import pytest

import relaysync
from relaysync.simulator import SimulationTimeout, Simulator
from relaysync.simulator.explain import explain, report
from relaysync.simulator.interactive import Interactive
from relaysync.simulator.stacks import Busy, busy, parse_dump
from test_cli import program, simulate

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / 'samples'


def sample(name):
    return str(SAMPLES / name)


# ----------------------------------------------------------- bare samples
def test_bare_buttons_sample_says_to_press():
    code, out = simulate(sample('buttons_wf.py'), '--no-times')
    assert code == 3, out
    assert ('waiting for: a button press on Alice: the interaction "buttons" takes action '
            'single, action double, action triple, action long') in out
    assert '  try: --press action:single presses' in out
    assert out.rstrip().endswith('the workflow is waiting, and nothing will move it on within '
                                 'the 30 s timeout (--timeout S waits anyway)')


def test_bare_listen_sample_names_the_handler_and_the_call_and_says_to_answer():
    code, out = simulate(sample('listen_wf.py'), '--no-times')
    assert code == 3, out
    line = next(n for n, text in enumerate(open(sample('listen_wf.py')), 1)
                if 'relay.listen(' in text)
    assert (f'waiting for: the handler lifecycle (listen_wf.py, line {line}) to return from '
            f'listen()') in out
    assert re.search(r"waiting for: Alice to speak: the workflow's listen \(sent at [\d.]+ s\) "
                     r"has no answer yet; unanswered, it ends in silence in \d+ s", out), out
    assert '  try: --say TEXT answers it (--say "" for silence)' in out


def test_bare_notification_sample_says_to_add_the_group():
    code, out = simulate(sample('notification_wf.py'), '--no-times')
    assert code == 1, out
    assert ('refused: wf_api_notification_request named the group "team", which the '
            'simulated account does not have') in out
    assert '  try: --group team=DEVICE,DEVICE adds it (e.g. --group team=Bob,Carol)' in out


def test_an_alert_nobody_acknowledges_says_to_ack():
    code, out = simulate(sample('notification_wf.py'), '--group', 'team=Bob,Carol',
                         '--no-times')
    assert code == 3, out
    assert ("waiting for: Bob or Carol to acknowledge the alert 'help_alert' "
            '("help is needed")') in out
    assert '  try: --ack Bob acknowledges it' in out


def test_a_timeout_names_the_timer_to_come():
    code, out = simulate(sample('interval_timer_wf.py'), '--timeout', '2.5', '--no-times')
    assert code == 3, out
    assert re.search(r'waiting for: the timer (?:"goodbye" )?to fire in [\d.]+ s', out), out
    assert 'try: give it more time with --timeout S, or a faster clock' in out
    assert out.rstrip().endswith('still running after 2.5 s (--timeout)')


@pytest.mark.parametrize('name', sorted(p.name for p in SAMPLES.glob('*.py')))
def test_a_bare_run_of_every_sample_completes_or_says_which_option_it_needs(name):
    code, out = simulate(sample(name), '--no-times', '--no-requests')
    if code != 0:
        hints = re.findall(r'^  try: (--[a-z-]+)', out, re.M)
        assert hints, out
    else:
        assert 'result: OK' in out


def test_samples_readme_gives_a_working_command_line_for_every_sample():
    text = (SAMPLES / 'README.md').read_text()
    commands = re.findall(r'`(relaysync simulate samples/[^`]+)`', text)
    names = {p.name for p in SAMPLES.glob('*.py')}
    assert {shlex.split(c)[2].split('/')[-1] for c in commands} >= names, commands
    for command in commands:
        args = shlex.split(command)[2:]
        if '--ui' in args:
            continue  # the page: tests/test_simulator_ui_browser.py
        # A faster clock changes nothing these commands do (they script every answer).
        code, out = simulate(str(ROOT / args[0]), *args[1:], '--no-times', '--time-scale', '0.1')
        assert code == 0, f'{command}\n{out}'


# --------------------------------------------------------- other waits
CALLER = '''
@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'caller')

@wf.on_interaction_started
def started(relay, uri, reason):
    relay.place_call(uri, relaysync.device_name('Bob'))

@wf.on_call_connected
def connected(relay, *event):
    relay.terminate()
'''


def test_a_ringing_call_says_to_answer_it():
    code, out = simulate(program_path(CALLER), '--device', 'Alice', '--device', 'Bob',
                         '--timeout', '3', '--no-times')
    assert code == 3, out
    assert 'waiting for: Bob to answer the call from Alice' in out
    assert '  try: --answer-calls Bob answers it' in out
    code, out = simulate(program_path(CALLER), '--device', 'Alice', '--answer-calls', 'Bob@0.1',
                         '--time-scale', '0.1', '--no-times')
    assert code == 0, out


NO_LIFECYCLE_HANDLER = '''
@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'forgotten')
'''


def test_events_without_a_handler_are_named():
    code, out = simulate(program_path(NO_LIFECYCLE_HANDLER), '--no-times')
    assert code == 3, out
    assert re.search(r'waiting for: the workflow to react to the events interaction_lifecycle '
                     r'type=started and interaction_lifecycle type=resumed \(sent from [\d.]+ '
                     r's\): no handler is running, so it has none for them', out), out


BUSY = '''
import time

server.drain_timeout = 0  # SIGTERM: do not wait for the endless handler

@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'slow')

@wf.on_interaction_started
def started(relay, uri, reason):
    while True:
        time.sleep(0.05)
'''


def test_a_handler_running_its_own_code_is_named():
    code, out = simulate(program_path(BUSY), '--timeout', '2', '--no-times')
    assert code == 3, out
    assert re.search(r'waiting for: the handler started \(wf\.py, line \d+\) to return from '
                     r'sleep\(\)|waiting for: the handler started \(wf\.py, line \d+\) to '
                     r'finish', out), out


def program_path(body):
    import tempfile
    folder = pathlib.Path(tempfile.mkdtemp(prefix='relaysync-explain-'))
    return program(folder, body)


# --------------------------------------------------- in-process, the API
def test_simulation_timeout_explains_with_api_hints():
    wf = relaysync.Workflow('asks')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'ask')

    @wf.on_interaction_started
    def asked(relay, uri, reason):
        relay.listen(uri, timeout=60)
        relay.terminate()

    with Simulator(wf) as sim:
        run = sim.trigger('Alice')
        assert sim.devices['Alice'].wait_until_listening(5)
        with pytest.raises(SimulationTimeout) as caught:
            run.wait_until_done(timeout=0.2)
        message = str(caught.value)
        assert re.search(r'waiting for: the handler asked \(test_simulator_explain\.py, line '
                         r'\d+\) to return from listen\(\)', message), message
        assert "  try: sim.devices['Alice'].say(TEXT) answers it" in message
        assert run.explain() == message.split('\n')[1:1 + len(run.explain())]
        sim.devices['Alice'].say('yes')
        run.wait_until_done(timeout=5)
        assert run.explain() == []


def test_refused_requests_name_what_the_account_lacks():
    wf = relaysync.Workflow('needs a group and a device')

    @wf.on_start
    def start(relay, trigger):
        for target in (relaysync.group_name('night shift'), relaysync.device_name('Zed')):
            try:
                relay.broadcast(target, relay.get_source_uri_from_trigger(trigger), 'n', 'hi')
            except relaysync.ErrorResponse:
                pass
        relay.terminate()

    with Simulator(wf) as sim:
        run = sim.trigger('Alice')
        run.wait_until_done(timeout=5)
        found = sim.clock.run_sync(lambda: explain(run))
        assert [f.kind for f in found] == ['unknown_group', 'unknown_device']
        assert report(found, 'cli') == [
            'refused: wf_api_notification_request named the group "night shift", which the '
            'simulated account does not have',
            '  try: --group night shift=DEVICE,DEVICE adds it (e.g. --group night '
            'shift=Bob,Carol)',
            'refused: wf_api_notification_request named the device "Zed", which the simulated '
            'account does not have',
            '  try: --device Zed adds it']
        assert report(found, 'page')[1] == '  try: add the group night shift under Groups, ' \
                                           'then Restart'


def test_thread_dumps_are_read_and_library_frames_skipped():
    dump = '''Thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
  File "/app/venv/lib/python3.11/site-packages/relay/workflow.py", line 100 in listen
  File "/app/wf.py", line 33 in lifecycle
  File "/usr/lib/python3.11/threading.py", line 982 in run

Current thread 0x00007f0000000002 (most recent call first):
  File "/app/venv/lib/python3.11/site-packages/relaysync/server.py", line 10 in start
  File "/app/wf.py", line 50 in <module>
'''.split('\n')
    threads = parse_dump(dump)
    assert len(threads) == 2 and threads[0][2] == ('/app/wf.py', 33, 'lifecycle')
    found = busy(threads, lambda f: f == '/app/wf.py')
    assert found == [Busy('lifecycle', '/app/wf.py', 33, 'listen')]
    assert found[0].describe() == 'lifecycle (wf.py, line 33) to return from listen()'


# ----------------------------------------------------------- interactive
def test_interactive_script_waits_for_the_workflow():
    script = io.StringIO('wait listening\nsay Bob\nwait heard hello bob\nsleep 0\n')
    code, out = simulate(sample('listen_wf.py'), '--interactive', '--timeout', '10',
                         '--no-times', stdin=script)
    assert code == 0, out
    assert 'Alice: heard "hello Bob"' in out
    assert '(Alice will say that at the next listen)' not in out  # it waited for the listen


def test_each_wait_heard_looks_past_what_the_previous_one_matched():
    wf = relaysync.Workflow('says twice')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'twice')

    @wf.on_interaction_started
    def started(relay, uri, reason):
        relay.say_and_wait(uri, 'hello one')
        relay.say_and_wait(uri, 'hello two')

    with Simulator(wf) as sim:
        alice = sim.device('Alice')
        sim.trigger(alice)
        assert alice.wait_until_heard('hello two')
        said = []
        session = Interactive(sim, alice, said.append, wait_limit=0.3)
        for _ in range(3):
            session.handle('wait heard hello')
        session.handle('wait interaction twice')
        session.handle('wait alert help')
        assert said == ['wait heard hello: not met within 0.3 s',
                        'wait alert help: not met within 0.3 s']


def test_interactive_wait_errors_and_limits():
    script = io.StringIO('wait\nwait heard\nwait dancing\nsleep soon\nsleep -1\nquit\n')
    code, out = simulate(program_path(NO_LIFECYCLE_HANDLER), '--interactive', '--timeout', '20',
                         '--no-times', stdin=script)
    assert code == 1 and 'stopped by the user (quit)' in out
    assert out.count('wait heard TEXT | wait listening | wait interaction | wait alert | '
                     'wait call') == 3, out
    assert out.count('sleep SECONDS: how long?') == 2


def test_interactive_from_a_pipe_has_the_default_timeout_and_stops_when_stuck():
    code, out = simulate(sample('buttons_wf.py'), '--interactive', '--no-times',
                         stdin=io.StringIO('wait heard tap the action button\npress\n'))
    assert code == 3, out
    assert 'Alice: heard "you tapped once"' in out
    assert 'nothing will move it on within the 30 s timeout' in out


def test_workflow_crashed_names_what_the_account_lacks():
    import importlib.util
    from relaysync.simulator import WorkflowCrashed
    spec = importlib.util.spec_from_file_location('notification_wf', sample('notification_wf.py'))
    notification_wf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(notification_wf)  # its server starts only as __main__
    with Simulator(notification_wf.wf, time_scale=0.01) as sim:
        run = sim.trigger('Alice')
        with pytest.raises(WorkflowCrashed) as caught:
            run.wait_until_done(timeout=5)
    message = str(caught.value)
    assert ('refused: wf_api_notification_request named the group "team", which the simulated '
            "account does not have\n  try: sim.group('team', [DEVICE, ...]) adds it") in message
    assert 'waiting for:' not in message


def test_the_guides_interactive_script_example_runs_as_shown():
    """docs/testing.md shows --interactive fed from a here-document (a block the
    docs tests cannot run, having no standard input to give): run it here."""
    import subprocess
    import sys
    from test_docs import BLOCKS, output_matches
    block = next(b for b in BLOCKS if b.page == 'testing.md' and "<<'END'" in b.code)
    lines = block.code.rstrip('\n').split('\n')
    command = shlex.split(lines[0][2:].split('<<')[0])
    end = lines.index('END')
    script, expected = lines[1:end], lines[end + 1:]
    assert command[:2] == ['relaysync', 'simulate']
    proc = subprocess.run([sys.executable, '-m', 'relaysync.cli', *command[1:]], cwd=str(ROOT),
                          input='\n'.join(script) + '\n', capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert output_matches(expected, proc.stdout.split('\n')), proc.stdout
