"""What one peer may cost, over real sockets: bytes queued for it (outbound),
events queued for its handlers (inbound), and a peer that stops reading.

Outbound: a sender waits while ``max_send_buffer`` bytes are queued for its
peer, within its own call's timeout; a peer that takes nothing for
``ping_timeout`` while data is queued is dropped with a TCP reset.  Inbound: at
``max_queued_events`` / ``max_queued_bytes`` reading pauses while no call is
pending; while one is, reading goes on and twice the limit closes with 1008.
"""

import json
import logging
import threading
import time
from typing import Any, List

import pytest

import relaysync
from conftest import wait_until
from peer import DEVICE
from rawws import OP_PING, OP_PONG, OP_TEXT, RawClient, ServerClosed, frame, read_json

BOUND = 5.0
KIB = 1024


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync')
    return caplog


def start_event(client: RawClient, **args: Any) -> None:
    client.send_json({'_type': 'wf_api_start_event',
                      'trigger': {'type': 'phrase', 'args': {'source_uri': DEVICE, **args}}})


def channel_of(server: relaysync.Server) -> Any:
    """The one open channel of a server (its transport state is what is bounded)."""
    channels = list(server._reactor.channels.values())
    assert len(channels) == 1, channels
    return channels[0]


def connection_of(server: relaysync.Server) -> Any:
    connections = list(server._connections.values())
    assert len(connections) == 1, connections
    return connections[0]


def answer_all(client: RawClient, count: int, timeout: float = BOUND) -> List[dict]:
    """Read ``count`` requests, answering each; returns them in arrival order."""
    seen = []
    for _ in range(count):
        request = read_json(client, timeout)
        seen.append(request)
        client.send_json({'_id': request['_id'], '_type': 'wf_api_blob_response', 'n': len(seen)})
    return seen


# ================================================================ outbound
def test_a_sender_waits_for_room_and_its_call_times_out_naming_it(serve):
    """A peer that reads nothing: the backlog stays at the limit and each call
    fails with its own timeout, saying what it waited for."""
    results: List[Any] = []
    workflow = relaysync.Workflow('sender')

    @workflow.on_start
    def start(relay, trigger):
        for _ in range(80):        # 12 MB: more than the kernel's socket buffers hold
            try:
                relay.request('blob', {'blob': 'x' * 150_000}, timeout=0.05)
            except relaysync.RelayTimeout as exc:
                results.append(exc)
        results.append('done')

    served = serve(workflow, max_send_buffer=256 * KIB, ping_timeout=60)
    with RawClient(served.port, '/wf', rcvbuf=4096) as client:
        start_event(client)
        wait_until(lambda: results and results[-1] == 'done', 20)
        channel = channel_of(served.server)
        # Never more than the limit plus one frame is held for the peer.
        assert channel.out_bytes <= 256 * KIB + 150_100, channel.out_bytes
        waited = [e for e in results[:-1] if e.waiting_for.startswith('room in the send buffer')]
        assert waited, [str(e) for e in results[:-1]]
        assert 'the peer is not reading' in str(waited[0])
        assert waited[0].timeout == 0.05 and waited[0].request_type == 'wf_api_blob_request'


def test_a_waiting_sender_goes_on_when_the_peer_reads_and_nothing_is_lost(serve):
    """Backpressure only delays: every frame arrives whole and in order."""
    workflow = relaysync.Workflow('ordered')
    answers: List[Any] = []

    @workflow.on_start
    def start(relay, trigger):
        threads = [threading.Thread(target=lambda i=i: answers.append(
            relay.request('blob', {'i': i, 'blob': chr(65 + i % 26) * (200_000 + i)},
                          timeout=BOUND)['n'])) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(3 * BOUND)

    served = serve(workflow, max_send_buffer=64 * KIB)
    with RawClient(served.port, '/wf', rcvbuf=4096) as client:
        start_event(client)
        wait_until(lambda: channel_of(served.server).room_waiters > 0, BOUND)
        seen = answer_all(client, 40)
    for request in seen:
        i = request['i']
        assert request['blob'] == chr(65 + i % 26) * (200_000 + i)
    assert sorted(r['i'] for r in seen) == list(range(40))
    wait_until(lambda: len(answers) == 40, BOUND)


@pytest.mark.parametrize('scheme', ['ws', 'wss'])
def test_large_frames_to_a_slow_reader_arrive_intact(serve, scheme, tls_files, client_context):
    """Partial writes (and TLS retries of the same bytes) keep every byte in order."""
    kwargs = {}
    context = None
    if scheme == 'wss':
        key, cert = tls_files
        kwargs = {'ssl_key_filename': key, 'ssl_cert_filename': cert}
        context = client_context
    workflow = relaysync.Workflow('big')
    sizes = [1, 125, 126, 65535, 65536, 300_000, 2_000_000, 7, 1_000_000]

    @workflow.on_start
    def start(relay, trigger):
        for i, size in enumerate(sizes):
            relay.request('blob', {'i': i, 'blob': str(i % 10) * size}, timeout=BOUND)

    served = serve(workflow, scheme=scheme, max_send_buffer=512 * KIB, **kwargs)
    with RawClient(served.port, '/wf', rcvbuf=8192, ssl_context=context) as client:
        start_event(client)
        for i, size in enumerate(sizes):
            time.sleep(0.02)      # read slowly: the server's writes stay partial
            request = read_json(client, BOUND)
            assert request['i'] == i and request['blob'] == str(i % 10) * size
            client.send_json({'_id': request['_id'], '_type': 'wf_api_blob_response'})


def test_a_peer_that_reads_nothing_is_dropped_although_it_sends_pongs(serve, logs):
    """Unsolicited pongs and inbound bytes do not keep a non-reading peer alive."""
    closed: List[Any] = []
    workflow = relaysync.Workflow('stalled')

    @workflow.on_start
    def start(relay, trigger):
        try:
            for _ in range(200):
                try:
                    relay.request('blob', {'blob': 'x' * 200_000}, timeout=0.05)
                except relaysync.RelayTimeout:
                    pass
        except relaysync.ConnectionClosed as exc:
            closed.append(exc)

    # Keepalive off: the write-progress rule alone drops it.
    served = serve(workflow, max_send_buffer=256 * KIB, ping_interval=None, ping_timeout=1.0)
    with RawClient(served.port, '/wf', rcvbuf=4096) as client:
        start_event(client)
        dropped = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not dropped:
            time.sleep(0.1)
            try:
                client.send(frame(OP_PONG, b'unsolicited'))
            except OSError:
                dropped = True
        assert dropped, 'the server kept a peer that read nothing'
    wait_until(lambda: closed, BOUND)
    warnings = [r for r in logs.records if 'took no data for 1 s' in r.getMessage()]
    assert warnings and warnings[0].levelno == logging.WARNING
    assert warnings[0].getMessage().startswith('[c1] dropping the peer')
    wait_until(lambda: served.server.total_connections() == 0, BOUND)


def test_a_peer_that_sends_but_never_reads_is_pinged_and_dropped(serve, logs):
    """Inbound traffic does not stand for reading: data was sent and nothing
    showed it was read, so a ping goes out, and its answer never comes."""
    workflow = relaysync.Workflow('talker')

    @workflow.on_start
    def start(relay, trigger):
        for _ in range(100):
            try:
                relay.request('blob', {'blob': 'x' * 10}, timeout=0.1)
            except relaysync.RelayTimeout:
                pass
            except relaysync.ConnectionClosed:
                return

    served = serve(workflow, ping_interval=0.3, ping_timeout=0.6)
    with RawClient(served.port, '/wf', rcvbuf=4096) as client:
        start_event(client)
        dropped = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not dropped:
            time.sleep(0.1)
            try:
                client.send(frame(OP_PONG, b'unsolicited'))
                client.send_json({'_type': 'wf_api_unknown_event'})
            except OSError:
                dropped = True
        assert dropped
    assert [r for r in logs.records if 'no pong within 0.6 s' in r.getMessage()]


def test_a_pong_must_echo_the_ping_to_count(serve, logs):
    """A pong with some other payload does not answer the keepalive ping."""
    served = serve(ping_interval=0.3, ping_timeout=0.6)
    with RawClient(served.port, '/wf') as client:
        ping = client.read_frame(BOUND)
        assert ping.opcode == OP_PING and ping.payload
        client.send(frame(OP_PONG, b'not-' + ping.payload))
        with pytest.raises(ServerClosed):
            client.read_frame(BOUND)
    assert [r for r in logs.records if 'no pong within 0.6 s' in r.getMessage()]


def test_the_echoed_pong_keeps_a_quiet_peer_connected(serve):
    served = serve(ping_interval=0.2, ping_timeout=0.4)
    with RawClient(served.port, '/wf') as client:
        for _ in range(4):
            ping = client.read_frame(BOUND)
            assert ping.opcode == OP_PING
            client.send(frame(OP_PONG, ping.payload))
        assert client.is_open(wait=0.3)


def test_a_burst_of_pings_gets_one_pong_per_batch_answering_the_latest(serve):
    """RFC 6455 §5.5.3 allows answering only the latest ping: a flood costs
    one pong per batch read, not one (and one write) per ping."""
    served = serve(ping_timeout=60)
    with RawClient(served.port, '/wf', rcvbuf=4096) as client:
        burst = b''.join(frame(OP_PING, b'%08d' % i) for i in range(40_000))
        client.send(burst)
        pongs = []
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            try:
                received = client.read_frame(0.5)
            except TimeoutError:
                break
            assert received.opcode == OP_PONG
            pongs.append(received.payload)
            if received.payload == b'%08d' % 39_999:
                break
    assert pongs and pongs[-1] == b'%08d' % 39_999      # the latest is answered
    assert len(pongs) < 1_000, len(pongs)


# ================================================================= inbound
def busy_workflow(gate: threading.Event, handled: List[Any], in_call: bool = False) -> Any:
    workflow = relaysync.Workflow('busy')

    @workflow.on_start
    def start(relay, trigger):
        if in_call:
            try:
                handled.append(('var', relay.get_var('never', 'default')))
            except relaysync.ConnectionClosed as exc:
                handled.append(('closed', exc.code))
        else:
            gate.wait(20)

    @workflow.on_timer_fired
    def fired(relay, name):
        handled.append(name)

    return workflow


def test_events_beyond_the_limit_pause_reading_and_none_is_lost(serve):
    gate = threading.Event()
    handled: List[Any] = []
    served = serve(busy_workflow(gate, handled), max_queued_events=5)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        for i in range(50):
            client.send_json({'_type': 'wf_api_timer_fired_event', 'name': f't{i}'})
        conn = wait_until(lambda: served.server._connections and connection_of(served.server))
        wait_until(lambda: conn._queued == 6, BOUND)
        time.sleep(0.3)                       # the other 44 stay in the socket
        assert conn._queued == 6 and conn._reading_paused
        gate.set()
        wait_until(lambda: len(handled) == 50, BOUND)
    assert handled == [f't{i}' for i in range(50)]


def test_bytes_beyond_the_limit_pause_reading(serve):
    gate = threading.Event()
    handled: List[Any] = []
    served = serve(busy_workflow(gate, handled), max_queued_bytes=100 * KIB)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        for i in range(40):
            client.send_json({'_type': 'wf_api_timer_fired_event',
                              'name': f'{i:03d}' + 'n' * 20_000})
        conn = wait_until(lambda: served.server._connections and connection_of(served.server))
        wait_until(lambda: conn._reading_paused, BOUND)
        time.sleep(0.3)
        assert conn._queued_bytes <= 100 * KIB + 20_100, conn._queued_bytes
        gate.set()
        wait_until(lambda: len(handled) == 40, BOUND)
    assert [h[:3] for h in handled] == [f'{i:03d}' for i in range(40)]


def test_one_event_larger_than_the_byte_limit_is_still_delivered(serve):
    gate = threading.Event()
    gate.set()
    handled: List[Any] = []
    served = serve(busy_workflow(gate, handled), max_queued_bytes=10 * KIB)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        client.send_json({'_type': 'wf_api_timer_fired_event', 'name': 'n' * 100_000})
        wait_until(lambda: handled, BOUND)
    assert handled == ['n' * 100_000]


def test_a_flood_while_a_call_is_pending_closes_with_1008(serve, logs):
    handled: List[Any] = []
    served = serve(busy_workflow(threading.Event(), handled, in_call=True), max_queued_events=5)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        request = read_json(client, BOUND)
        assert request['_type'] == 'wf_api_get_var_request'
        for i in range(30):
            client.send_json({'_type': 'wf_api_timer_fired_event', 'name': f't{i}'})
        assert client.expect_close() == 1008
    wait_until(lambda: ('closed', 1008) in handled, BOUND)
    warning = [r for r in logs.records if 'closing with 1008' in r.getMessage()]
    assert warning and warning[0].levelno == logging.WARNING


def test_the_answer_behind_queued_events_still_arrives(serve):
    """No deadlock: a handler that calls out while reading is paused gets its
    answer, which the peer sent after more events."""
    gate = threading.Event()
    handled: List[Any] = []
    workflow = relaysync.Workflow('behind')

    @workflow.on_start
    def start(relay, trigger):
        gate.wait(20)
        handled.append(('var', relay.get_var('x')))

    @workflow.on_timer_fired
    def fired(relay, name):
        handled.append(name)

    served = serve(workflow, max_queued_events=5)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        for i in range(8):
            client.send_json({'_type': 'wf_api_timer_fired_event', 'name': f't{i}'})
        conn = wait_until(lambda: served.server._connections and connection_of(served.server))
        wait_until(lambda: conn._reading_paused, BOUND)
        gate.set()
        request = read_json(client, BOUND)
        client.send_json({'_id': request['_id'], '_type': 'wf_api_get_var_response',
                          'value': 'answered'})
        wait_until(lambda: len(handled) == 9, BOUND)
    assert handled == [('var', 'answered')] + [f't{i}' for i in range(8)]


def test_a_paused_tls_connection_resumes_with_what_openssl_buffered(serve, tls_files,
                                                                    client_context):
    key, cert = tls_files
    gate = threading.Event()
    handled: List[Any] = []
    served = serve(busy_workflow(gate, handled), scheme='wss', max_queued_events=3,
                   ssl_key_filename=key, ssl_cert_filename=cert)
    with RawClient(served.port, '/wf', ssl_context=client_context) as client:
        start_event(client)
        # One write: many events in one TLS record, decrypted together.
        client.send(b''.join(frame(OP_TEXT, json.dumps(
            {'_type': 'wf_api_timer_fired_event', 'name': f't{i}'})) for i in range(40)))
        conn = wait_until(lambda: served.server._connections and connection_of(served.server))
        wait_until(lambda: conn._reading_paused, BOUND)
        gate.set()
        wait_until(lambda: len(handled) == 40, BOUND)
    assert handled == [f't{i}' for i in range(40)]


# ====================================================== what parsing costs
def test_queued_events_are_counted_by_what_their_parsed_form_costs(serve):
    """A 100 KB event of empty objects costs megabytes once parsed: it counts
    as such, so reading pauses after it, not after dozens like it."""
    gate = threading.Event()
    handled: List[Any] = []
    served = serve(busy_workflow(gate, handled), max_queued_bytes=1024 * KIB)
    name = [{}] * 9_000                          # 36 KB of text, ~0.7 MB parsed
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        for _ in range(10):
            client.send_json({'_type': 'wf_api_timer_fired_event', 'name': name})
        conn = wait_until(lambda: served.server._connections and connection_of(served.server))
        wait_until(lambda: conn._reading_paused, BOUND)
        time.sleep(0.3)
        assert conn._queued <= 2, conn._queued
        gate.set()
        wait_until(lambda: len(handled) == 10, BOUND)


def test_a_message_in_too_many_fragments_is_refused(serve, logs):
    from rawws import OP_CONT
    served = serve()
    with RawClient(served.port, '/wf') as client:
        frames = [frame(OP_TEXT, '{', fin=False)]
        frames += [frame(OP_CONT, ' ', fin=False)] * 10_001
        client.send(b''.join(frames))
        assert client.expect_close() == 1009
    assert [r for r in logs.records if 'more than 10000 fragments' in r.getMessage()]


def test_a_paused_connection_notices_its_peer_leaving(serve):
    """Reading is paused (a busy handler, a flood), then the peer resets: the
    instance ends and no longer counts, although nothing more is read."""
    release = threading.Event()
    workflow = relaysync.Workflow('busy')

    @workflow.on_start
    def start(relay, trigger):
        release.wait(30)

    workflow.on_timer_fired(lambda relay, name: None)
    served = serve(workflow, max_queued_events=5, max_connections=1)
    try:
        client = RawClient(served.port, '/wf')
        start_event(client)
        for i in range(200):
            client.send_json({'_type': 'wf_api_timer_fired_event', 'name': f't{i}'})
        conn = wait_until(lambda: served.server._connections and connection_of(served.server))
        wait_until(lambda: channel_of(served.server).paused, BOUND)
        client.reset()
        wait_until(lambda: conn.is_closed, BOUND)
        assert conn.close_code == 1006
    finally:
        release.set()


def test_a_slow_tls_reader_is_not_taken_for_a_stalled_one(serve, tls_files, client_context):
    """One big message to a peer that reads slowly but steadily: the progress of
    each TLS record counts, so the peer is not dropped mid-message."""
    key, cert = tls_files
    workflow = relaysync.Workflow('big')
    answered: List[Any] = []

    @workflow.on_start
    def start(relay, trigger):
        # More than the kernel's socket buffers hold, so the write takes a while.
        answered.append(relay.request('blob', {'blob': 'z' * 12_000_000}, timeout=60))

    served = serve(workflow, scheme='wss', ping_interval=None, ping_timeout=1.5,
                   ssl_key_filename=key, ssl_cert_filename=cert)
    with RawClient(served.port, '/wf', ssl_context=client_context, rcvbuf=16384,
                   timeout=15) as client:
        start_event(client)
        raw = bytearray()
        deadline = time.monotonic() + 20
        while len(raw) < 12_000_000 and time.monotonic() < deadline:
            chunk = client.sock.recv(40_000)      # about 2 MB/s
            assert chunk, 'the server dropped a peer that was reading'
            raw += chunk
            time.sleep(0.02)
        client.buf = raw
        request = read_json(client, BOUND)
        assert request['blob'] == 'z' * 12_000_000
        client.send_json({'_id': request['_id'], '_type': 'wf_api_blob_response'})
        wait_until(lambda: answered, BOUND)


def test_an_exception_in_an_io_thread_task_does_not_stop_the_loop(serve, logs):
    served = serve()
    reactor = served.server._reactor

    def broken():
        raise RuntimeError('task failed')

    reactor.call_soon(broken)
    wait_until(lambda: [r for r in logs.records if 'internal error in a task' in r.getMessage()])
    with served.peer() as peer:          # the loop still serves
        peer.start()
        wait_until(lambda: served.server.total_connections() == 1)


def test_the_wire_log_escapes_what_the_peer_sent(serve, logs):
    served = serve()
    with RawClient(served.port, '/wf') as client:
        client.send_text('{"_type":\n"wf_api_x_event",\n"FAKE": 1}\nFAKE LOG LINE')
        wait_until(lambda: [r for r in logs.records if 'recv' in r.getMessage()])
    for record in logs.records:
        assert '\n' not in record.getMessage(), record.getMessage()
