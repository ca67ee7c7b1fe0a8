"""The simulator page in a real headless browser (Debian's chromium, driven by
Playwright): a person drives every sample to completion from the page, the LED
ring shows the effects, listens are answered by typing (and by speech), alerts
acknowledged, calls answered, the account edited, errors stand out, the page
reconnects to a restarted simulator, and the README's screenshot is made here.

Skipped where no browser is installed, except in CI (``CI`` set), where a
missing browser fails: ``.ci/run`` installs chromium.
"""

import hashlib
import os
import pathlib
import queue
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest

import relaysync
from relaysync.simulator import Simulator

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / 'relaysync' / 'simulator' / 'ui' / 'static'
SCREENSHOT = ROOT / 'docs' / 'images' / 'simulator-page.png'
CHROMIUM = (os.environ.get('RELAYSYNC_CHROMIUM') or shutil.which('chromium')
            or shutil.which('chromium-browser') or '/usr/bin/chromium')
# Headless, and quiet: no first-run, sync, component or background traffic (each
# launch also gets a fresh, empty profile directory from Playwright).
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync']
WAIT = 10_000  # ms: the longest any expectation waits


def _missing():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'Playwright is not installed (pip install -e ".[testing]")'
    if not os.path.exists(CHROMIUM):
        return 'chromium is not installed (apt-get install chromium)'
    return None


@pytest.fixture(scope='module')
def browser():
    why = _missing()
    if why:
        if os.environ.get('CI'):
            pytest.fail(f'CI must run the browser tests: {why}')
        pytest.skip(why)
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=WAIT)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser):
    """``open_page(url, init_script=None)``: a new tab on the page; the test fails
    if the page's JavaScript raised."""
    contexts, errors = [], []

    def make(url, init_script=None, width=1360, height=900):
        context = browser.new_context(viewport={'width': width, 'height': height})
        context.set_default_timeout(WAIT)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        tab = context.new_page()
        tab.on('pageerror', lambda exc: errors.append(str(exc)))
        # A stopped simulator refuses the page's reconnections, and a command the
        # simulator refuses is answered 400 (the page shows why): no fault of the page.
        tab.on('console', lambda m: errors.append(m.text) if m.type == 'error' and
               'net::ERR_CONNECTION_REFUSED' not in m.text and
               'responded with a status of 400' not in m.text else None)
        tab.goto(url)
        expect(tab.locator('#status')).to_have_text('Connected')
        return tab
    yield make
    for context in contexts:
        context.close()
    assert not errors, errors


def expect(locator):
    from playwright.sync_api import expect as playwright_expect
    return playwright_expect(locator)


def card(tab, name):
    return tab.locator(f'article[data-device="{name}"]')


def press(tab, name, taps, button='action'):
    tab.get_by_role('button', name=f'{name}: press {button} {taps}', exact=True).click()


def say(tab, name, text):
    tab.get_by_label(f'{name} says (push to talk)').fill(text)
    tab.get_by_role('button', name=f'{name}: say it').click()


def heard(tab, name, text):
    expect(card(tab, name).locator('[data-role=heard]')).to_have_text(text)


def transcript(tab, text):
    expect(tab.locator('#transcript li', has_text=text).first).to_be_visible()


def wait_leds(tab, name, colors):
    """Wait until device ``name``'s 12 LEDs show ``colors`` (a list, or one colour for all)."""
    want = colors if isinstance(colors, list) else [colors] * 12
    tab.wait_for_function(
        '([name, want]) => JSON.stringify(Array.from(document.querySelectorAll('
        '`article[data-device="${name}"] circle.led`)).map(e => e.dataset.color)) === '
        'JSON.stringify(want)', arg=[name, want], timeout=WAIT)


def leds(tab, name):
    return card(tab, name).locator('circle.led').evaluate_all(
        'els => els.map(e => e.dataset.color)')


class Cli:
    """``relaysync simulate SAMPLE --ui --no-browser`` in a process of its own."""

    def __init__(self, *args):
        # --ui paces speech as a device would; a tenth of the time keeps the tests short.
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'relaysync.cli', 'simulate', *args, '--ui', '--no-browser',
             '--no-times', '--time-scale', '0.1'], cwd=str(ROOT), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=lambda: [self.lines.put(line.rstrip('\n'))
                                         for line in self.proc.stdout], daemon=True).start()
        self.url = self.expect(r'the simulator page is (http://127\.0\.0\.1:\d+/)').group(1)

    def expect(self, pattern, timeout=20.0):
        deadline = time.monotonic() + timeout
        for line in self.seen:
            match = re.search(pattern, line)
            if match:
                return match
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f'no line matching {pattern!r}:\n' + '\n'.join(self.seen))

    def quit(self, tab):
        tab.get_by_role('button', name='Quit').click()
        code = self.proc.wait(20)
        self.expect(r'.', 0.1)  # let the reader catch up
        return code

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc.stdout.close()


@pytest.fixture
def cli(browser):
    started = []

    def start(*args):
        started.append(Cli(*args))
        return started[-1]
    yield start
    for process in started:
        process.close()


# ------------------------------------------------ the samples, from the page
def test_buttons_sample_with_the_talk_button_and_the_keyboard(cli, open_page):
    run = cli('samples/buttons_wf.py')
    tab = open_page(run.url)
    heard(tab, 'Alice', 'tap the action button once or twice. Triple tap or long press to '
                        'finish.')
    expect(card(tab, 'Alice').locator('[data-role=waiting]')).to_have_text(
        'The workflow is waiting for Alice: press Talk, or one of the presses below.')
    talk = tab.get_by_role('button', name='Alice: talk (action) button', exact=False)
    talk.click()                       # one tap of the drawn talk button
    heard(tab, 'Alice', 'you tapped once')
    press(tab, 'Alice', 'double')      # the explicit presses
    heard(tab, 'Alice', 'you double tapped')
    # The keyboard: three quick Enters are a triple tap.  They are sent in one go, as
    # a busy machine could space separate key presses further apart than a tap.
    talk.evaluate('''button => { for (let i = 0; i < 3; i += 1) {
        button.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        button.dispatchEvent(new KeyboardEvent('keyup', {key: 'Enter', bubbles: true})); } }''')
    heard(tab, 'Alice', 'goodbye')
    expect(tab.locator('.run.outcome-terminated')).to_have_count(1)
    transcript(tab, 'pressed action triple')
    run.expect(r'result \(run 1\): OK - the workflow terminated')
    assert run.quit(tab) == 0
    assert 'Alice: pressed action single' in run.seen and \
        'Alice: pressed action double' in run.seen


def test_listen_sample_answered_by_typing(cli, open_page):
    run = cli('samples/listen_wf.py')
    tab = open_page(run.url)
    alice = card(tab, 'Alice')
    expect(alice.locator('[data-role=listening]')).to_have_text(
        'Alice is listening (run 1): answer now')
    expect(alice).to_have_class(re.compile('is-listening'))
    expect(alice.locator('[data-role=waiting]')).to_contain_text(
        'type the answer below and press Say')
    say(tab, 'Alice', 'Bob')
    heard(tab, 'Alice', 'hello Bob')
    expect(alice.locator('[data-role=listening]')).to_be_hidden()
    transcript(tab, 'said "Bob"')
    run.expect(r'result \(run 1\): OK')
    assert run.quit(tab) == 0


def test_notification_sample_group_added_on_the_page_then_acknowledged(cli, open_page):
    run = cli('samples/notification_wf.py')
    tab = open_page(run.url)
    # Run bare, the alert is refused: the page says why and what to do.
    refused = tab.locator('#transcript li.error', has_text='unknown group')
    expect(refused.first).to_be_visible()
    expect(tab.locator('.finding.error')).to_contain_text(
        'Refused: wf_api_notification_request named the group "team", which the simulated '
        'account does not have (add the group team under Groups, then Restart)')
    expect(tab.locator('.run .crash summary')).to_contain_text(
        'handler raised: relaysync.exceptions.ErrorResponse: notification: unknown group')
    for name in ('Bob', 'Carol'):
        tab.locator('#new-device-name').fill(name)
        tab.get_by_role('button', name='Add device').click()
        expect(card(tab, name)).to_be_visible()
    tab.locator('#new-group-name').fill('team')
    tab.locator('#new-group-members').get_by_label('Bob').check()
    tab.locator('#new-group-members').get_by_label('Carol').check()
    tab.get_by_role('button', name='Add group').click()
    expect(tab.locator('#groups')).to_have_text(re.compile('team: Bob, Carol'))
    tab.get_by_role('button', name='Restart').click()
    run.expect(r'restarting samples/notification_wf.py')
    ack = tab.get_by_role('button', name='Carol: acknowledge alert help_alert')
    expect(ack).to_be_visible()
    expect(card(tab, 'Bob').locator('.notification.alert.active')).to_contain_text(
        '"help is needed" from Alice')
    expect(card(tab, 'Carol').locator('[data-role=waiting]')).to_contain_text(
        'press Acknowledge below')
    ack.click()
    heard(tab, 'Alice', 'Carol acknowledged the alert')
    expect(card(tab, 'Bob').locator('.notification.cancelled')).to_contain_text('alert cancelled')
    expect(card(tab, 'Carol').locator('.notification.acknowledged')).to_be_visible()
    run.expect(r'result \(run 2\): OK - the workflow terminated')
    transcript(tab, 'workflow terminated (stop reason: normal)')
    # The transcript follows the newest line, though the cards above it grew meanwhile.
    # A function, not an expression: Playwright polls an expression with eval,
    # which the page's Content-Security-Policy forbids.
    tab.wait_for_function("() => { const t = document.getElementById('transcript'); "
                          "return t.scrollHeight - t.scrollTop - t.clientHeight < 40; }")
    assert run.quit(tab) == 0


def test_device_info_sample_reads_what_the_page_set(cli, open_page):
    run = cli('samples/device_info_wf.py')
    tab = open_page(run.url)
    expect(tab.locator('.run.outcome-terminated')).to_have_count(1)
    alice = card(tab, 'Alice')
    alice.locator('summary', has_text='Battery, location and calls').click()
    alice.get_by_label('Battery %').fill('42')
    alice.get_by_label('Address').fill('5 Oak Lane')
    alice.get_by_label('Latitude').fill('51.5')
    alice.get_by_label('Longitude').fill('-0.12')
    tab.get_by_role('button', name='Alice: save battery and location').click()
    expect(alice.locator('[data-role=battery]')).to_have_text('battery 42%')
    tab.get_by_role('button', name='Restart').click()
    heard(tab, 'Alice', 'latitude 51.5, longitude -0.12')
    transcript(tab, 'heard "the battery is at 42 percent"')
    transcript(tab, 'heard "you are near 5 Oak Lane"')
    run.expect(r'result \(run 2\): OK')
    assert run.quit(tab) == 0


def test_nfc_sample_tapped_from_the_device_card(cli, open_page):
    run = cli('samples/nfc_wf.py')
    tab = open_page(run.url)
    alice = card(tab, 'Alice')
    heard(tab, 'Alice', 'tap 2 tags to check in')
    expect(alice.locator('[data-role=subscriptions]')).to_have_text(
        'The workflow is subscribed to nfc_tap (run 1)')
    expect(alice.locator('[data-role=waiting]')).to_have_text(
        'The workflow is waiting for Alice: send the event under Device events below.')
    expect(alice.locator('[data-role=events]')).to_have_attribute('open', '')
    expect(alice.locator('form[data-event=nfc_tap]')).to_have_class(re.compile('subscribed'))
    # Bad input gets a clear error, and nothing is sent.
    alice.get_by_label('Payload (JSON)').fill('{not json')
    tab.get_by_role('button', name='Alice: send an HTTP POST').click()
    expect(tab.locator('#notice')).to_contain_text('HTTP POST: the payload is not JSON')
    tab.get_by_role('button', name='Alice: tap an NFC tag').click()
    expect(tab.locator('#notice')).to_contain_text('nfc_tap: "uid" must be a non-empty text')
    # The keyboard: type the tag's uid and press Enter; then the Tap button.
    alice.get_by_label('Tag uid').fill('04A2B3C4')
    alice.get_by_label('Tag uid').press('Enter')
    heard(tab, 'Alice', 'checked in at tag 04A2B3C4')
    expect(tab.locator('#notice')).to_be_hidden()
    alice.get_by_label('Tag uid').fill('04D5E6F7')
    alice.get_by_label('Tag content').fill('bay 2')
    tab.get_by_role('button', name='Alice: tap an NFC tag').click()
    heard(tab, 'Alice', 'checked in at tag 04D5E6F7')
    expect(tab.locator('.run.outcome-terminated')).to_have_count(1)
    expect(alice.locator('[data-role=subscriptions]')).to_be_hidden()
    transcript(tab, 'tapped NFC tag "04D5E6F7" "bay 2"')
    run.expect(r'result \(run 1\): OK - the workflow terminated')
    assert run.quit(tab) == 0
    assert 'Alice: tapped NFC tag "04A2B3C4"' in run.seen
    assert not any('http_post' in line or 'HTTP POST' in line for line in run.seen)


@pytest.mark.parametrize('program,args,last', [
    ('hello_world_wf.py', [], 'hello world'),
    ('interval_timer_wf.py', [], 'the goodbye timer fired'),
    ('leds_vibrate_wf.py', [], 'lights off. Goodbye.'),
    ('incident_wf.py', [], 'the incident is resolved'),
    ('flask_app.py', ['--path', '/echo'], 'you said hi there'),
])
def test_the_other_samples_run_to_completion_on_the_page(cli, open_page, program, args, last):
    run = cli(f'samples/{program}', *args)
    tab = open_page(run.url)
    if program == 'flask_app.py':
        expect(card(tab, 'Alice')).to_have_class(re.compile('is-listening'))
        say(tab, 'Alice', 'hi there')
    heard(tab, 'Alice', last)
    expect(tab.locator('.run.outcome-terminated')).to_have_count(1)
    run.expect(r'result \(run 1\): OK')
    assert run.quit(tab) == 0


# ------------------------------------------------------------ the device
LIGHTS = relaysync.Workflow('lights')


@LIGHTS.on_start
def _lights_start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'lights', relay.interaction_options(
        input_types=['action_button_single_tap']))


@LIGHTS.on_interaction_started
def _lights_started(relay, uri, reason):
    relay.set_var('step', '0')
    relay.switch_all_led_on(uri, 'ff0000')


@LIGHTS.on_button(button='action', taps='single')
def _lights_next(relay, button, taps, uri):
    step = relay.get_number_var('step') + 1
    relay.set_var('step', str(step))
    if step == 1:
        relay.switch_led_on(uri, 3, '00ff00')
    elif step == 2:
        relay.flash(uri, '0000ff', count=-1)
    elif step == 3:
        relay.rainbow(uri, rotations=-1)
    elif step == 4:
        relay.rotate(uri, 'ffff00', rotations=-1)
    elif step == 5:
        relay.breathe(uri, '00ffff', count=-1)
    elif step == 6:
        relay.vibrate(uri, [0, 600, 100, 600])
        relay.switch_all_led_off(uri)
    else:
        relay.end_interaction(uri)


@LIGHTS.on_interaction_ended
def _lights_ended(relay, uri, reason):
    relay.terminate()


def test_the_led_ring_shows_each_effect_and_the_device_vibrates(open_page):
    with Simulator(LIGHTS) as sim:
        page = sim.serve_ui(title='lights')
        tab = open_page(page.url)
        run = sim.trigger('Alice')
        wait_leds(tab, 'Alice', 'ff0000')
        expect(card(tab, 'Alice').locator('[data-role=led]')).to_have_text('LED static · #ff0000')
        press(tab, 'Alice', 'single')
        wait_leds(tab, 'Alice', ['off', 'off', '00ff00'] + ['off'] * 9)
        press(tab, 'Alice', 'single')
        expect(card(tab, 'Alice')).to_have_attribute('data-effect', 'flash')
        wait_leds(tab, 'Alice', '0000ff')   # flashing: on...
        wait_leds(tab, 'Alice', 'off')      # ...and off
        press(tab, 'Alice', 'single')
        expect(card(tab, 'Alice')).to_have_attribute('data-effect', 'rainbow')
        assert len(set(leds(tab, 'Alice'))) == 12  # twelve hues round the ring
        press(tab, 'Alice', 'single')
        expect(card(tab, 'Alice')).to_have_attribute('data-effect', 'rotate')
        heads = set()
        deadline = time.monotonic() + 5
        while len(heads) < 3 and time.monotonic() < deadline:  # the lit LED goes round
            lit = [i for i, color in enumerate(leds(tab, 'Alice')) if color == 'ffff00']
            heads.update(lit)
        assert len(heads) >= 3, heads
        press(tab, 'Alice', 'single')
        expect(card(tab, 'Alice')).to_have_attribute('data-effect', 'breathe')
        wait_leds(tab, 'Alice', '00ffff')
        press(tab, 'Alice', 'single')
        expect(card(tab, 'Alice').get_by_text('vibrating')).to_be_visible()
        expect(card(tab, 'Alice').locator('.face.buzz')).to_have_count(1)
        wait_leds(tab, 'Alice', 'off')
        expect(card(tab, 'Alice').get_by_text('vibrating')).to_be_hidden()
        press(tab, 'Alice', 'single')
        run.wait_until_done(5)
        assert [change.effect for change in sim.devices['Alice'].leds] == [
            'static', 'static', 'flash', 'rainbow', 'rotate', 'breathe', 'off']


def test_sound_speaks_what_the_device_hears_and_speech_recognition_answers(open_page):
    """speechSynthesis and SpeechRecognition are the browser's; here they are
    recording stand-ins, so the test sees what the page asks of them."""
    init = '''
        window.__spoken = [];
        window.speechSynthesis.speak = (u) => window.__spoken.push(u.text);
        window.SpeechRecognition = window.webkitSpeechRecognition = class {
          start() {
            setTimeout(() => {
              this.onresult({results: [[{transcript: 'Dana'}]]});
              this.onend();
            }, 50);
          }
        };
    '''
    wf = relaysync.Workflow('asks')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'ask')

    @wf.on_interaction_started
    def asked(relay, uri, reason):
        name = relay.listen(uri, timeout=60)
        relay.say_and_wait(uri, f'nice to meet you {name}')
        relay.terminate()

    with Simulator(wf) as sim:
        page = sim.serve_ui()
        tab = open_page(page.url, init_script=init)
        sound = tab.get_by_role('button', name='Sound off')
        sound.click()
        expect(tab.locator('#sound')).to_have_attribute('aria-pressed', 'true')
        run = sim.trigger('Alice')
        expect(card(tab, 'Alice')).to_have_class(re.compile('is-listening'))
        tab.get_by_role('button', name='Alice: speak into the microphone').click()
        heard(tab, 'Alice', 'nice to meet you Dana')
        run.wait_until_done(5)
        tab.wait_for_function('() => window.__spoken.length > 0')
        assert tab.evaluate('window.__spoken') == ['nice to meet you Dana']


CALLS = relaysync.Workflow('calls')


@CALLS.on_start
def _calls_start(relay, trigger):
    relay.place_call(relay.get_source_uri_from_trigger(trigger), relaysync.device_name('Bob'))


@CALLS.on_call_disconnected
def _disconnected(relay, call_id, direction, *fields):
    if direction == 'outbound':  # the caller's event (the callee gets one too)
        relay.place_call(relaysync.device_name('Alice'), relaysync.device_name('Bob'))


@CALLS.on_call_failed
def _failed(relay, call_id, direction, *fields):
    if direction == 'outbound':
        relay.terminate()


def test_calls_are_answered_hung_up_and_declined(open_page):
    with Simulator(CALLS) as sim:
        sim.device('Alice')
        sim.device('Bob')
        page = sim.serve_ui()
        tab = open_page(page.url)
        run = sim.trigger('Alice')
        bob = card(tab, 'Bob')
        expect(bob.locator('.call.ringing')).to_contain_text('Incoming call from Alice')
        expect(card(tab, 'Alice').locator('.call.ringing')).to_contain_text('Calling Bob…')
        tab.get_by_role('button', name='Bob: answer the call').click()
        expect(bob.locator('.call.connected')).to_contain_text('On a call with Alice')
        tab.get_by_role('button', name='Alice: hang up the call').click()
        expect(bob.locator('.call.ringing')).to_contain_text('Incoming call from Alice')
        tab.get_by_role('button', name='Bob: decline the call').click()
        run.wait_until_done(5)
        assert [event['reason'] for event in run.events_of('call_failed')] == ['declined'] * 2
        assert [event['reason'] for event in run.events_of('call_disconnected')] == \
            ['hangup'] * 2
        expect(bob.locator('.call')).to_have_count(0)


# ----------------------------------------------------------- the account
def test_trigger_variables_and_the_wire_view(open_page):
    wf = relaysync.Workflow('greets')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'greet')

    @wf.on_interaction_started
    def greet(relay, uri, reason):
        relay.say_and_wait(uri, relay.get_var('greeting', 'hi'))
        relay.end_interaction(uri)

    @wf.on_interaction_ended
    def ended(relay, uri, reason):
        relay.terminate()

    with Simulator(wf) as sim:
        sim.device('Alice')
        sim.device('Bob')
        page = sim.serve_ui()
        tab = open_page(page.url)
        tab.locator('#var-name').fill('greeting')
        tab.locator('#var-value').fill('good morning')
        tab.get_by_role('button', name='Set variable').click()
        expect(tab.locator('#vars')).to_contain_text('greeting = good morning')
        tab.get_by_label('From device').select_option('Bob')
        tab.get_by_label('Trigger', exact=True).select_option('phrase')
        expect(tab.get_by_label('Trigger args (JSON)')).to_have_value(
            '{"phrase":"hello","spillover":""}')
        tab.get_by_label('Trigger args (JSON)').fill('{"phrase": "wake up"}')
        tab.get_by_role('button', name='Trigger', exact=True).click()
        heard(tab, 'Bob', 'good morning')
        sim.runs[-1].wait_until_done(5)
        assert sim.runs[-1].trigger['args']['phrase'] == 'wake up'
        tab.get_by_label('Trigger args (JSON)').fill('{not json')
        tab.get_by_role('button', name='Trigger', exact=True).click()
        expect(tab.locator('#notice')).to_contain_text('trigger args: not JSON')
        tab.get_by_label('wire messages').check()
        wire = tab.locator('#transcript li.wire', has_text='"_type":"wf_api_say_request"')
        expect(wire.first).to_be_visible()
        expect(wire.first.locator('.tag')).to_have_text('from workflow')
        tab.get_by_label('requests', exact=True).uncheck()
        expect(tab.locator('#transcript li.entry.side-workflow').first).to_be_hidden()
        tab.get_by_role('button', name='remove device Bob').click()
        expect(card(tab, 'Bob')).to_have_count(0)


def test_errors_stand_out(open_page):
    wf = relaysync.Workflow('breaks')

    @wf.on_start
    def start(relay, trigger):
        try:
            relay.say(relaysync.device_name('Nobody'), 'hello?')
        except relaysync.ErrorResponse:
            pass
        raise ValueError('this handler is broken')

    with Simulator(wf) as sim:
        page = sim.serve_ui()
        tab = open_page(page.url)
        sim.trigger('Alice')
        refused = tab.locator('#transcript li.error', has_text='say: unknown device')
        expect(refused).to_be_visible()
        expect(refused.locator('.tag')).to_have_text('request ✖')
        normal = tab.locator('#transcript li.entry', has_text='triggered the workflow')
        assert refused.evaluate('e => getComputedStyle(e).backgroundColor') != \
            normal.evaluate('e => getComputedStyle(e).backgroundColor')
        crash = tab.locator('#transcript li.error.kind-crash')
        expect(crash).to_contain_text('ValueError: this handler is broken')
        tab.locator('.run .crash summary').click()
        expect(tab.locator('.run .crash pre')).to_contain_text('Traceback (most recent call')
        expect(tab.locator('.run .errors')).to_contain_text('refused: say: unknown device')


def test_the_page_reconnects_when_the_simulator_restarts(open_page):
    first = Simulator(LIGHTS)
    page = first.serve_ui()
    first.device('Alice')
    tab = open_page(page.url)
    expect(card(tab, 'Alice')).to_be_visible()
    first.close()
    expect(tab.locator('#status')).to_have_text(re.compile('The simulator stopped|Reconnecting'))
    expect(tab.get_by_role('button', name='Alice: press action single')).to_be_visible()
    with Simulator(LIGHTS) as second:
        second.device('Bob')
        second.serve_ui(page.port)
        expect(tab.locator('#status')).to_have_text('Connected', timeout=15_000)
        expect(card(tab, 'Bob')).to_be_visible()
        expect(card(tab, 'Alice')).to_have_count(0)
        run = second.trigger('Bob')
        wait_leds(tab, 'Bob', 'ff0000')
        second.stop_run(run)


def test_every_control_is_labelled_and_the_channel_button_takes_a_long_press(open_page):
    with Simulator(LIGHTS, route_all_buttons=True) as sim:
        sim.device('Alice')
        page = sim.serve_ui()
        tab = open_page(page.url)
        run = sim.trigger('Alice')
        wait_leds(tab, 'Alice', 'ff0000')
        unnamed = tab.evaluate('''() => Array.from(document.querySelectorAll(
            'button, input, select, textarea')).filter(e => {
              if (e.closest('[hidden]')) return false;
              const label = e.getAttribute('aria-label') || e.textContent.trim() ||
                (e.id && document.querySelector(`label[for="${e.id}"]`)?.textContent.trim());
              return !label;
            }).map(e => e.outerHTML)''')
        assert unnamed == []
        knob = tab.get_by_role('button', name='Alice: channel button', exact=False)
        knob.focus()
        tab.keyboard.down(' ')
        tab.wait_for_timeout(900)   # held: a long press
        tab.keyboard.up(' ')
        transcript(tab, 'pressed channel long')
        assert sim.wait_for(lambda: ('channel', 'long') in sim.devices['Alice'].pressed)
        assert run.events_of('button')[-1]['taps'] == 'long'


# ------------------------------------------------------------ screenshot
HELP = relaysync.Workflow('help desk')


@HELP.on_start
def _help_start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'help desk')


@HELP.on_interaction_started
def _help_started(relay, uri, reason):
    relay.rotate(uri, '00c853', rotations=-1)
    relay.alert(relaysync.group_name('responders'), relaysync.device_name('Alice'), 'help',
                'Alice needs help at the loading dock', relay.push_options(priority='high'))
    relay.flash(relaysync.device_name('Bob'), 'ff1744', count=-1)
    relay.say_and_wait(uri, 'Help is on the way. What happened?')
    relay.listen(uri, timeout=600)


def _png_with_key(png, key):
    """The PNG with a tEXt chunk ``relaysync-key`` holding ``key``, after IHDR."""
    data = b'relaysync-key\x00' + key.encode()
    chunk = struct.pack('>I', len(data)) + b'tEXt' + data + \
        struct.pack('>I', zlib.crc32(b'tEXt' + data) & 0xffffffff)
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


def _key_of(png):
    marker = b'tEXtrelaysync-key\x00'
    at = png.find(marker)
    if at < 0:
        return None
    length = struct.unpack('>I', png[at - 4:at])[0]
    return png[at + len(marker):at + 4 + length].decode()


def test_screenshot_for_the_readme(open_page):
    """docs/images/simulator-page.png: two devices mid-workflow.  Rewritten when
    what the page shows (its files, or its content with numbers left out) changed."""
    with Simulator(HELP) as sim:
        sim.device('Alice', type='relay2', battery=82)
        sim.device('Bob', battery=64)
        sim.group('responders', ['Bob'])
        page = sim.serve_ui(title='help desk workflow')
        tab = open_page(page.url + '?still', width=1360, height=1000)
        sim.trigger('Alice')
        expect(card(tab, 'Alice')).to_have_class(re.compile('is-listening'))
        expect(card(tab, 'Bob').locator('.notification.alert.active')).to_be_visible()
        wait_leds(tab, 'Bob', 'ff1744')
        tab.evaluate('document.activeElement.blur()')
        shown = tab.evaluate("document.querySelector('main').outerHTML")
        shown = re.sub(r'\d+', '#', re.sub(r'\b[0-9a-f]{16,}\b', 'ID', shown))  # ids, times
        files = b''.join(path.read_bytes() for path in sorted(STATIC.iterdir()))
        key = hashlib.sha256(files + shown.encode()).hexdigest()
        png = tab.screenshot(animations='disabled', caret='hide')
        assert png.startswith(b'\x89PNG') and len(png) > 20_000
    old = SCREENSHOT.read_bytes() if SCREENSHOT.exists() else b''
    if _key_of(old) != key:
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(_png_with_key(png, key))
    assert _key_of(SCREENSHOT.read_bytes()) == key
    readme = (ROOT / 'README.md').read_text()
    guide = (ROOT / 'docs' / 'testing.md').read_text()
    assert '/docs/images/simulator-page.png)' in readme   # an absolute link (index page)
    assert '](images/simulator-page.png)' in guide
