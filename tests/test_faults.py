"""Faults inside the workflow and peers that vanish mid-call, over real sockets.

A handler that raises (even ``sys.exit()``) or blocks does not stop its
connection's pings, its later events, or any other connection; a response that
never comes raises RelayTimeout naming the request; a peer that goes away while
a call waits makes the call raise ConnectionClosed at once.
"""

import logging
import socket
import struct
import sys
import threading

import pytest

import relaysync
from relaysync import ConnectionClosed, RelayTimeout, WorkflowException
from conftest import wait_until
from peer import DEVICE, INTERACTION
from rawws import (OP_PING, OP_PONG, OP_TEXT, RawClient, SessionWorkflow,
                   complete_session, frame, raw_session)

BOUND = 5.0
LONG = relaysync.Timeouts(request=60, prompt=60, listen_margin=60)


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync')
    return caplog


# ======================================================= a handler that raises
@pytest.mark.parametrize('raise_it', [
    lambda: 1 / 0,
    lambda: sys.exit(3),
    lambda: (_ for _ in ()).throw(WorkflowException('workflow gave up')),
], ids=['ZeroDivisionError', 'sys.exit', 'WorkflowException'])
def test_raising_handler_is_logged_and_the_connection_keeps_serving(serve, logs, raise_it):
    flow = SessionWorkflow('raises')
    ran_on = []

    def raising(relay):
        ran_on.append(threading.current_thread())
        raise_it()

    def button(relay, *args):
        ran_on.append(threading.current_thread())
        flow.events.put(('button', args))

    flow.workflow.on_timer(raising)
    flow.workflow.on_button(button)
    served = serve(flow.workflow)
    with RawClient(served.port, '/wf') as client:
        client.send_json({'_type': 'wf_api_timer_event'})
        wait_until(lambda: [r for r in logs.records if 'on_timer handler raised' in r.getMessage()])
        # Later events on the same connection still run, on the same worker.
        client.send_json({'_type': 'wf_api_button_event', 'button': 'action', 'taps': 'single'})
        assert flow.next_event() == ('button', ('action', 'single', None))
        raw_session(client, flow)
        assert len(ran_on) == 2 and ran_on[0] is ran_on[1] and ran_on[0].is_alive()
        complete_session(served.url(), flow)  # and other connections are unaffected
    record = [r for r in logs.records if 'on_timer handler raised' in r.getMessage()][0]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert '[c1]' in record.getMessage() and 'raises' in record.getMessage()
    wait_until(lambda: served.server.total_connections() == 0, BOUND)


# =================================================== a handler that blocks
def test_blocked_handler_keeps_pings_other_connections_and_queued_events(serve, logs):
    flow = SessionWorkflow('blocks')
    gate = threading.Event()
    blocked = threading.Event()
    flow.workflow.on_timer(lambda relay: (blocked.set(), gate.wait(30),
                                          flow.events.put(('unblocked', ()))))
    served = serve(flow.workflow, ping_interval=0.5, ping_timeout=1.0)
    try:
        with RawClient(served.port, '/wf') as client:
            client.send_json({'_type': 'wf_api_timer_event'})
            assert blocked.wait(BOUND)
            # The peer's ping is answered while the handler blocks.
            client.send_frame(OP_PING, b'are you there')
            pong = client.read_frame()
            assert (pong.opcode, pong.payload) == (OP_PONG, b'are you there')
            # An event arriving meanwhile waits its turn.
            client.send_json({'_type': 'wf_api_button_event', 'button': 'channel',
                              'taps': 'double'})
            # Answer the server's keepalive pings for longer than interval + timeout.
            server_pings = 0
            for _ in range(6):
                if client.is_open(wait=0.5):
                    while client.buf:
                        received = client.read_frame()
                        assert received.opcode == OP_PING, received
                        server_pings += 1
                        client.send_frame(OP_PONG, received.payload)
            assert server_pings >= 1
            assert client.is_open()
            # Other connections complete whole sessions meanwhile.
            for _ in range(3):
                complete_session(served.url(), flow)
            assert flow.events.empty()
            gate.set()
            assert flow.next_event() == ('unblocked', ())
            assert flow.next_event() == ('button', ('channel', 'double', None))
            raw_session(client, flow)
    finally:
        gate.set()
    assert not [r for r in logs.records if 'no pong' in r.getMessage()]


def test_silent_peer_is_dropped_by_keepalive_while_its_handler_waits(serve, logs):
    outcome = []
    flow = SessionWorkflow('silent')

    def waits(relay):
        try:
            relay.get_var('never answered')
        except Exception as exc:
            outcome.append(exc)
    flow.workflow.on_timer(waits)
    served = serve(flow.workflow, ping_interval=0.3, ping_timeout=0.5,
                   timeouts=relaysync.Timeouts(request=60))
    with RawClient(served.port, '/wf') as client:
        client.send_json({'_type': 'wf_api_timer_event'})
        wait_until(lambda: outcome, 10)  # pings are never answered
    assert isinstance(outcome[0], ConnectionClosed) and outcome[0].code == 1006
    assert [r for r in logs.records if 'no pong within 0.5 s' in r.getMessage()]
    complete_session(served.url(), flow)


# ================================================ a response that never comes
def test_missing_response_times_out_with_a_clear_error(make_runner, logs):
    runner = make_runner(timeouts=relaysync.Timeouts(request=0.5))

    def fn(relay):
        try:
            relay.get_var('lost')
        except RelayTimeout as exc:
            return exc, relay.get_var('after')
        raise AssertionError('no timeout')

    with runner.start(fn) as job:
        lost = job.peer.expect('wf_api_get_var_request')
        after = job.peer.expect('wf_api_get_var_request', timeout=BOUND)
        job.peer.respond(lost, value='too late')   # ignored, logged at DEBUG
        job.peer.respond(after, value='fine')
        error, value = job.result()
    assert value == 'fine'
    assert isinstance(error, TimeoutError) and isinstance(error, WorkflowException)
    assert str(error) == f'wf_api_get_var_request (_id {lost["_id"]}): no response within 0.5 s'
    assert (error.request_type, error.request_id, error.waiting_for) == \
        ('wf_api_get_var_request', lost['_id'], 'response')
    assert [r for r in logs.records if 'unknown or finished _id' in r.getMessage()]


@pytest.mark.parametrize('action,request_type,missing', [
    (lambda r: r.say_and_wait(INTERACTION, 'hi'), 'wf_api_say_request', 'prompt stopped event'),
    (lambda r: r.listen(INTERACTION, timeout=0), 'wf_api_listen_request', 'speech event'),
], ids=['say_and_wait', 'listen'])
def test_missing_event_after_the_response_times_out_naming_it(make_runner, action,
                                                             request_type, missing):
    runner = make_runner(timeouts=relaysync.Timeouts(prompt=0.5, listen_margin=0.5))
    with runner.start(action) as job:
        request = job.peer.expect(request_type)
        job.peer.respond(request, id='pb-1')
        error = job.exception()
    assert isinstance(error, RelayTimeout)
    assert str(error) == f'{request_type} (_id {request["_id"]}): no {missing} within 0.5 s'


# ============================================ the peer goes away during a call
def _send_raw(peer, data):
    peer.ws.sock.sendall(data)


def _rst(peer):
    peer.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    peer.ws.sock.shutdown(socket.SHUT_RDWR)
    peer.close()


HALF_A_FRAME = frame(OP_TEXT, '{"_type": "wf_api_timer_event"}')[:9]
DROPS = {
    'close-1000': (lambda p: p.close(1000), 1000),
    'close-4001': (lambda p: p.close(4001, 'ibot restarting'), 4001),
    'fin-without-close-frame': (lambda p: (p.ws.sock.shutdown(socket.SHUT_WR)), 1006),
    'rst': (_rst, 1006),
    'rst-mid-frame': (lambda p: (_send_raw(p, HALF_A_FRAME), _rst(p)), 1006),
    'close-inside-fragmented-message': (
        lambda p: (_send_raw(p, frame(OP_TEXT, '{"_type": ', fin=False)), p.close(1000)), 1000),
}

PHASES = {
    'say_and_wait-awaiting-response': (lambda r: r.say_and_wait(INTERACTION, 'hello'),
                                       'wf_api_say_request', False),
    'say_and_wait-awaiting-stopped': (lambda r: r.say_and_wait(INTERACTION, 'hello'),
                                      'wf_api_say_request', True),
    'listen-awaiting-response': (lambda r: r.listen(INTERACTION, 'yes'),
                                 'wf_api_listen_request', False),
    'listen-awaiting-speech': (lambda r: r.listen(INTERACTION, 'yes'),
                               'wf_api_listen_request', True),
}


@pytest.mark.parametrize('phase', sorted(PHASES))
@pytest.mark.parametrize('drop', sorted(DROPS))
def test_peer_gone_during_a_blocking_call_raises_at_once(make_runner, phase, drop):
    # Timeouts are 60 s: a result within BOUND proves the call raised at once.
    runner = make_runner(timeouts=LONG)
    action, request_type, respond_first = PHASES[phase]
    how, code = DROPS[drop]

    def fn(relay):
        try:
            action(relay)
        except ConnectionClosed as exc:
            first = exc
        else:
            raise AssertionError('the call returned')
        try:
            relay.get_var('after the drop')
        except ConnectionClosed as exc:
            return first, exc
        raise AssertionError('a call after the drop returned')

    job = runner.start(fn)
    request = job.peer.expect(request_type)
    if respond_first:
        job.peer.respond(request, id='pb-1')
    how(job.peer)
    first, later = job.result(BOUND)
    assert (first.code, first.request_type) == (code, request_type)
    assert (later.code, later.request_type) == (code, 'wf_api_get_var_request')
    wait_until(lambda: runner.server.total_connections() == 0, BOUND)
    # The same server serves the next instance normally.
    with runner.start(lambda relay: relay.get_var('next')) as job:
        job.peer.respond(job.peer.expect('wf_api_get_var_request'), value='served')
        assert job.result() == 'served'


def test_dropped_peer_with_many_pending_calls_fails_them_all(make_runner):
    runner = make_runner(timeouts=LONG)
    outcomes = []

    def fn(relay):
        def call(index):
            try:
                relay.get_var(f'v{index}')
            except ConnectionClosed as exc:
                outcomes.append(exc.code)
        threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND)
        return len(outcomes)

    job = runner.start(fn)
    for _ in range(20):
        job.peer.expect('wf_api_get_var_request')
    _rst(job.peer)
    assert job.result(BOUND) == 20
    assert outcomes == [1006] * 20


def test_events_after_a_start_that_blocked_are_not_lost_when_the_peer_closes(serve):
    """Events that arrived before the close still run, in order, after a blocked handler."""
    flow = SessionWorkflow('drain')
    gate = threading.Event()
    flow.workflow.on_timer(lambda relay: gate.wait(BOUND))
    served = serve(flow.workflow)
    with RawClient(served.port, '/wf') as client:
        client.send_json({'_type': 'wf_api_timer_event'})
        for taps in ('single', 'double', 'triple'):
            client.send_json({'_type': 'wf_api_button_event', 'button': 'action', 'taps': taps,
                              'source_uri': DEVICE})
        client.send(frame(0x8, b'\x03\xe8'))
        client.read_close()
    gate.set()
    assert [flow.next_event()[1][1] for _ in range(3)] == ['single', 'double', 'triple']
    wait_until(lambda: served.server.total_connections() == 0, BOUND)
