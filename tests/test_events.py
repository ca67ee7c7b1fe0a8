"""Every Relay event reaches the right handler with the right positional
arguments, over real sockets; wildcard precedence for buttons and
notifications; specific lifecycle handlers; decorators return the function."""

import queue

import pytest

import relaysync
from relaysync.events import EVENTS
from peer import DEVICE, INTERACTION

CALL7 = ['call_id', 'direction', 'device_id', 'device_name', 'uri', 'onnet',
         'start_time_epoch']
CALL8 = CALL7 + ['connect_time_epoch']
CALL10 = CALL7[:6] + ['reason', 'start_time_epoch', 'connect_time_epoch', 'end_time_epoch']

#: wire _type -> (decorator, event fields passed after ``relay``, in order).
#: Written from relay-py's handler signatures (and, for the subscription events,
#: relay-js's event types, source_uri last), independently of relaysync's table.
SIGNATURES = {
    'wf_api_start_event': ('on_start', ['trigger']),
    'wf_api_stop_event': ('on_stop', ['reason']),
    'wf_api_interaction_lifecycle_event': ('on_interaction_lifecycle',
                                           ['type', 'source_uri', 'reason']),
    'wf_api_prompt_event': ('on_prompt', ['source_uri', 'type']),
    'wf_api_button_event': ('on_button', ['button', 'taps', 'source_uri']),
    'wf_api_notification_event': ('on_notification',
                                  ['event', 'name', 'notification_state', 'source_uri']),
    'wf_api_timer_event': ('on_timer', []),
    'wf_api_timer_fired_event': ('on_timer_fired', ['name']),
    'wf_api_speech_event': ('on_speech', ['text', 'audio', 'lang', 'request_id',
                                          'source_uri']),
    'wf_api_progress_event': ('on_progress', []),
    'wf_api_incident_event': ('on_incident', ['type', 'incident_id', 'reason']),
    'wf_api_play_inbox_message_event': ('on_play_inbox_message', ['action']),
    'wf_api_play_inbox_messages_event': ('on_play_inbox_message', ['action']),
    'wf_api_call_start_request_event': ('on_call_start_request', ['uri']),
    'wf_api_call_received_event': ('on_call_received', CALL7),
    'wf_api_call_ringing_event': ('on_call_ringing', CALL7),
    'wf_api_call_progressing_event': ('on_call_progressing', CALL8),
    'wf_api_call_connected_event': ('on_call_connected', CALL8),
    'wf_api_call_disconnected_event': ('on_call_disconnected', CALL10),
    'wf_api_call_failed_event': ('on_call_failed', CALL10),
    'wf_api_sms_event': ('on_sms', ['id', 'event']),
    'wf_api_resume_event': ('on_resume', ['trigger']),
    'wf_api_position_event': ('on_position', ['position_metadata', 'position_tags',
                                              'transition', 'source_uri']),
    'wf_api_geofence_event': ('on_geofence', ['geofence_label', 'transition', 'source_uri']),
    'wf_api_nfc_tap_event': ('on_nfc_tap', ['uid', 'counter', 'tag_content', 'source_uri']),
    'wf_api_http_post_event': ('on_http_post', ['payload', 'headers', 'query', 'source_uri']),
}
#: Events whose handler gets the whole event as one dict.
WHOLE = {'wf_api_audio_event': 'on_audio'}


def sample_value(field):
    if field == 'trigger':
        return {'type': 'phrase', 'args': {'source_uri': DEVICE, 'phrase': 'hello'}}
    if field == 'onnet':
        return True
    if field.endswith('_epoch'):
        return 1700000000 + len(field)
    return f'value of {field}'


class Recorder:
    """Handlers that put (label, args) on a queue."""

    def __init__(self):
        self.calls = queue.Queue()

    def handler(self, label):
        def record(relay, *args):
            assert isinstance(relay, relaysync.Relay)
            self.calls.put((label, args))
        return record

    def next(self, timeout=5):
        try:
            return self.calls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f'no handler called within {timeout} s') from None


def sentinel(peer, recorder):
    """Send a timer_fired event handled by a 'sentinel' handler and return every
    call recorded before it (handlers run in arrival order)."""
    peer.event('wf_api_timer_fired_event', name='sentinel')
    before = []
    while True:
        label, args = recorder.next()
        if label == 'sentinel':
            return before
        before.append((label, args))


def test_signature_table_covers_every_event():
    assert set(SIGNATURES) | set(WHOLE) == set(EVENTS)


@pytest.mark.parametrize('event_type', sorted(WHOLE))
def test_whole_event_handlers_get_the_fields_as_one_dict(serve, event_type):
    workflow = relaysync.Workflow('events')
    recorder = Recorder()
    getattr(workflow, WHOLE[event_type])(recorder.handler('whole'))
    with serve(workflow).peer() as peer:
        peer.event(event_type, source_uri=DEVICE, filename='beep.wav', extra={'n': ['a', 'b']})
        assert recorder.next() == ('whole', ({'source_uri': DEVICE, 'filename': 'beep.wav',
                                              'extra': {'n': ['a', 'b']}},))


@pytest.mark.parametrize('event_type', sorted(SIGNATURES))
@pytest.mark.parametrize('complete', [True, False], ids=['all_fields', 'no_fields'])
def test_event_reaches_its_handler_with_positional_args(serve, event_type, complete):
    decorator, fields = SIGNATURES[event_type]
    workflow = relaysync.Workflow('events')
    recorder = Recorder()
    returned = getattr(workflow, decorator)(recorder.handler(decorator))
    assert callable(returned)
    served = serve(workflow)
    with served.peer() as peer:
        message = {f: sample_value(f) for f in fields} if complete else {}
        peer.event(event_type, **message)
        label, args = recorder.next()
    assert label == decorator
    expected = tuple(sample_value(f) for f in fields) if complete else (None,) * len(fields)
    assert args == expected


def test_unregistered_event_is_skipped_and_handlers_run_in_order(serve):
    workflow = relaysync.Workflow('events')
    recorder = Recorder()
    workflow.on_button(recorder.handler('button'))
    workflow.on_timer_fired(recorder.handler('sentinel'))
    served = serve(workflow)
    with served.peer() as peer:
        peer.event('wf_api_timer_event')                     # no on_timer registered
        peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
        peer.event('wf_api_stop_event', reason='normal')     # no on_stop registered
        peer.event('wf_api_button_event', button='channel', taps='double', source_uri=DEVICE)
        assert sentinel(peer, recorder) == [
            ('button', ('action', 'single', DEVICE)),
            ('button', ('channel', 'double', DEVICE))]


def test_extra_fields_are_ignored(serve):
    workflow = relaysync.Workflow('events')
    recorder = Recorder()
    workflow.on_stop(recorder.handler('stop'))
    with serve(workflow).peer() as peer:
        peer.event('wf_api_stop_event', reason='normal', extra={'x': 1}, more=[1, 2])
        assert recorder.next() == ('stop', ('normal',))


# ------------------------------------------------------------ precedence
def test_button_precedence_all_four_levels(serve):
    workflow = relaysync.Workflow('buttons')
    recorder = Recorder()
    workflow.on_button(button='action', taps='single')(recorder.handler('action+single'))
    workflow.on_button(button='action')(recorder.handler('action+*'))
    workflow.on_button(taps='double')(recorder.handler('*+double'))
    workflow.on_button(recorder.handler('*+*'))
    workflow.on_timer_fired(recorder.handler('sentinel'))
    with serve(workflow).peer() as peer:
        for button, taps in (('action', 'single'), ('action', 'double'), ('channel', 'double'),
                             ('channel', 'single'), ('action', 'long')):
            peer.event('wf_api_button_event', button=button, taps=taps, source_uri=DEVICE)
        assert [label for label, _ in sentinel(peer, recorder)] == [
            'action+single',  # exact match
            'action+*',       # a specific button beats specific taps
            '*+double',
            '*+*',
            'action+*']


def test_button_without_catch_all_skips_unmatched(serve):
    workflow = relaysync.Workflow('buttons')
    recorder = Recorder()
    workflow.on_button(button='channel', taps='triple')(recorder.handler('channel+triple'))
    workflow.on_timer_fired(recorder.handler('sentinel'))
    with serve(workflow).peer() as peer:
        peer.event('wf_api_button_event', button='channel', taps='double', source_uri=DEVICE)
        peer.event('wf_api_button_event', button='channel', taps='triple', source_uri=DEVICE)
        assert sentinel(peer, recorder) == [
            ('channel+triple', ('channel', 'triple', DEVICE))]


def test_notification_precedence_all_four_levels(serve):
    workflow = relaysync.Workflow('notifications')
    recorder = Recorder()
    workflow.on_notification(name='fire', event='ack_event')(recorder.handler('fire+ack'))
    workflow.on_notification(name='fire')(recorder.handler('fire+*'))
    workflow.on_notification(event='ack_event')(recorder.handler('*+ack'))
    workflow.on_notification(recorder.handler('*+*'))
    workflow.on_timer_fired(recorder.handler('sentinel'))
    with serve(workflow).peer() as peer:
        for name, event in (('fire', 'ack_event'), ('fire', 'cancelled'),
                            ('flood', 'ack_event'), ('flood', 'cancelled')):
            peer.event('wf_api_notification_event', name=name, event=event,
                       notification_state={'acknowledged': [DEVICE]}, source_uri=DEVICE)
        calls = sentinel(peer, recorder)
    assert [label for label, _ in calls] == ['fire+ack', 'fire+*', '*+ack', '*+*']
    # Arguments are event, name, notification_state, source_uri.
    assert calls[0][1] == ('ack_event', 'fire', {'acknowledged': [DEVICE]}, DEVICE)


def test_later_registration_replaces_earlier(serve):
    workflow = relaysync.Workflow('replace')
    recorder = Recorder()
    workflow.on_button(button='action')(recorder.handler('first'))
    workflow.on_button(button='action')(recorder.handler('second'))
    with serve(workflow).peer() as peer:
        peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
        assert recorder.next()[0] == 'second'


@pytest.mark.parametrize('itype', ['started', 'resumed', 'suspended', 'ended', 'failed'])
def test_specific_lifecycle_handler_takes_precedence(serve, itype):
    workflow = relaysync.Workflow('lifecycle')
    recorder = Recorder()
    workflow.on_interaction_lifecycle(recorder.handler('lifecycle'))
    getattr(workflow, f'on_interaction_{itype}')(recorder.handler(itype))
    workflow.on_timer_fired(recorder.handler('sentinel'))
    other = 'ended' if itype != 'ended' else 'started'
    with serve(workflow).peer() as peer:
        peer.event('wf_api_interaction_lifecycle_event', type=itype, source_uri=INTERACTION,
                   reason='why')
        peer.event('wf_api_interaction_lifecycle_event', type=other, source_uri=INTERACTION)
        assert sentinel(peer, recorder) == [
            (itype, (INTERACTION, 'why')),
            ('lifecycle', (other, INTERACTION, None))]


def test_specific_lifecycle_handler_alone(serve):
    workflow = relaysync.Workflow('lifecycle')
    recorder = Recorder()
    workflow.on_interaction_started(recorder.handler('started'))
    workflow.on_timer_fired(recorder.handler('sentinel'))
    with serve(workflow).peer() as peer:
        peer.event('wf_api_interaction_lifecycle_event', type='ended', source_uri=INTERACTION)
        peer.event('wf_api_interaction_lifecycle_event', type='started', source_uri=INTERACTION)
        assert sentinel(peer, recorder) == [('started', (INTERACTION, None))]


# ------------------------------------------------------------ decorators
DECORATORS = sorted({d for d, _ in SIGNATURES.values()} | {
    'on_interaction_started', 'on_interaction_resumed', 'on_interaction_suspended',
    'on_interaction_ended', 'on_interaction_failed'})


@pytest.mark.parametrize('name', DECORATORS)
def test_decorator_returns_the_function(name):
    workflow = relaysync.Workflow('decorators')

    def handler(relay, *args):
        return ('called', args)

    decorated = getattr(workflow, name)(handler)
    assert decorated is handler
    assert decorated(None, 1) == ('called', (1,))  # still usable directly
    assert workflow.handlers()  # and registered


def test_filtered_decorators_return_the_function():
    workflow = relaysync.Workflow('decorators')

    @workflow.on_button(button='action', taps='double')
    def double(relay, button, taps, source_uri):
        return 'double'

    @workflow.on_notification(name='fire', event='ack_event')
    def ack(relay, event, name, state, source_uri):
        return 'ack'

    assert double(None, 'action', 'double', DEVICE) == 'double'
    assert ack(None, 'ack_event', 'fire', None, DEVICE) == 'ack'
    handlers = workflow.handlers()
    assert handlers['button'] == {('action', 'double'): double}
    assert handlers['notification'] == {('fire', 'ack_event'): ack}


def test_non_callable_handler_is_rejected():
    workflow = relaysync.Workflow('decorators')
    with pytest.raises(TypeError):
        workflow.on_start('not a function')
    with pytest.raises(TypeError):
        workflow.on_button(button='action')('not a function')
    with pytest.raises(TypeError):  # relay-py registered the string 'action' here
        workflow.on_button('action')
    assert workflow.handlers() == {}
