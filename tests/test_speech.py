"""Composite actions: say_and_wait / play_and_wait (response, then the prompt
``stopped`` event), listen (response, then the speech event) and terminate (no
response at all), over real sockets."""

import queue
import threading

import pytest

import relaysync
from relaysync import ConnectionClosed, ErrorResponse, RelayTimeout, WorkflowException
from conftest import wait_until
from peer import INTERACTION as IT

NOT_DONE_WINDOW = 0.3  # how long a call must keep waiting after a non-matching event


def char_codes(text):
    return [ord(c) for c in text]


# ---------------------------------------------------------- say/play_and_wait
def test_say_and_wait_completes_on_the_stopped_prompt_for_its_request_id(runner):
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id=request['_id'])
        job.peer.prompt(request['_id'], 'started')
        job.peer.prompt('some-other-playback', 'stopped')
        job.peer.event('wf_api_prompt_event', type='stopped', source_uri=IT)  # no id
        assert not job._done.wait(NOT_DONE_WINDOW), 'returned before its stopped prompt'
        job.peer.prompt(request['_id'], 'stopped')
        assert job.result() == request['_id']


def test_say_and_wait_also_matches_the_response_id(runner):
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id='playback-77')
        job.peer.prompt('playback-76', 'stopped')
        assert not job._done.wait(NOT_DONE_WINDOW)
        job.peer.prompt('playback-77', 'stopped')
        assert job.result() == 'playback-77'


def test_play_and_wait_matches_the_response_id(runner):
    with runner.start(lambda r: r.play_and_wait(IT, 'relay-static://emergency')) as job:
        request = job.peer.expect('wf_api_play_request')
        job.peer.respond(request, id='pb-9')
        job.peer.prompt('pb-9', 'stopped')
        assert job.result() == 'pb-9'


def test_play_and_wait_waits_for_the_stopped_prompt(runner):
    with runner.start(lambda r: r.play_and_wait(IT, 'x.wav')) as job:
        request = job.peer.expect('wf_api_play_request')
        job.peer.respond(request, id=request['_id'])
        assert not job._done.wait(NOT_DONE_WINDOW)
        job.peer.prompt(request['_id'], 'stopped')
        assert job.result() == request['_id']


def test_stopped_prompt_before_the_response(runner):
    """The event may overtake the response; the call still needs both."""
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.prompt(request['_id'], 'stopped')
        assert not job._done.wait(NOT_DONE_WINDOW), 'returned without a response'
        job.peer.respond(request, id=request['_id'])
        assert job.result() == request['_id']


def test_prompt_id_as_char_codes(runner):
    """Relay servers that send strings as code arrays still match."""
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.send({'_id': char_codes(request['_id']), '_type': 'wf_api_say_response',
                       'id': char_codes(request['_id'])})
        job.peer.send({'_type': 'wf_api_prompt_event', 'type': 'stopped',
                       'id': char_codes(request['_id']), 'source_uri': char_codes(IT)})
        assert job.result() == request['_id']


def test_failed_prompt_raises_playback_failed(runner):
    """A precise class, still the WorkflowException relay-py raised, with .message."""
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id=request['_id'])
        job.peer.prompt(request['_id'], 'failed')
        exc = job.exception()
    assert type(exc) is relaysync.PlaybackFailed and isinstance(exc, WorkflowException)
    assert 'failed' in exc.message and 'wf_api_say_request' in str(exc)
    assert exc.request_type == 'wf_api_say_request' and exc.request_id == request['_id']


def test_say_and_wait_error_response(runner):
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.error(request, 'invalid target')
        exc = job.exception()
    assert isinstance(exc, ErrorResponse) and str(exc) == 'invalid target'


def test_prompt_timeout_names_what_was_missing(runner):
    def fn(relay):
        relay.timeouts.prompt = 0.5
        return relay.say_and_wait(IT, 'hello')

    with runner.start(fn) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id=request['_id'])
        exc = job.exception()
    assert isinstance(exc, RelayTimeout)
    assert exc.waiting_for == 'prompt stopped event'
    assert exc.request_type == 'wf_api_say_request' and exc.request_id == request['_id']
    assert 'wf_api_say_request' in str(exc)


def test_started_prompt_restarts_the_prompt_clock(runner):
    def fn(relay):
        relay.timeouts.prompt = 0.5
        return relay.say_and_wait(IT, 'a long sentence')

    with runner.start(fn) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id=request['_id'])
        for _ in range(4):  # 1.2 s in all, well past the 0.5 s prompt timeout
            assert not job._done.wait(0.3)
            job.peer.prompt(request['_id'], 'started')
        job.peer.prompt(request['_id'], 'stopped')
        assert job.result() == request['_id']


def test_prompt_events_also_reach_on_prompt(runner):
    seen = queue.Queue()
    runner.workflow.on_prompt(lambda relay, source_uri, ptype: seen.put((source_uri, ptype)))
    with runner.start(lambda r: r.say_and_wait(IT, 'hello')) as job:
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id=request['_id'])
        job.peer.prompt(request['_id'], 'started')
        job.peer.prompt(request['_id'], 'stopped')
        job.result()
        assert seen.get(timeout=5) == (IT, 'started')
        assert seen.get(timeout=5) == (IT, 'stopped')


# ----------------------------------------------------------------- listen
def test_listen_completes_on_the_speech_event_for_its_request(runner):
    heard = queue.Queue()
    runner.workflow.on_speech(lambda relay, text, audio, lang, request_id, source_uri:
                              heard.put((text, request_id)))
    with runner.start(lambda r: r.listen(IT, ['yes', 'no'])) as job:
        request = job.peer.expect('wf_api_listen_request')
        job.peer.respond(request)
        job.peer.event('wf_api_speech_event', request_id='another-listen', text='no',
                       lang='en-US', source_uri=IT)
        assert not job._done.wait(NOT_DONE_WINDOW), 'completed by another request'
        job.peer.event('wf_api_speech_event', request_id=request['_id'], text='yes',
                       lang='en-US', source_uri=IT)
        assert job.result() == 'yes'
        # Both speech events are also passed to on_speech, in arrival order.
        assert heard.get(timeout=5) == ('no', 'another-listen')
        assert heard.get(timeout=5) == ('yes', request['_id'])


def test_listen_speech_before_the_response(runner):
    with runner.start(lambda r: r.listen(IT)) as job:
        request = job.peer.expect('wf_api_listen_request')
        job.peer.event('wf_api_speech_event', request_id=request['_id'], text='early')
        assert not job._done.wait(NOT_DONE_WINDOW)
        job.peer.respond(request)
        assert job.result() == 'early'


def test_listen_transcribe_false_returns_the_audio(runner):
    with runner.start(lambda r: r.listen(IT, transcribe=False)) as job:
        request = job.peer.expect('wf_api_listen_request')
        assert request['transcribe'] is False
        job.peer.respond(request)
        job.peer.event('wf_api_speech_event', request_id=request['_id'], text='not this',
                       audio='UklGRiQAAABXQVZF')
        assert job.result() == 'UklGRiQAAABXQVZF'


def test_listen_without_text_returns_none(runner):
    with runner.start(lambda r: r.listen(IT)) as job:
        request = job.peer.expect('wf_api_listen_request')
        job.peer.respond(request)
        job.peer.event('wf_api_speech_event', request_id=request['_id'])
        assert job.result() is None


def test_listen_request_id_as_char_codes(runner):
    with runner.start(lambda r: r.listen(IT)) as job:
        request = job.peer.expect('wf_api_listen_request')
        job.peer.respond(request)
        job.peer.send({'_type': 'wf_api_speech_event', 'request_id': char_codes(request['_id']),
                       'text': char_codes('hello there')})
        assert job.result() == 'hello there'


def test_listen_speech_timeout(runner):
    def fn(relay):
        relay.timeouts.listen_margin = 0.3
        return relay.listen(IT, timeout=0.2)

    with runner.start(fn) as job:
        request = job.peer.expect('wf_api_listen_request')
        assert request['timeout'] == 0.2
        job.peer.respond(request)
        exc = job.exception()
    assert isinstance(exc, RelayTimeout) and exc.waiting_for == 'speech event'
    assert exc.request_id == request['_id']


def test_listen_error_response(runner):
    with runner.start(lambda r: r.listen(IT)) as job:
        request = job.peer.expect('wf_api_listen_request')
        job.peer.error(request, 'device busy')
        exc = job.exception()
    assert isinstance(exc, ErrorResponse) and str(exc) == 'device busy'
    assert exc.request_type == 'wf_api_listen_request'


# -------------------------------------------------------------- terminate
def test_terminate_sends_once_and_does_not_wait(runner):
    stops = queue.Queue()
    runner.workflow.on_stop(lambda relay, reason: stops.put(reason))
    with runner.start(lambda r: (r.terminate(), 'returned')[1]) as job:
        request = job.peer.expect('wf_api_terminate_request')
        assert set(request) == {'_id', '_type'}
        assert job.result() == 'returned'  # no response was sent
        job.peer.event('wf_api_stop_event', reason='normal')
        assert stops.get(timeout=5) == 'normal'
        relay = job.relay
    # The peer has closed: terminate is a no-op, other calls raise.
    wait_until(lambda: relay.connection.is_closed)
    assert relay.terminate() is None
    with pytest.raises(ConnectionClosed):
        relay.say(IT, 'too late')


def test_terminate_then_server_closes(runner):
    """After terminate the Relay server closes; the instance ends normally."""
    with runner.start(lambda r: r.terminate()) as job:
        job.peer.expect('wf_api_terminate_request')
        job.result()
        job.peer.event('wf_api_stop_event', reason='normal')
    conn = job.relay.connection
    wait_until(lambda: conn.is_closed)
    assert conn.close_code == 1000
    wait_until(lambda: runner.server.total_connections() == 0)


def test_concurrent_say_and_wait_each_get_their_own_prompt(runner):
    """Two threads of one instance wait at once; crossing prompts complete each."""
    def fn(relay):
        results = {}

        def speak(text):
            results[text] = relay.say_and_wait(IT, text)

        threads = [threading.Thread(target=speak, args=(t,), daemon=True) for t in ('a', 'b')]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        return results

    with runner.start(fn) as job:
        first = job.peer.expect('wf_api_say_request')
        second = job.peer.expect('wf_api_say_request')
        by_text = {first['text']: first, second['text']: second}
        assert set(by_text) == {'a', 'b'}
        job.peer.respond(by_text['b'], id='pb-b')
        job.peer.respond(by_text['a'], id='pb-a')
        job.peer.prompt('pb-b', 'stopped')
        job.peer.prompt('pb-a', 'stopped')
        assert job.result() == {'a': 'pb-a', 'b': 'pb-b'}
