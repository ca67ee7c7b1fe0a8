"""Registration and dispatch beyond the event table, over real sockets:

* ``Workflow.on(name)`` receives any ``wf_api_<name>_event``, also types
  relaysync does not know; a typed handler takes precedence;
* ``Workflow.on_error`` is called with the exception a handler raised, before
  the server's error listeners;
* mistakes are caught at decoration time (filter values, handler signatures);
* a handler error is logged under the decorator actually used; an event with
  no handler is logged at INFO once per instance;
* the string enums work wherever strings do.
"""

import json
import logging
import queue
import threading

import pytest

import relaysync
from relaysync.enums import Button, Language, Taps
from conftest import wait_until
from peer import DEVICE, INTERACTION


def collect(workflow, decorator_call):
    """Register a handler that puts its arguments on a queue; return the queue."""
    calls = queue.Queue()

    def handler(relay, *args):
        calls.put(args)
    decorator_call(workflow)(handler)
    return calls


# ----------------------------------------------------------------- on(name)
def test_on_receives_an_event_type_relaysync_does_not_know(serve):
    wf = relaysync.Workflow('any')
    calls = collect(wf, lambda w: w.on('door_opened'))
    with serve(wf).peer() as peer:
        peer.event('wf_api_door_opened_event', door='front', source_uri=DEVICE, _extra='x')
        assert calls.get(timeout=5) == ({'door': 'front', 'source_uri': DEVICE},)


def test_on_accepts_the_full_type_and_works_as_a_plain_call(serve):
    wf = relaysync.Workflow('any')
    calls = queue.Queue()

    def handler(relay, event):
        calls.put(event)
    assert wf.on('wf_api_geofence_event', handler) is handler
    with serve(wf).peer() as peer:
        peer.event('wf_api_geofence_event', geofence_label='dock', transition='exit')
        assert calls.get(timeout=5) == {'geofence_label': 'dock', 'transition': 'exit'}


def test_a_typed_handler_takes_precedence_over_on(serve):
    wf = relaysync.Workflow('both')
    typed = collect(wf, lambda w: w.on_button(button='action'))
    generic = collect(wf, lambda w: w.on('button'))
    with serve(wf).peer() as peer:
        peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
        peer.event('wf_api_button_event', button='channel', taps='double', source_uri=DEVICE)
        assert typed.get(timeout=5) == ('action', 'single', DEVICE)
        assert generic.get(timeout=5) == ({'button': 'channel', 'taps': 'double',
                                           'source_uri': DEVICE},)


@pytest.mark.parametrize('bad', ['', 'two words', 'wf_api_', 'wf_api_x_request', 'ünïcode',
                                 'a-b', 5])
def test_on_refuses_a_name_that_is_not_an_event_name(bad):
    with pytest.raises(ValueError):
        relaysync.Workflow('x').on(bad)


# ----------------------------------------------------------------- on_error
def test_on_error_gets_the_exception_then_the_server_listeners_run(serve, caplog):
    caplog.set_level(logging.ERROR, logger='relaysync.connection')
    wf = relaysync.Workflow('errors')
    order = []
    done = threading.Event()

    @wf.on_timer_fired
    def fired(relay, name):
        raise LookupError(name)

    @wf.on_error
    def on_error(relay, error):
        order.append(('workflow', repr(error), threading.current_thread().name))

    served = serve(wf)

    def listener(conn, name, error):
        order.append(('server', name, repr(error)))
        done.set()
    served.server.add_error_listener(listener)
    with served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='boom')
        assert done.wait(5)
    assert order[0][:2] == ('workflow', "LookupError('boom')")
    assert order[0][2].startswith('relaysync-worker-')
    assert order[1] == ('server', 'timer_fired', "LookupError('boom')")
    assert wf.error_handler is on_error


def test_an_error_handler_that_raises_is_logged_and_nothing_else_breaks(serve, caplog):
    caplog.set_level(logging.ERROR, logger='relaysync.connection')
    wf = relaysync.Workflow('errors')
    after = threading.Event()

    @wf.on_timer_fired
    def fired(relay, name):
        if name == 'boom':
            raise LookupError(name)
        after.set()

    @wf.on_error
    def on_error(relay, error):
        raise RuntimeError('the error handler failed too')

    with serve(wf).peer() as peer:
        peer.event('wf_api_timer_fired_event', name='boom')
        peer.event('wf_api_timer_fired_event', name='next')
        assert after.wait(5)
    messages = [r.getMessage() for r in caplog.records]
    assert any('on_timer_fired handler raised' in m for m in messages)
    assert any('on_error handler raised while handling the error of on_timer_fired' in m
               for m in messages)


def test_on_error_is_not_called_when_the_connection_closed(serve):
    wf = relaysync.Workflow('closing')
    errors = []
    started = threading.Event()
    ended = threading.Event()

    @wf.on_timer
    def timer(relay):
        started.set()
        try:
            relay.get_var('x')
        finally:
            ended.set()

    wf.on_error(lambda relay, error: errors.append(error))
    with serve(wf).peer() as peer:
        peer.event('wf_api_timer_event')
        peer.expect('wf_api_get_var_request')
        peer.close()
    assert ended.wait(5)
    assert errors == []


# ------------------------------------------------------ decoration-time checks
@pytest.mark.parametrize('kwargs,message', [
    ({'button': 'actoin'}, "button must be one of 'action', 'channel', '*', got 'actoin'"),
    ({'taps': 'quadruple'}, "taps must be one of 'single', 'double', 'triple', 'long', '*'"),
    ({'button': None}, 'button must be a non-empty string'),
])
def test_button_filters_are_checked_at_decoration(kwargs, message):
    wf = relaysync.Workflow('x')
    with pytest.raises((ValueError, TypeError), match=message.replace('*', r'\*')):
        wf.on_button(**kwargs)
    assert wf.handlers() == {}


@pytest.mark.parametrize('kwargs', [{'name': ''}, {'event': None}, {'name': ['a']}])
def test_notification_filters_are_checked_at_decoration(kwargs):
    with pytest.raises(TypeError, match='must be a non-empty string'):
        relaysync.Workflow('x').on_notification(**kwargs)


def test_enum_filters_match_plain_strings(serve):
    wf = relaysync.Workflow('enums')
    calls = collect(wf, lambda w: w.on_button(button=Button.ACTION, taps=Taps.DOUBLE))
    assert list(wf.handlers()['button']) == [('action', 'double')]
    assert type(list(wf.handlers()['button'])[0][0]) is str
    with serve(wf).peer() as peer:
        peer.event('wf_api_button_event', button='action', taps='double', source_uri=DEVICE)
        assert calls.get(timeout=5) == ('action', 'double', DEVICE)


def test_a_handler_that_cannot_take_the_arguments_is_refused_at_decoration():
    wf = relaysync.Workflow('x')

    def old_style(relay, button, taps):      # relay-py 1.x signature
        pass

    with pytest.raises(TypeError) as info:
        wf.on_button(old_style)
    text = str(info.value)
    assert text.startswith('on_button: ') and 'old_style(relay, button, taps)' in text
    assert 'handler(relay, button, taps, source_uri)' in text
    with pytest.raises(TypeError, match=r'it takes 1 positional argument: the event passes '
                                        r'2, as handler\(relay, trigger\)'):
        wf.on_start(lambda relay: None)
    with pytest.raises(TypeError, match=r'handler\(relay, error\)'):
        wf.on_error(lambda relay: None)
    with pytest.raises(TypeError, match=r'handler\(relay, event\)'):
        wf.on('position', lambda: None)
    with pytest.raises(TypeError, match="it needs the keyword argument 'must'"):
        wf.on_timer(lambda relay, *, must: None)
    assert wf.handlers() == {}


def test_flexible_signatures_and_callables_are_accepted():
    wf = relaysync.Workflow('x')
    wf.on_button(lambda relay, *args: None)
    wf.on_stop(lambda relay, reason, extra=None: None)
    wf.on_timer(print)                         # a builtin: nothing to check
    wf.on_start(lambda *args, **kwargs: None)
    assert sorted(wf.handlers()) == ['button', 'start', 'stop', 'timer']


def test_generator_functions_are_refused():
    wf = relaysync.Workflow('x')

    def gen(relay, trigger):
        yield

    async def agen(relay, trigger):
        yield

    for func in (gen, agen):
        with pytest.raises(TypeError, match='generator function'):
            wf.on_start(func)


# -------------------------------------------------------------------- logging
def test_a_handler_error_is_logged_under_the_decorator_used(serve, caplog):
    caplog.set_level(logging.ERROR, logger='relaysync.connection')
    wf = relaysync.Workflow('labels')
    heard = []
    done = threading.Event()

    @wf.on_interaction_started
    def started(relay, interaction_uri, reason):
        raise ValueError('started failed')

    @wf.on('door_opened')
    def door(relay, event):
        raise ValueError('door failed')

    served = serve(wf)

    def listener(conn, name, error):
        heard.append(name)
        if len(heard) == 2:
            done.set()
    served.server.add_error_listener(listener)
    with served.peer() as peer:
        peer.event('wf_api_interaction_lifecycle_event', type='started', source_uri=INTERACTION)
        peer.event('wf_api_door_opened_event')
        assert done.wait(5)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith('[c1] on_interaction_started handler raised') for m in messages)
    assert any(m.startswith("[c1] on('door_opened') handler raised") for m in messages)
    assert not any('on_interaction_lifecycle' in m for m in messages)
    assert heard == ['interaction_started', "on('door_opened')"]


def test_an_event_with_no_handler_is_logged_at_info_once_per_instance(serve, caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync.connection')
    wf = relaysync.Workflow('partial')
    calls = collect(wf, lambda w: w.on_timer_fired)
    served = serve(wf)
    for _ in range(2):   # two instances: each logs once
        with served.peer() as peer:
            peer.start()                                    # no on_start
            peer.start()
            peer.event('wf_api_made_up_event', x=1)         # unknown and unhandled
            peer.event('wf_api_made_up_event', x=2)
            peer.event('wf_api_stop_event', reason='normal')  # usually unhandled: DEBUG
            peer.event('wf_api_timer_fired_event', name='sentinel')
            assert calls.get(timeout=5) == ('sentinel',)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO
            and 'no handler' in r.getMessage()]
    assert info == [
        "[c1] no handler for 'wf_api_start_event'; register one with @wf.on_start "
        '(logged once per instance)',
        "[c1] no handler for 'wf_api_made_up_event'; register one with @wf.on('made_up') "
        '(logged once per instance)',
        "[c2] no handler for 'wf_api_start_event'; register one with @wf.on_start "
        '(logged once per instance)',
        "[c2] no handler for 'wf_api_made_up_event'; register one with @wf.on('made_up') "
        '(logged once per instance)']
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG
             and 'no handler' in r.getMessage()]
    assert "[c1] no handler for 'wf_api_stop_event'" in debug
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_unmatched_filter_is_info_once_and_an_unmatched_lifecycle_type_debug(serve,
                                                                                caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync.connection')
    wf = relaysync.Workflow('filtered')
    collect(wf, lambda w: w.on_button(button='channel'))
    collect(wf, lambda w: w.on_interaction_ended)
    calls = collect(wf, lambda w: w.on_timer_fired)
    with serve(wf).peer() as peer:
        for _ in range(3):
            peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
        peer.event('wf_api_interaction_lifecycle_event', type='resumed', source_uri=INTERACTION)
        peer.event('wf_api_timer_fired_event', name='sentinel')
        assert calls.get(timeout=5) == ('sentinel',)
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert loud == ["[c1] no on_button handler matches button='action', taps='single' "
                    "(its filters differ; logged once per instance)"]


# ---------------------------------------------------------------------- enums
def test_enums_are_sent_as_their_plain_values(runner):
    def handler(relay):
        relay.say(DEVICE, 'hola', Language.SPANISH)
        relay.led_action(DEVICE, relaysync.LedEffect.BREATHE)
        relay.set_timer('t', relaysync.TimerType.INTERVAL, 5, relaysync.TimeoutType.MINUTES)

    with runner.start(handler) as job:
        say = job.peer.expect('wf_api_say_request')
        job.peer.respond(say, id='1')
        led = job.peer.expect('wf_api_set_led_request')
        job.peer.respond(led)
        timer = job.peer.expect('wf_api_set_timer_request')
        job.peer.respond(timer)
        job.result()
    assert say['lang'] == 'es-ES' and led['effect'] == 'breathe'
    assert (timer['type'], timer['timeout_type']) == ('interval', 'mins')


def test_enums_are_strings():
    assert len(relaysync.Language) == 35
    assert relaysync.Language.POLISH == 'pl-PK' and relaysync.Language.CHINESE == 'zh'
    assert [d.value for d in relaysync.DeviceType] == ['relay', 'relay2', 'relay_app', 'roip',
                                                       'dash']
    assert relaysync.CallDirection.INBOUND == 'inbound'
    assert relaysync.IncidentStatus('cancelled') is relaysync.IncidentStatus.CANCELLED
    assert relaysync.Relay.push_options(relaysync.NotificationPriority.CRITICAL,
                                        sound=relaysync.NotificationSound.SOS) == {
        'priority': 'critical', 'sound': 'sos'}
    assert json.dumps({relaysync.Taps.LONG: relaysync.Button.CHANNEL}) == '{"long": "channel"}'
    assert f'{relaysync.SubscribableEvent.NFC_TAP}' == str(relaysync.SubscribableEvent.NFC_TAP) \
        == 'nfc_tap'
    assert relaysync.TAPS_DOUBLE is relaysync.Taps.DOUBLE


# ------------------------------------------------------------ hostile types
@pytest.mark.parametrize('wire_type', ['wf_api_button_event\n', 'wf_api_start_event\n',
                                       'wf_api_interaction_started_event',
                                       'wf_api_bütton_event'])
def test_a_malformed_or_unknown_type_reaches_no_typed_handler(serve, caplog, wire_type):
    wf = relaysync.Workflow('typed')
    typed = collect(wf, lambda w: w.on_button)
    started = collect(wf, lambda w: w.on_start)
    lifecycle = collect(wf, lambda w: w.on_interaction_started)
    sentinel = collect(wf, lambda w: w.on_timer_fired)
    served = serve(wf)
    with served.peer() as peer:
        peer.event(wire_type, button='action', taps='single', source_uri=DEVICE)
        peer.event('wf_api_timer_fired_event', name='after')
        assert sentinel.get(timeout=5) == ('after',)
        assert peer.connected
    assert typed.empty() and started.empty() and lifecycle.empty()
    assert not [r for r in caplog.records if 'internal error' in r.getMessage()]


def test_skipped_messages_warn_a_few_times_then_go_to_debug(serve, caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync.connection')
    served = serve()
    with served.peer() as peer:
        for i in range(30):
            peer.send({'_type': f'not_an_event_{i}'})
        peer.send_text('not json')
        wait_until(lambda: len([r for r in caplog.records
                                if 'skipped a message' in r.getMessage()]) == 31)
    warned = [r for r in caplog.records
              if 'skipped a message' in r.getMessage() and r.levelno == logging.WARNING]
    assert len(warned) == 10
    assert warned[-1].getMessage().endswith('are logged at DEBUG)')


def test_user_data_in_device_events_is_passed_verbatim(serve):
    wf = relaysync.Workflow('posts')
    calls = collect(wf, lambda w: w.on_http_post)
    positions = collect(wf, lambda w: w.on_position)
    with serve(wf).peer() as peer:
        peer.event('wf_api_http_post_event', payload={'readings': [72, 105]},
                   headers={'x': 'y'}, query={'ids': [7]}, source_uri=DEVICE)
        peer.event('wf_api_position_event', position_tags=[101, 102],
                   position_metadata={'floor_ids': [3, 4]}, source_uri=[117, 114, 110])
        assert calls.get(timeout=5)[:3] == ({'readings': [72, 105]}, {'x': 'y'}, {'ids': [7]})
        event = positions.get(timeout=5)
    assert [101, 102] in event and {'floor_ids': [3, 4]} in event
    assert 'urn' in event          # the quirk is still undone elsewhere


def test_peer_text_in_exceptions_cannot_forge_log_lines(serve, caplog):
    wf = relaysync.Workflow('fails')
    failed = threading.Event()

    @wf.on_start
    def start(relay, trigger):
        try:
            relay.get_var('x')
        finally:
            failed.set()

    with serve(wf).peer() as peer:
        peer.start()
        peer.error(peer.expect('wf_api_get_var_request'), 'refused\nFAKE-LOG-LINE')
        assert failed.wait(5)
        wait_until(lambda: [r for r in caplog.records if r.exc_info])
    record = [r for r in caplog.records if r.exc_info][0]
    text = logging.Formatter().format(record)
    assert 'refused\\nFAKE-LOG-LINE' in text
    assert '\nFAKE-LOG-LINE' not in text
    assert record.exc_info[1].message == 'refused\nFAKE-LOG-LINE'   # kept as sent
