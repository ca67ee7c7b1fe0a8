"""The connection engine over real sockets: error responses, timeouts, progress,
dropped connections, handler exceptions, calls from other threads, malformed
input, and many simultaneous connections."""

import logging
import queue
import threading

import pytest

import relaysync
from relaysync import (ConnectionClosed, ErrorResponse, RelayTimeout, Timeouts,
                       WorkflowException)
from conftest import wait_until
from peer import DEVICE, INTERACTION as IT

BOUND = 5.0  # every "promptly" below means well within this, far below any timeout


def worker_threads(conn_id):
    return [t for t in threading.enumerate() if t.name == f'relaysync-worker-{conn_id}']


# ---------------------------------------------------------- error responses
def test_error_response_raises_error_response(runner):
    with runner.start(lambda r: r.get_var('x')) as job:
        request = job.peer.expect('wf_api_get_var_request')
        job.peer.error(request, 'variable store unavailable')
        exc = job.exception()
    assert type(exc) is ErrorResponse
    assert isinstance(exc, WorkflowException) and isinstance(exc, relaysync.RelaysyncError)
    assert str(exc) == 'variable store unavailable' and exc.error == str(exc)
    assert exc.request_type == 'wf_api_get_var_request' and exc.request_id == request['_id']


def test_error_response_without_text(runner):
    with runner.start(lambda r: r.unset_var('x')) as job:
        request = job.peer.expect('wf_api_unset_var_request')
        job.peer.send({'_id': request['_id'], '_type': 'wf_api_error_response'})
        exc = job.exception()
    assert isinstance(exc, ErrorResponse) and 'unknown error' in str(exc)


def test_connection_keeps_working_after_an_error(runner):
    def fn(relay):
        try:
            relay.get_var('a')
        except ErrorResponse as exc:
            first = str(exc)
        return first, relay.get_var('b')

    with runner.start(fn) as job:
        job.peer.error(job.peer.expect('wf_api_get_var_request'), 'nope')
        job.peer.respond(job.peer.expect('wf_api_get_var_request'), value='fine')
        assert job.result() == ('nope', 'fine')


# ----------------------------------------------------------------- timeouts
def test_timeout_raises_relay_timeout_naming_the_request(make_runner):
    runner = make_runner(timeouts=Timeouts(request=0.5))
    with runner.start(lambda r: r.get_var('slow')) as job:
        request = job.peer.expect('wf_api_get_var_request')
        exc = job.exception()
    assert isinstance(exc, RelayTimeout)
    assert isinstance(exc, WorkflowException) and isinstance(exc, TimeoutError)
    assert exc.request_type == 'wf_api_get_var_request'
    assert exc.request_id == request['_id'] and exc.waiting_for == 'response'
    assert exc.timeout == 0.5
    assert 'wf_api_get_var_request' in str(exc) and request['_id'] in str(exc)


def test_per_instance_timeout_and_per_call_timeout(runner):
    def fn(relay):
        relay.timeouts.request = 0.3
        try:
            relay.unset_var('a')
        except RelayTimeout as exc:
            first = exc
        try:
            relay.request('get_var', {'name': 'b'}, timeout=0.2)
        except RelayTimeout as exc:
            second = exc
        return first, second

    with runner.start(fn) as job:
        job.peer.expect('wf_api_unset_var_request')
        job.peer.expect('wf_api_get_var_request')
        first, second = job.result()
    assert first.timeout == 0.3 and second.timeout == 0.2


def test_late_response_after_timeout_is_ignored(make_runner, caplog):
    runner = make_runner(timeouts=Timeouts(request=0.3))

    def fn(relay):
        try:
            relay.get_var('a')
        except RelayTimeout:
            pass
        return relay.get_var('b')

    with runner.start(fn) as job:
        late = job.peer.expect('wf_api_get_var_request')
        second = job.peer.expect('wf_api_get_var_request')  # sent after the timeout
        job.peer.respond(late, value='late')
        job.peer.respond(second, value='on time')
        assert job.result() == 'on time'


def test_server_timeouts_option_is_copied_per_instance(make_runner):
    timeouts = Timeouts(request=0.4)
    runner = make_runner(timeouts=timeouts)

    def fn(relay):
        relay.timeouts.request = 7
        return relay.timeouts.request

    with runner.start(fn) as job:
        assert job.result() == 7
    assert timeouts.request == 0.4 and runner.server.timeouts.request == 0.4


def test_timeouts_validation():
    for bad in (0, -1, 'x', None, True):
        with pytest.raises(ValueError):
            Timeouts(request=bad)


# ----------------------------------------------------------------- progress
def test_progress_extends_the_deadline(make_runner):
    runner = make_runner(timeouts=Timeouts(request=0.5))
    progress_calls = queue.Queue()
    runner.workflow.on_progress(lambda relay: progress_calls.put('unmatched'))
    with runner.start(lambda r: r.get_var('slow')) as job:
        request = job.peer.expect('wf_api_get_var_request')
        for _ in range(5):  # 1.5 s in all, three times the request timeout
            assert not job._done.wait(0.3), f'call ended early: {job._error!r}'
            job.peer.progress(request)
        job.peer.respond(request, value='done')
        # The call returns the real response, not a progress event.
        assert job.result() == 'done'
        # Progress for a pending request is not dispatched; other progress is.
        job.peer.event('wf_api_progress_event')
        assert progress_calls.get(timeout=BOUND) == 'unmatched'
        assert progress_calls.empty()


def test_progress_alone_does_not_complete_the_call(make_runner):
    runner = make_runner(timeouts=Timeouts(request=0.5))
    with runner.start(lambda r: r.get_var('slow')) as job:
        request = job.peer.expect('wf_api_get_var_request')
        job.peer.progress(request)
        exc = job.exception()
    assert isinstance(exc, RelayTimeout) and exc.request_id == request['_id']


def test_progress_extends_the_notification_timeout(make_runner):
    runner = make_runner(timeouts=Timeouts(notification=0.5))
    with runner.start(lambda r: r.broadcast(DEVICE, DEVICE, 'n', 'hi')) as job:
        request = job.peer.expect('wf_api_notification_request')
        for _ in range(3):
            assert not job._done.wait(0.3)
            job.peer.progress(request)
        job.peer.respond(request)
        assert job.result() is None


# ---------------------------------------------------- dropped connections
def _drop_during(runner, call, request_type, drop, respond_first=False):
    """Run ``call`` in a handler, drop the connection while it waits, then try
    another call; return (first exception, second exception, connection)."""
    def fn(relay):
        errors = []
        for attempt in (call, lambda r: r.get_var('after')):
            try:
                attempt(relay)
            except Exception as exc:
                errors.append(exc)
        return errors

    job = runner.start(fn)
    request = job.peer.expect(request_type)
    if respond_first:
        job.peer.respond(request, id=request['_id'])
    drop(job.peer)
    errors = job.result(BOUND)
    return errors, job.relay.connection


@pytest.mark.parametrize('how', ['close', 'reset'])
@pytest.mark.parametrize('call,request_type,respond_first', [
    (lambda r: r.say_and_wait(IT, 'hello'), 'wf_api_say_request', False),
    (lambda r: r.say_and_wait(IT, 'hello'), 'wf_api_say_request', True),
    (lambda r: r.listen(IT), 'wf_api_listen_request', False),
    (lambda r: r.listen(IT), 'wf_api_listen_request', True),
], ids=['say_and_wait', 'say_and_wait_after_response', 'listen', 'listen_after_response'])
def test_dropped_connection_fails_pending_and_later_calls(runner, how, call, request_type,
                                                          respond_first):
    drop = (lambda p: p.close(1000)) if how == 'close' else (lambda p: p.reset())
    errors, conn = _drop_during(runner, call, request_type, drop, respond_first)
    assert len(errors) == 2
    first, second = errors
    assert isinstance(first, ConnectionClosed) and isinstance(first, ConnectionError)
    assert first.request_type == request_type
    assert first.code == (1000 if how == 'close' else 1006)
    assert isinstance(second, ConnectionClosed)
    assert second.request_type == 'wf_api_get_var_request'
    # The worker thread ends, and the server forgets the connection.
    assert conn.worker is not None
    conn.worker.join(BOUND)
    assert not conn.worker.is_alive()
    wait_until(lambda: not worker_threads(conn.id), BOUND)
    wait_until(lambda: runner.server.total_connections() == 0, BOUND)


def test_call_from_another_thread_fails_when_the_connection_drops(runner):
    with runner.start(lambda r: None) as job:
        job.result()
    relay = job.relay
    wait_until(lambda: relay.connection.is_closed)
    outcome = queue.Queue()

    def call():
        try:
            relay.get_var('x')
        except Exception as exc:
            outcome.put(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(BOUND)  # the request timeout is 30 s: this only passes if it raised at once
    assert isinstance(outcome.get_nowait(), ConnectionClosed)


def test_events_queued_before_close_still_run(serve):
    workflow = relaysync.Workflow('drain')
    seen = queue.Queue()
    gate = threading.Event()

    @workflow.on_start
    def start(relay, trigger):
        gate.wait(BOUND)

    @workflow.on_button
    def button(relay, button, taps, source_uri):
        seen.put(taps)

    served = serve(workflow)
    peer = served.peer()
    peer.start()
    peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
    peer.event('wf_api_button_event', button='action', taps='double', source_uri=DEVICE)
    peer.close()
    gate.set()
    assert seen.get(timeout=BOUND) == 'single'
    assert seen.get(timeout=BOUND) == 'double'


# ------------------------------------------------------- handler exceptions
def test_handler_exception_is_logged_and_the_connection_keeps_working(serve, caplog):
    caplog.set_level(logging.ERROR, logger='relaysync.connection')
    workflow = relaysync.Workflow('faulty')
    results = queue.Queue()

    @workflow.on_start
    def start(relay, trigger):
        raise ValueError('boom in on_start')

    @workflow.on_button
    def button(relay, button, taps, source_uri):
        results.put(relay.get_var('still'))

    served = serve(workflow)
    with served.peer() as peer:
        peer.start()
        peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
        peer.respond(peer.expect('wf_api_get_var_request'), value='working')
        assert results.get(timeout=BOUND) == 'working'
    records = [r for r in caplog.records if r.name == 'relaysync.connection'
               and r.levelno == logging.ERROR]
    assert len(records) == 1
    record = records[0]
    assert record.exc_info is not None and record.exc_info[0] is ValueError
    message = record.getMessage()
    assert 'on_start' in message and '[c' in message and 'faulty' in message
    assert 'boom in on_start' in caplog.text and 'Traceback' in caplog.text


def test_error_response_escaping_a_handler_is_logged(served, caplog):
    caplog.set_level(logging.ERROR, logger='relaysync.connection')
    served.workflow.on_timer(lambda relay: relay.get_var('x'))
    served.workflow.on_timer_fired(lambda relay, name: relay.set_var('next', name))
    with served.peer() as peer:
        peer.event('wf_api_timer_event')
        peer.error(peer.expect('wf_api_get_var_request'), 'bad var')
        peer.event('wf_api_timer_fired_event', name='t1')
        peer.respond(peer.expect('wf_api_set_var_request'), value='t1')
    wait_until(lambda: any(r.exc_info and isinstance(r.exc_info[1], ErrorResponse)
                           for r in caplog.records))
    assert 'on_timer handler raised' in caplog.text and 'bad var' in caplog.text


# ------------------------------------------------------ calls from threads
def test_calls_from_a_users_own_thread(runner):
    results = queue.Queue()

    def fn(relay):
        def background():
            try:
                results.put(relay.get_var('from-thread'))
            except Exception as exc:  # reported to the test
                results.put(exc)
        threading.Thread(target=background, daemon=True).start()
        return 'handler returned'

    with runner.start(fn) as job:
        assert job.result() == 'handler returned'
        request = job.peer.expect('wf_api_get_var_request')
        assert request['name'] == 'from-thread'
        job.peer.respond(request, value='thread value')
        assert results.get(timeout=BOUND) == 'thread value'


def test_calls_from_the_test_thread_after_the_handler_returned(runner):
    with runner.start(lambda r: None) as job:
        job.result()
        relay = job.relay
        results = queue.Queue()
        caller = threading.Thread(target=lambda: results.put(relay.say(IT, 'later')),
                                  daemon=True)
        caller.start()
        request = job.peer.expect('wf_api_say_request')
        job.peer.respond(request, id='pb-later')
        caller.join(BOUND)
        assert results.get(timeout=BOUND) == 'pb-later'


def test_concurrent_calls_answered_out_of_order(runner):
    def fn(relay):
        results = {}

        def get(name):
            results[name] = relay.get_var(name)

        threads = [threading.Thread(target=get, args=(n,), daemon=True) for n in 'abc']
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND)
        return results

    with runner.start(fn) as job:
        requests = [job.peer.expect('wf_api_get_var_request') for _ in range(3)]
        for request in reversed(requests):
            job.peer.respond(request, value=request['name'].upper())
        assert job.result() == {'a': 'A', 'b': 'B', 'c': 'C'}
        assert len({r['_id'] for r in requests}) == 3


# --------------------------------------------------------- malformed input
@pytest.mark.parametrize('text,fragment', [
    ('this is not json', 'not JSON'),
    ('[1, 2, 3]', 'not a JSON object'),
    ('"just a string"', 'not a JSON object'),
    ('{"no_type": 1}', 'without a string _type'),
    ('{"_type": 5}', 'without a string _type'),
    ('{"_type": "wf_api_made_up_notice"}', 'unknown _type'),
])
def test_malformed_messages_are_logged_and_skipped(runner, caplog, text, fragment):
    caplog.set_level(logging.WARNING, logger='relaysync.connection')
    with runner.start(lambda r: r.get_var('before')) as job:
        job.peer.send_text(text)
        # A normal exchange still works afterwards.
        job.peer.respond(job.peer.expect('wf_api_get_var_request'), value='ok')
        assert job.result() == 'ok'
    warnings = [r.getMessage() for r in caplog.records if r.name == 'relaysync.connection'
                and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and fragment in warnings[0]


def test_malformed_messages_before_the_start_event(served, caplog):
    caplog.set_level(logging.WARNING, logger='relaysync.connection')
    results = queue.Queue()
    served.workflow.on_start(lambda relay, trigger: results.put(relay.get_var('x')))
    with served.peer() as peer:
        for text in ('', '{', 'null', '{"_type": "wf_api_unknown_thing", "x": 1}',
                     '{"_id": "nope", "_type": "wf_api_get_var_response", "value": 1}'):
            peer.send_text(text)
        peer.start()
        peer.respond(peer.expect('wf_api_get_var_request'), value='fine')
        assert results.get(timeout=BOUND) == 'fine'
    assert len([r for r in caplog.records if r.levelno == logging.WARNING
                and r.name == 'relaysync.connection']) == 4


@pytest.mark.parametrize('text', [
    '{"_type": "wf_api_prompt_event", "type": "stopped", "id": {"an": "object"}}',
    '{"_type": "wf_api_prompt_event", "type": "started", "id": [1.5, 2.5]}',
    '{"_type": "wf_api_speech_event", "request_id": {"x": 1}, "text": "hi"}',
    '{"_type": "wf_api_speech_event", "request_id": [true]}',
    '{"_id": {"x": 1}, "_type": "wf_api_get_var_response", "value": "v"}',
    '{"_id": ["a"], "_type": "wf_api_progress_event"}',
    '[' * 100000 + ']' * 100000,
], ids=['prompt_id_object', 'prompt_id_floats', 'speech_id_object', 'speech_id_bools',
        'response_id_object', 'progress_id_list', 'deep_nesting'])
def test_odd_field_types_do_not_break_the_connection(runner, text):
    """Well-formed JSON with ids of the wrong type, while calls are waiting."""
    def fn(relay):
        return relay.say_and_wait(IT, 'hi'), relay.listen(IT)

    with runner.start(fn) as job:
        say = job.peer.expect('wf_api_say_request')
        job.peer.send_text(text)
        job.peer.respond(say, id=say['_id'])
        job.peer.prompt(say['_id'], 'stopped')
        listen = job.peer.expect('wf_api_listen_request')
        job.peer.send_text(text)
        job.peer.respond(listen)
        job.peer.event('wf_api_speech_event', request_id=listen['_id'], text='fine')
        assert job.result() == (say['_id'], 'fine')
        assert job.peer.connected


def test_response_for_unknown_id_is_not_dispatched(served):
    seen = queue.Queue()
    served.workflow.on_timer_fired(lambda relay, name: seen.put(name))
    with served.peer() as peer:
        peer.send({'_id': 'f' * 32, '_type': 'wf_api_get_var_response', 'value': 'x'})
        peer.event('wf_api_timer_fired_event', name='after')
        assert seen.get(timeout=BOUND) == 'after'


def test_binary_frames_are_ignored(runner):
    with runner.start(lambda r: r.get_var('x')) as job:
        job.peer.ws.send_bytes(b'\x00\x01binary')
        job.peer.respond(job.peer.expect('wf_api_get_var_request'), value='ok')
        assert job.result() == 'ok'


def test_large_message_within_limit(runner):
    audio = 'A' * (2 * 1024 * 1024)
    with runner.start(lambda r: r.listen(IT, transcribe=False)) as job:
        request = job.peer.expect('wf_api_listen_request')
        job.peer.respond(request)
        job.peer.event('wf_api_speech_event', request_id=request['_id'], audio=audio)
        assert job.result(10) == audio


def test_message_over_max_message_size_closes_1009(serve):
    served = serve(max_message_size=1024)
    with served.peer() as peer:
        peer.event('wf_api_stop_event', reason='x' * 2000)
        assert peer.wait_closed() == 1009


# ------------------------------------------------------- many connections
def test_fifty_simultaneous_connections_keep_their_own_state(serve):
    count = 50
    workflow = relaysync.Workflow('many')
    outcomes = queue.Queue()

    @workflow.on_start
    def start(relay, trigger):
        uri = relay.get_source_uri_from_trigger(trigger)
        name = relaysync.parse_device_name(uri)
        relay.set_var('me', name)
        value = relay.get_var('me')
        relay.say(uri, f'hello {value}')
        outcomes.put((name, value, relay.id))

    served = serve(workflow)
    barrier = threading.Barrier(count, timeout=20)
    failures = queue.Queue()

    def drive(index, peer):
        try:
            name = f'device {index}'
            uri = relaysync.device_name(name)
            store = {}
            peer.start(uri)
            request = peer.expect('wf_api_set_var_request', timeout=20)
            assert request['name'] == 'me' and request['value'] == name
            store[request['name']] = request['value']
            barrier.wait()  # every handler is now blocked in set_var at once
            peer.respond(request, value=request['value'])
            request = peer.expect('wf_api_get_var_request', timeout=20)
            peer.respond(request, value=store[request['name']])
            request = peer.expect('wf_api_say_request', timeout=20)
            assert request['_target'] == {'uris': [uri]}
            assert request['text'] == f'hello {name}'
            peer.respond(request, id=f'pb-{index}')
        except BaseException as exc:
            failures.put((index, exc))
            barrier.abort()

    peers = [served.peer() for _ in range(count)]
    wait_until(lambda: served.server.total_connections() == count, BOUND)
    threads = [threading.Thread(target=drive, args=(i, p), daemon=True)
               for i, p in enumerate(peers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures.empty(), failures.get()
    results = [outcomes.get(timeout=BOUND) for _ in range(count)]
    assert sorted(name for name, _, _ in results) == sorted(f'device {i}' for i in range(count))
    assert all(name == value for name, value, _ in results)
    assert len({conn_id for _, _, conn_id in results}) == count
    for peer in peers:
        peer.close()
    wait_until(lambda: served.server.total_connections() == 0, BOUND)


def test_error_listeners_hear_about_handler_exceptions(serve):
    wf = relaysync.Workflow('listened')

    @wf.on_timer_fired
    def fired(relay, name):
        if name == 'boom':
            raise KeyError(name)

    served = serve(wf)
    heard = []
    done = threading.Event()

    def listener(conn, handler_name, exc):
        heard.append((conn.path, handler_name, type(exc), threading.current_thread().name))
        done.set()

    def broken_listener(conn, handler_name, exc):
        raise RuntimeError('a listener that fails must not stop the worker')

    served.server.add_error_listener(broken_listener)
    served.server.add_error_listener(listener)
    peer = served.peer()
    peer.event('wf_api_timer_fired_event', name='boom')
    assert done.wait(5)
    assert heard == [('/wf', 'timer_fired', KeyError, heard[0][3])]
    assert heard[0][3].startswith('relaysync-worker-')
    # Removed listeners are no longer called; the instance still works.
    served.server.remove_error_listener(listener)
    served.server.remove_error_listener(listener)   # idempotent
    peer.event('wf_api_timer_fired_event', name='boom')
    peer.event('wf_api_timer_fired_event', name='fine')
    wait_until(lambda: served.server.total_connections() == 1)
    assert len(heard) == 1
