"""Hostile input over real sockets: whatever arrives, the server answers with the
right close code or HTTP status, logs one line, and keeps serving correct sessions.

Frame-level cases use :mod:`rawws` (bytes exactly as written); every case ends
with a normal session on the same server, and, where the connection survives,
on the same connection.
"""

import json
import logging
import socket
import ssl
import struct
import threading
import time
import zlib

import pytest

import relaysync
from relaysync.events import EVENTS
from relaysync.server import DEFAULT_MAX_MESSAGE_SIZE
from conftest import wait_until
from peer import INTERACTION as INTERACTION_URI, http_exchange, upgrade_request
from rawws import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RSV1, RSV2, RSV3,
                   RawClient, SessionWorkflow, close_payload, complete_session, frame,
                   frame_header, open_fds, raw_session)

BOUND = 5.0
KEY = b'\x1f\x2e\x3d\x4c'


@pytest.fixture
def logs(caplog):
    """caplog with every relaysync logger at DEBUG (restored afterwards)."""
    caplog.set_level(logging.DEBUG, logger='relaysync')
    return caplog


def make_hostile(serve, **kwargs):
    flow = SessionWorkflow('hostile')
    served = serve(flow.workflow, **kwargs)
    served.flow = flow
    return served


@pytest.fixture
def hostile(serve):
    """A server with a :class:`SessionWorkflow` at /wf (default limits)."""
    return make_hostile(serve)


def session_works(served):
    complete_session(served.url(), served.flow)


def no_errors(caplog):
    bad = [r for r in caplog.records
           if r.name.startswith('relaysync') and r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


def log_lines(caplog, fragment):
    return [r for r in caplog.records if r.name.startswith('relaysync')
            and fragment in r.getMessage()]


def rss_kib():
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS')


# ================================================== 1. frames that fail the connection
FRAME_CASES = [
    # name, bytes, close code, log fragment
    ('invalid-utf8', frame(OP_TEXT, b'{"a": "\xff\xfe"}'), 1007, 'closing with 1007'),
    ('utf8-truncated-at-message-end',
     frame(OP_TEXT, b'{"a": "\xe2\x82', fin=False) + frame(OP_CONT, b''), 1007,
     'closing with 1007'),
    ('overlong-utf8', frame(OP_TEXT, b'\xc0\xaf'), 1007, 'closing with 1007'),
    ('utf16-surrogate-in-utf8', frame(OP_TEXT, b'\xed\xa0\x80'), 1007, 'closing with 1007'),
    ('unmasked', frame(OP_TEXT, '{}', masked=False), 1002, 'unmasked frame'),
    ('rsv1-compressed', frame(OP_TEXT, '{}', rsv=RSV1), 1002, 'Reserved bit'),
    ('rsv2', frame(OP_TEXT, '{}', rsv=RSV2), 1002, 'Reserved bit'),
    ('rsv3', frame(OP_BINARY, b'x', rsv=RSV3), 1002, 'Reserved bit'),
    ('reserved-data-opcode-3', frame(0x3, 'x'), 1002, 'Invalid opcode'),
    ('reserved-control-opcode-b', frame(0xB, 'x'), 1002, 'Invalid opcode'),
    ('continuation-without-start', frame(OP_CONT, 'x'), 1002, 'unexpected CONTINUATION'),
    ('new-message-inside-fragmented',
     frame(OP_TEXT, '{"a"', fin=False) + frame(OP_TEXT, '{}'), 1002, 'expected CONTINUATION'),
    ('control-frame-over-125', frame(OP_PING, b'p' * 126), 1002, 'payload len > 125'),
    ('fragmented-ping', frame(OP_PING, b'p', fin=False), 1002, 'fragment control frame'),
    ('length-msb-set', frame_header(OP_TEXT, 1 << 63) + KEY, 1002, 'non-zero MSB'),
    ('non-minimal-16-bit-length', bytes((0x81, 0x80 | 126)) + struct.pack('!H', 2) + KEY
     + bytes(a ^ b for a, b in zip(b'{}', KEY)), 1002, 'would have sufficed'),
    ('non-minimal-64-bit-length', bytes((0x81, 0x80 | 127)) + struct.pack('!Q', 2) + KEY
     + bytes(a ^ b for a, b in zip(b'{}', KEY)), 1002, 'would have sufficed'),
    ('declares-2**40-bytes', frame_header(OP_TEXT, 1 << 40) + KEY + b'{"_type"', 1009,
     'larger than max_message_size'),
    ('binary-declares-2**40-bytes', frame_header(OP_BINARY, 1 << 40) + KEY, 1009,
     'larger than max_message_size'),
    ('close-code-999', frame(OP_CLOSE, close_payload(999)), 1002, 'invalid code'),
    ('close-code-1005-on-the-wire', frame(OP_CLOSE, close_payload(1005)), 1002,
     'local-only reason'),
    ('close-one-byte', frame(OP_CLOSE, b'\x03'), 1002, '1 byte payload'),
    ('close-reason-invalid-utf8', frame(OP_CLOSE, close_payload(1000, b'\xff')), 1007,
     'closing with 1007'),
]


@pytest.mark.parametrize('parser', ['lean', 'wsproto'])
@pytest.mark.parametrize('data,code,fragment', [c[1:] for c in FRAME_CASES],
                         ids=[c[0] for c in FRAME_CASES])
def test_bad_frame_gets_its_close_code_then_the_server_still_works(hostile, logs, data, code,
                                                                   fragment, parser):
    # The reactor parses plain text frames itself and hands the stream to wsproto
    # at the first unusual frame: each case arrives first, or after a binary
    # message has already moved the connection to wsproto.
    with RawClient(hostile.port, '/wf') as client:
        assert client.status == 101
        if parser == 'wsproto':
            client.send_frame(OP_BINARY, b'first')
            wait_until(lambda: log_lines(logs, 'ignored a binary message'))
        client.send(data)
        assert client.expect_close() == code
        # After a protocol failure wsproto parses nothing more, so the server
        # waits (close_timeout) for the peer's FIN rather than its close frame.
        client.sock.shutdown(socket.SHUT_WR)
        assert client.read_eof() == b''  # and the server ends the TCP connection
    wait_until(lambda: log_lines(logs, fragment))
    no_errors(logs)
    wait_until(lambda: hostile.server.total_connections() == 0, BOUND)
    session_works(hostile)


@pytest.mark.parametrize('code,reason', [(1000, b'bye'), (1001, b''), (4000, b'app')])
def test_peer_close_is_echoed(hostile, code, reason):
    with RawClient(hostile.port, '/wf') as client:
        client.send_frame(OP_CLOSE, close_payload(code, reason))
        received = client.read_close()
        assert received.close_code == code
        client.read_eof()
    session_works(hostile)


def test_empty_close_frame_is_answered_with_an_empty_close(hostile):
    with RawClient(hostile.port, '/wf') as client:
        client.send_frame(OP_CLOSE, b'')
        assert client.read_close().payload == b''
        client.read_eof()
    session_works(hostile)


# ===================================================== 1. oversized messages
def timer_event_of_size(size):
    """A wf_api_timer_fired_event of exactly ``size`` UTF-8 bytes, and its name."""
    shell = json.dumps({'_type': 'wf_api_timer_fired_event', 'name': ''})
    name = 'n' * (size - len(shell.encode()))
    text = json.dumps({'_type': 'wf_api_timer_fired_event', 'name': name})
    assert len(text.encode()) == size
    return text, name


def test_default_limit_is_8_mib_exactly(hostile, logs):
    assert DEFAULT_MAX_MESSAGE_SIZE == 8 * 1024 * 1024
    assert hostile.server.max_message_size == DEFAULT_MAX_MESSAGE_SIZE
    text, name = timer_event_of_size(DEFAULT_MAX_MESSAGE_SIZE)
    with RawClient(hostile.port, '/wf', timeout=20) as client:
        client.send_text(text)
        handler, args = hostile.flow.next_event(20)
        assert handler == 'timer_fired' and args[0] == name
        raw_session(client, hostile.flow)  # same connection still fine
    bigger, _ = timer_event_of_size(DEFAULT_MAX_MESSAGE_SIZE + 1)
    with RawClient(hostile.port, '/wf', timeout=20) as client:
        client.send(frame_header(OP_TEXT, len(bigger.encode())) + KEY)  # the header alone
        assert client.expect_close() == 1009
    assert log_lines(logs, f'message larger than max_message_size ({DEFAULT_MAX_MESSAGE_SIZE}')
    assert hostile.flow.events.empty()
    session_works(hostile)


@pytest.mark.parametrize('kind', ['single-frame', 'fragments', 'multibyte-chars',
                                  'fragments-of-multibyte'])
def test_configured_limit_counts_wire_bytes(serve, logs, kind):
    limit = 1000
    served = make_hostile(serve, max_message_size=limit)
    # 400 euro signs are 400 characters but 1,200 bytes: over the limit.
    text = {'single-frame': 'x' * (limit + 1), 'fragments': 'x' * (limit + 1),
            'multibyte-chars': '\u20ac' * 400, 'fragments-of-multibyte': '\u20ac' * 400}[kind]
    payload = text.encode()
    with RawClient(served.port, '/wf') as client:
        if kind.startswith('fragments'):
            third = len(payload) // 3
            client.send_frame(OP_TEXT, payload[:third], fin=False)
            client.send_frame(OP_CONT, payload[third:2 * third], fin=False)
            client.send_frame(OP_CONT, payload[2 * third:])
        else:
            client.send_frame(OP_TEXT, payload)
        assert client.expect_close() == 1009
    assert log_lines(logs, f'larger than max_message_size ({limit} bytes)')
    assert served.flow.events.empty()
    session_works(served)


def test_message_of_exactly_the_limit_in_fragments_with_split_headers(serve):
    """Each fragment's header arrives before its masking key: the size guard
    sees a header twice and must not count it twice."""
    text, name = timer_event_of_size(600)
    served = make_hostile(serve, max_message_size=600)
    payload = text.encode()
    with RawClient(served.port, '/wf') as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pieces = [payload[i:i + 100] for i in range(0, 600, 100)]
        for index, piece in enumerate(pieces):
            opcode = OP_TEXT if index == 0 else OP_CONT
            whole = frame(opcode, piece, fin=index == len(pieces) - 1)
            client.send(whole[:2])
            time.sleep(0.02)
            client.send(whole[2:])
        handler, args = served.flow.next_event()
        assert handler == 'timer_fired' and args == (name,)
        raw_session(client, served.flow)


def test_a_big_frame_trickled_in_small_pieces_is_buffered_once(hostile):
    """Regression: the reactor's lean path re-joined its whole buffer at every
    read, so a frame near the limit sent in small pieces cost O(size**2) copying
    on the I/O thread (1.3 s of CPU for 8 MiB in 2 KiB pieces).  A large frame
    still arriving now goes to wsproto, which appends each piece once."""
    text = json.dumps({'_type': 'wf_api_timer_fired_event', 'name': 'n' * (1 << 20)})
    data = frame(OP_TEXT, text)
    with RawClient(hostile.port, '/wf') as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.send(data[:len(data) // 2])
        channels = list(hostile.server._reactor.channels.values())
        assert len(channels) == 1
        wait_until(lambda: not channels[0].fast)  # handed over, not re-buffered
        assert len(channels[0].inbuf) == 0
        for offset in range(len(data) // 2, len(data), 4096):
            client.send(data[offset:offset + 4096])
        handler, args = hostile.flow.next_event()
        assert handler == 'timer_fired' and len(args[0]) == 1 << 20
        raw_session(client, hostile.flow)


def test_max_message_size_is_validated():
    for bad in (0, -1, 'big', None, True):
        with pytest.raises(relaysync.ServerException):
            relaysync.Server('127.0.0.1', 0, max_message_size=bad)


# ================================================ 1. compression bombs
def test_compression_is_never_negotiated_and_compressed_frames_are_refused(hostile, logs):
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = squeeze.compress(b'0' * (64 << 20)) + squeeze.flush(zlib.Z_SYNC_FLUSH)
    bomb = bomb[:-4]  # permessage-deflate strips the sync-flush tail
    assert len(bomb) < 128 * 1024
    offer = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n'
    before = rss_kib()
    with RawClient(hostile.port, '/wf', extra_headers=offer) as client:
        assert client.status == 101
        assert 'sec-websocket-extensions' not in client.head.lower()
        client.send_frame(OP_TEXT, bomb, rsv=RSV1)
        assert client.expect_close() == 1002
    assert log_lines(logs, 'Reserved bit set unexpectedly')
    assert rss_kib() - before < 32 * 1024  # 64 MiB was never inflated
    session_works(hostile)


def test_declared_2_40_bytes_allocates_nothing(hostile):
    before = rss_kib()
    clients = [RawClient(hostile.port, '/wf') for _ in range(20)]
    try:
        for client in clients:
            client.send(frame_header(OP_TEXT, 1 << 40) + KEY + b'x' * 1000)
        for client in clients:
            assert client.expect_close() == 1009
    finally:
        for client in clients:
            client.close()
    assert rss_kib() - before < 32 * 1024
    session_works(hostile)


# ====================================== 1. bad messages on an established connection
JSON_CASES = [
    ('this is not json', 'not JSON'),
    ('', 'not JSON'),
    ('{"_type": "wf_api_start_event"', 'not JSON'),
    ('[' * 100000, 'JSON objects and arrays'),       # refused before parsing
    ('{"a":' * 50000 + '1' + '}' * 50000, 'JSON objects and arrays'),
    ('[' * 5000, 'not JSON'),                        # nesting beyond the recursion limit
    ('[' + '{},' * 30000 + '{}]', 'JSON objects and arrays'),
    ('9' * 5000, 'not JSON'),                        # integer beyond the digit limit
    ('NaN x', 'not JSON'),
    ('[1, 2, 3]', 'not a JSON object'),
    ('"a string"', 'not a JSON object'),
    ('42', 'not a JSON object'),
    ('null', 'not a JSON object'),
    ('true', 'not a JSON object'),
    ('{}', 'without a string _type'),
    ('{"_type": null}', 'without a string _type'),
    ('{"_type": 7}', 'without a string _type'),
    ('{"_type": ["w", "f"]}', 'without a string _type'),
    ('{"_type": {"a": 1}}', 'without a string _type'),
    ('{"_type": [119, 102]}', 'unknown _type'),      # char codes decode to "wf"
    ('{"_type": "wf_api_made_up_thing"}', 'unknown _type'),
    ('{"_type": "\\ud800"}', 'unknown _type'),      # lone surrogate escape
    ('{"_type": "wf_api_get_var_response", "_id": "f00d", "value": 1}',
     'unknown or finished _id'),
    ('{"_type": "wf_api_error_response", "_id": {"x": 1}, "error": "no"}',
     'unknown or finished _id'),
]


@pytest.mark.parametrize('text,fragment', JSON_CASES,
                         ids=[f'{i}-{t[:24]}' for i, (t, _) in enumerate(JSON_CASES)])
def test_bad_message_is_logged_skipped_and_the_connection_keeps_working(hostile, logs, text,
                                                                      fragment):
    with RawClient(hostile.port, '/wf') as client:
        client.send_text(text)
        raw_session(client, hostile.flow)
        assert client.is_open()
    lines = log_lines(logs, fragment)
    assert len(lines) == 1, [r.getMessage() for r in logs.records]
    assert lines[0].levelno == (logging.DEBUG if '_id' in fragment else logging.WARNING)
    assert len(lines[0].getMessage()) < 400  # hostile text is truncated in the log
    assert hostile.flow.events.empty()
    no_errors(logs)
    session_works(hostile)


@pytest.mark.parametrize('event_type', sorted(EVENTS))
def test_event_missing_every_field_reaches_its_handler_with_none(hostile, logs, event_type):
    spec = EVENTS[event_type]
    with RawClient(hostile.port, '/wf') as client:
        client.send_json({'_type': event_type})
        handler, args = hostile.flow.next_event()
        assert handler == spec.name
        assert args == (({},) if spec.whole else (None,) * len(spec.fields))
        raw_session(client, hostile.flow)
    no_errors(logs)


@pytest.mark.parametrize('message,expected', [
    ({'_type': 'wf_api_button_event', 'button': {'x': 1}, 'taps': [1.5]},
     ('button', ({'x': 1}, [1.5], None))),
    ({'_type': 'wf_api_notification_event', 'name': [[]], 'event': {}},
     ('notification', ({}, [[]], None, None))),
    ({'_type': 'wf_api_prompt_event', 'id': {'a': []}, 'type': 'stopped'},
     ('prompt', (None, 'stopped'))),
    ({'_type': 'wf_api_speech_event', 'request_id': [1.5, None], 'text': 5},
     ('speech', (5, None, None, [1.5, None], None))),
    ({'_type': 'wf_api_interaction_lifecycle_event', 'type': ['started']},
     ('interaction_lifecycle', (['started'], None, None))),
    ({'_type': 'wf_api_timer_fired_event', 'name': [104, 105]}, ('timer_fired', ('hi',))),
], ids=['button-unhashable', 'notification-unhashable', 'prompt-id-object',
        'speech-request-id-list', 'lifecycle-type-list', 'char-codes'])
def test_fields_of_the_wrong_type_reach_the_handler_unchanged(hostile, logs, message, expected):
    with RawClient(hostile.port, '/wf') as client:
        client.send_json(message)
        assert hostile.flow.next_event() == expected
        raw_session(client, hostile.flow)
    no_errors(logs)


def test_lone_surrogate_echoed_by_a_handler_fails_that_call_only(runner, logs):
    """JSON may carry "\\ud800", which no UTF-8 text can hold: a handler that
    sends it back gets UnicodeEncodeError at once, nothing stays registered,
    and the connection carries on."""
    def fn(relay):
        bad = relay.get_var('text')
        try:
            relay.say(INTERACTION_URI, bad)
        except UnicodeEncodeError:
            pending = len(relay.connection._pending)
        else:
            raise AssertionError('say() sent a lone surrogate')
        return pending, relay.get_var('after')

    with runner.start(fn) as job:
        request = job.peer.expect('wf_api_get_var_request')
        job.peer.send_text('{"_id": "%s", "_type": "wf_api_get_var_response", '
                           '"value": "x\\ud800y"}' % request['_id'])
        job.peer.respond(job.peer.expect('wf_api_get_var_request'), value='fine')
        assert job.result() == (0, 'fine')
    no_errors(logs)


def test_duplicate_and_unknown_responses_never_complete_another_call(runner, logs):
    def fn(relay):
        return relay.get_var('first'), relay.get_var('second')

    with runner.start(fn) as job:
        peer = job.peer
        first = peer.expect('wf_api_get_var_request')
        peer.send({'_id': 'f' * 32, '_type': 'wf_api_get_var_response', 'value': 'unknown'})
        peer.respond(first, value='one')
        second = peer.expect('wf_api_get_var_request')
        # Answers for the finished first call, in every form, then the real one.
        peer.respond(first, value='duplicate')
        peer.error(first, 'late error')
        peer.send({'_id': [ord(c) for c in first['_id']], '_type': 'wf_api_get_var_response',
                   'value': 'duplicate as char codes'})
        peer.progress(first)
        peer.respond(second, value='two')
        assert job.result() == ('one', 'two')
    assert len(log_lines(logs, 'unknown or finished _id')) == 4
    no_errors(logs)


# ============================================== 1. binary, fragments, control frames
def test_binary_messages_are_logged_and_ignored(hostile, logs):
    with RawClient(hostile.port, '/wf') as client:
        client.send_frame(OP_BINARY, b'\x00\x01\x02')
        client.send_frame(OP_BINARY, b'{"_type": "wf_api_', fin=False)
        client.send_frame(OP_CONT, b'timer_fired_event", "name": "x"}')
        raw_session(client, hostile.flow)
    assert len(log_lines(logs, 'ignored a binary message of 3 bytes')) == 1
    assert len(log_lines(logs, 'ignored a binary message of 50 bytes')) == 1
    assert hostile.flow.events.empty()
    no_errors(logs)


def test_fragmented_message_with_interleaved_control_frames_is_reassembled(hostile):
    text = json.dumps({'_type': 'wf_api_timer_fired_event', 'name': 'h\u00e9llo \u20ac!'},
                      ensure_ascii=False).encode()
    euro = text.index('\u20ac'.encode())
    cuts = [5, euro + 1, euro + 2]  # two cuts inside the three bytes of the euro sign
    pieces = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
    with RawClient(hostile.port, '/wf') as client:
        client.send_frame(OP_TEXT, pieces[0], fin=False)
        client.send_frame(OP_PING, b'mid-message')
        client.send_frame(OP_CONT, pieces[1], fin=False)
        client.send_frame(OP_PONG, b'unsolicited')
        client.send_frame(OP_CONT, pieces[2], fin=False)
        client.send_frame(OP_CONT, pieces[3])
        pong = client.read_frame()
        assert (pong.opcode, pong.payload) == (OP_PONG, b'mid-message')
        assert hostile.flow.next_event() == ('timer_fired', ('h\u00e9llo \u20ac!',))
        raw_session(client, hostile.flow)


def test_one_byte_fragments_and_empty_fragments(hostile):
    text = json.dumps({'_type': 'wf_api_timer_fired_event', 'name': 'bytewise'}).encode()
    with RawClient(hostile.port, '/wf') as client:
        data = frame(OP_TEXT, b'', fin=False)
        for index in range(len(text)):
            data += frame(OP_CONT, text[index:index + 1], fin=False)
        data += frame(OP_CONT, b'')
        client.send(data)
        assert hostile.flow.next_event() == ('timer_fired', ('bytewise',))
        raw_session(client, hostile.flow)


@pytest.mark.parametrize('payload', [b'', b'ping', b'\xff\xfe not utf-8', b'p' * 125])
def test_pings_are_answered_with_the_same_payload(hostile, payload):
    with RawClient(hostile.port, '/wf') as client:
        client.send_frame(OP_PING, payload)
        pong = client.read_frame()
        assert (pong.opcode, pong.payload, pong.fin) == (OP_PONG, payload, True)
        raw_session(client, hostile.flow)


def test_frames_trickled_one_byte_at_a_time(hostile):
    with RawClient(hostile.port, '/wf') as client:
        client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = frame(OP_TEXT, json.dumps({'_type': 'wf_api_timer_fired_event', 'name': 'slow'}))
        for index in range(len(data)):
            client.send(data[index:index + 1])
        assert hostile.flow.next_event() == ('timer_fired', ('slow',))
        raw_session(client, hostile.flow)


# ===================================================== 2. bad connections
HTTP_CASES = [
    ('binary-garbage', bytes(range(256)) * 4 + b'\r\n\r\n', 400, 'malformed request line'),
    ('no-http-version', b'GET /wf\r\n\r\n', 400, 'malformed request line'),
    ('bad-header-line', b'GET /wf HTTP/1.1\r\nno colon here\r\n\r\n', 400,
     'malformed header line'),
    ('absolute-form-target-on-workflow-path', b'GET http://x/wf HTTP/1.1\r\nHost: x\r\n\r\n',
     426, 'accepts WebSocket connections only'),
    ('asterisk-target', b'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 400,
     'request target must be a path'),
    ('no-host-header', b'GET /health HTTP/1.1\r\n\r\n', 400, 'Missing mandatory Host'),
    ('endless-head', b'A' * 20000, 431, 'request head too large'),
    ('too-many-headers', b'GET /wf HTTP/1.1\r\nHost: x\r\n' + b'X-A: b\r\n' * 150 + b'\r\n', 431,
     'too many headers'),
    ('http2-preface', b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505, 'unsupported HTTP/2.0'),
    ('upgrade-unknown-path', upgrade_request('/nope'), 404, 'unknown path /nope'),
    ('upgrade-bad-version', upgrade_request('/wf').replace(b'Version: 13', b'Version: 8'),
     426, 'unsupported Sec-WebSocket-Version'),
    ('upgrade-bad-key', upgrade_request('/wf').replace(b'Key: ', b'Key: short'), 400,
     'invalid Sec-WebSocket-Key'),
    ('upgrade-with-post', upgrade_request('/wf').replace(b'GET', b'POST'), 405,
     'requires GET'),
    ('upgrade-without-connection-header',
     upgrade_request('/wf').replace(b'Connection: Upgrade\r\n', b''), 400,
     'missing "Connection: Upgrade"'),
    ('plain-get-on-workflow-path', b'GET /wf HTTP/1.1\r\nHost: x\r\n\r\n', 426,
     'accepts WebSocket connections only'),
    ('plain-get-unknown', b'GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n', 404,
     'no workflow at /favicon.ico'),
    ('plain-post', b'POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc', 405,
     'POST not allowed'),
    ('health-check', b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n', 200, None),
]


@pytest.mark.parametrize('request_bytes,status,fragment', [c[1:] for c in HTTP_CASES],
                         ids=[c[0] for c in HTTP_CASES])
def test_bad_http_gets_a_status_then_the_server_still_works(hostile, logs, request_bytes,
                                                          status, fragment):
    reply = http_exchange(hostile.port, request_bytes)
    assert reply.startswith(f'HTTP/1.1 {status} '.encode()), reply[:200]
    assert b'Connection: close' in reply
    if fragment is not None:
        assert log_lines(logs, fragment), [r.getMessage() for r in logs.records]
    assert hostile.server.total_connections() == 0
    no_errors(logs)
    session_works(hostile)


def test_tls_client_hello_on_a_plaintext_port_is_refused(serve, logs):
    served = make_hostile(serve, handshake_timeout=1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(('127.0.0.1', served.port), timeout=BOUND) as sock:
        with pytest.raises((ssl.SSLError, OSError)):
            context.wrap_socket(sock, server_hostname='127.0.0.1')
    wait_until(lambda: log_lines(logs, '400 malformed request line'), BOUND)
    session_works(served)


def _dribble(port, stop_at, results, index):
    """Send a valid upgrade request one byte a second; record what the server did."""
    request = upgrade_request('/wf')
    with RawClient(port) as client:
        for position in range(len(request)):
            if time.monotonic() > stop_at:
                results[index] = 'still open at the deadline'
                return
            try:
                client.send(request[position:position + 1])
            except OSError:
                results[index] = ('closed', bytes(client.buf))
                return
            if not client.is_open(wait=1.0):
                results[index] = ('closed', bytes(client.buf))
                return
        results[index] = 'the whole request was sent'


def test_slow_handshakes_are_cut_off_and_never_block_other_connections(serve, logs):
    served = make_hostile(serve, handshake_timeout=1)
    results = {}
    stop_at = time.monotonic() + 10
    threads = [threading.Thread(target=_dribble, args=(served.port, stop_at, results, i),
                                daemon=True) for i in range(20)]
    for thread in threads:
        thread.start()
    for _ in range(5):  # full sessions while twenty clients dribble
        session_works(served)
    for thread in threads:
        thread.join(15)
    assert results == {i: ('closed', b'') for i in range(20)}  # closed, nothing answered
    assert len(log_lines(logs, 'timed out after 1 s')) == 20
    session_works(served)


def _thread_count():
    return threading.active_count()


@pytest.mark.parametrize('cycles', [1000])
def test_connect_abort_cycles_leave_no_threads_or_descriptors(hostile, logs, cycles):
    session_works(hostile)  # warm up (imports, first worker thread)
    wait_until(lambda: hostile.server.total_connections() == 0, BOUND)
    fds_before, threads_before = open_fds(), _thread_count()
    linger = struct.pack('ii', 1, 0)
    request = upgrade_request('/wf')
    start = json.dumps({'_type': 'wf_api_start_event',
                        'trigger': {'type': 'phrase', 'args': {'token': 'aborted'}}})
    upgraded = 0
    for cycle in range(cycles):
        kind = cycle % 5
        sock = socket.create_connection(('127.0.0.1', hostile.port), timeout=BOUND)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            if kind == 1:
                sock.sendall(request[:len(request) // 2])
            elif kind == 2:
                sock.sendall(request)
            elif kind >= 3:
                sock.sendall(request)
                head = b''
                while b'\r\n\r\n' not in head:
                    chunk = sock.recv(4096)
                    assert chunk, 'server closed during the handshake'
                    head += chunk
                assert head.startswith(b'HTTP/1.1 101 ')
                upgraded += 1
                if kind == 4:  # a handler starts and blocks in get_var
                    sock.sendall(frame(OP_TEXT, start))
        finally:
            sock.close()  # SO_LINGER 0: RST
    assert upgraded == 2 * cycles // 5
    wait_until(lambda: hostile.server.total_connections() == 0, 10)
    wait_until(lambda: hostile.server._reactor.socket_count() == 0, 10)
    wait_until(lambda: open_fds() <= fds_before, 10)
    wait_until(lambda: _thread_count() <= threads_before, 10)
    session_works(hostile)
    no_errors(logs)
    # Aborted handlers saw ConnectionClosed, logged at INFO; none succeeded.
    assert 'aborted' not in hostile.flow.results
