"""Every sample workflow runs to completion under the simulator, through the
documented command (``relaysync simulate samples/<name>.py``), with the
transcript it is expected to produce."""

import io
import pathlib

import pytest

from relaysync.cli import main

SAMPLES = pathlib.Path(__file__).resolve().parent.parent / 'samples'
TRIGGER = 'Alice: triggered the workflow (button action="action_button_single_tap")'
DONE = 'relay: workflow terminated (stop reason: normal)'

# sample file (or file:path) -> (extra options, expected transcript without times and requests)
EXPECTED = {
    'hello_world_wf.py': ([], [
        TRIGGER,
        'Alice: interaction "hello interaction" started',
        'Alice: heard "hello world"',
        'Alice: interaction "hello interaction" ended',
        DONE]),
    'device_info_wf.py': (['--device', 'Alice,id=990007560023456,type=relay2,battery=87'], [
        TRIGGER,
        'Alice: interaction "device info interaction" started',
        'Alice: heard "this is Alice, a relay2 device with id 990007560023456"',
        'Alice: heard "the battery is at 87 percent"',
        'Alice: heard "location is turned on"',
        'Alice: heard "you are near 1 Main Street, Raleigh, NC"',
        'Alice: heard "latitude 35.7796, longitude -78.6382"',
        'Alice: interaction "device info interaction" ended',
        DONE]),
    'leds_vibrate_wf.py': ([], [
        TRIGGER,
        'Alice: interaction "led interaction" started',
        'Alice: LED rainbow rotations=2',
        'Alice: heard "rainbow"',
        'Alice: LED flash ring=ff0000 count=3',
        'Alice: heard "flashing red"',
        'Alice: LED static 1=00ff00',
        'Alice: heard "one green light"',
        'Alice: LED rotate 1=ffff00 rotations=2',
        'Alice: heard "rotating yellow"',
        'Alice: LED breathe ring=00ffff count=2',
        'Alice: heard "breathing cyan"',
        'Alice: vibrate [100, 500, 500, 500]',
        'Alice: heard "vibrate"',
        'Alice: LED off',
        'Alice: heard "lights off. Goodbye."',
        'Alice: interaction "led interaction" ended',
        DONE]),
    'incident_wf.py': ([], [
        TRIGGER,
        'relay: incident 1001 ("incident") opened for Alice',
        'Alice: interaction "incident interaction" started',
        'Alice: heard "created incident 1001"',
        'relay: incident 1001 resolved: "resolved by the sample workflow"',
        'Alice: heard "the incident is resolved"',
        'Alice: interaction "incident interaction" ended',
        DONE]),
    'interval_timer_wf.py': (['--time-scale', '0.2'], [
        TRIGGER,
        'Alice: interaction "timer interaction" started',
        'Alice: heard "counting to three"',
        'relay: timer fired',
        'Alice: heard "1"',
        'relay: timer fired',
        'Alice: heard "2"',
        'relay: timer fired',
        'Alice: heard "3"',
        'relay: timer "goodbye" fired',
        'Alice: heard "the goodbye timer fired"',
        'Alice: interaction "timer interaction" ended',
        DONE]),
    'listen_wf.py': (['--say', 'Bob'], [
        TRIGGER,
        'Alice: interaction "listen interaction" started',
        'Alice: heard "what is your name?"',
        'Alice: listening (up to 30 s)',
        'Alice: said "Bob"',
        'Alice: heard "hello Bob"',
        'Alice: interaction "listen interaction" ended',
        DONE]),
    'buttons_wf.py': (['--press', 'action:single@heard=tap the action button',
                       '--press', 'action:double@heard=you tapped once',
                       '--press', 'action:long@heard=you double tapped'], [
        TRIGGER,
        'Alice: interaction "buttons" started',
        'Alice: heard "tap the action button once or twice. Triple tap or long press to '
        'finish."',
        'Alice: pressed action single',
        'Alice: heard "you tapped once"',
        'Alice: pressed action double',
        'Alice: heard "you double tapped"',
        'Alice: pressed action long',
        'Alice: heard "goodbye"',
        'Alice: interaction "buttons" ended',
        DONE]),
    'notification_wf.py': (['--group', 'team=Bob,Carol', '--ack', 'Bob@2',
                            '--time-scale', '0.1'], [
        TRIGGER,
        'Alice: interaction "alert interaction" started',
        'Bob: alert "help is needed" from Alice ("help_alert")',
        'Carol: alert "help is needed" from Alice ("help_alert")',
        'Alice: heard "alert sent to team. Waiting for an answer."',
        'Bob: acknowledged alert "help_alert"',
        'Carol: alert "help_alert" cancelled',
        'Alice: heard "Bob acknowledged the alert"',
        'Alice: interaction "alert interaction" ended',
        DONE]),
    'nfc_wf.py': (['--event', 'nfc_tap=04A2B3C4@1', '--event', 'nfc_tap=04D5E6F7@1',
                   '--time-scale', '0.1'], [
        TRIGGER,
        'Alice: interaction "nfc interaction" started',
        'Alice: subscribed to nfc_tap events',
        'Alice: heard "tap 2 tags to check in"',
        'Alice: tapped NFC tag "04A2B3C4"',
        'relay: debug log: "tap 1: tag 04A2B3C4"',
        'Alice: heard "checked in at tag 04A2B3C4"',
        'Alice: tapped NFC tag "04D5E6F7"',
        'relay: debug log: "tap 2: tag 04D5E6F7"',
        'Alice: heard "checked in at tag 04D5E6F7"',
        'Alice: unsubscribed from nfc_tap events',
        'Alice: interaction "nfc interaction" ended',
        DONE]),
    'flask_app.py': ([], [
        TRIGGER,
        'Alice: interaction "hello interaction" started',
        'Alice: heard "hello from flask"',
        'Alice: interaction "hello interaction" ended',
        DONE]),
    'flask_app.py:/echo': (['--path', '/echo', '--say', 'flask echo'], [
        TRIGGER,
        'Alice: interaction "echo interaction" started',
        'Alice: listening (up to 30 s)',
        'Alice: said "flask echo"',
        'Alice: heard "you said flask echo"',
        'Alice: interaction "echo interaction" ended',
        DONE]),
}


def test_every_sample_has_an_expected_transcript():
    samples = sorted(p.name for p in SAMPLES.glob('*.py'))
    assert samples, 'no samples found'
    assert samples == sorted({name.split(':')[0] for name in EXPECTED})


@pytest.mark.parametrize('sample', sorted(EXPECTED))
def test_sample_runs_to_completion(sample):
    options, expected = EXPECTED[sample]
    out = io.StringIO()
    code = main(['simulate', str(SAMPLES / sample.split(':')[0]), '--no-times', '--no-requests',
                 '--timeout', '30', *options], stdout=out)
    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    assert lines[1:-1] == expected
    assert lines[-1].startswith('result: OK - the workflow terminated after ')


def test_hello_world_transcript_with_requests():
    out = io.StringIO()
    code = main(['simulate', str(SAMPLES / 'hello_world_wf.py'), '--no-times'], stdout=out)
    assert code == 0, out.getvalue()
    assert out.getvalue().splitlines()[1:-1] == [
        TRIGGER,
        'workflow: start_interaction -> Alice name="hello interaction"',
        'Alice: interaction "hello interaction" started',
        'workflow: say -> Alice text="hello world" lang="en-US"',
        'Alice: heard "hello world"',
        'workflow: end_interaction -> Alice',
        'Alice: interaction "hello interaction" ended',
        'workflow: terminate',
        DONE]
