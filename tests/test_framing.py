"""The server's inbound framing: the lean path for plain text frames and pings,
and the hand-over to wsproto for everything else, over a raw socket so the
test controls every byte and every TCP write boundary."""

import json
import os
import socket
import struct
import threading
import time
from typing import List, Optional, Tuple

import pytest

import relaysync
from conftest import wait_until
from peer import upgrade_request


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True,
          rsv: int = 0) -> bytes:
    """One client frame (masked unless told otherwise)."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack('!H', n)
    else:
        head += bytes([bit | 127]) + struct.pack('!Q', n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def event(index: int, filler: int = 0) -> bytes:
    """A timer_fired event whose name carries an index and ``filler`` bytes."""
    return json.dumps({'_type': 'wf_api_timer_fired_event',
                       'name': f'{index}:' + 'x' * filler}).encode()


class RawPeer:
    """A raw TCP WebSocket client: sends bytes as told, parses server frames."""

    def __init__(self, port: int, path: str = '/wf') -> None:
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(upgrade_request(path))
        self.buf = b''
        while b'\r\n\r\n' not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, 'server closed during the handshake'
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b'\r\n\r\n')
        assert head.startswith(b'HTTP/1.1 101')

    def send_chunked(self, data: bytes, size: int, pause: float = 0.002) -> None:
        for i in range(0, len(data), size):
            self.sock.sendall(data[i:i + size])
            time.sleep(pause)

    def read_frame(self, timeout: float = 5) -> Tuple[int, bytes]:
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7F
                start = 2
                if n == 126:
                    n, start = struct.unpack('!H', self.buf[2:4])[0], 4
                elif n == 127:
                    n, start = struct.unpack('!Q', self.buf[2:10])[0], 10
                if len(self.buf) >= start + n:
                    opcode, payload = self.buf[0] & 0x0F, self.buf[start:start + n]
                    self.buf = self.buf[start + n:]
                    return opcode, payload
            remaining = deadline - time.monotonic()
            assert remaining > 0, 'no frame from the server in time'
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError('server closed the socket')
            self.buf += chunk

    def close_code(self, timeout: float = 5) -> Optional[int]:
        """Read until the server's close frame; return its code."""
        while True:
            opcode, payload = self.read_frame(timeout)
            if opcode == 8:
                return struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else None

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def recorder(serve):
    """A server whose workflow records every timer_fired name, in order."""
    wf = relaysync.Workflow('frames')
    names: List[str] = []
    lock = threading.Lock()

    @wf.on_timer_fired
    def fired(relay, name):
        with lock:
            names.append(name)

    served = serve(wf, max_message_size=256 * 1024)
    peers: List[RawPeer] = []

    def connect() -> RawPeer:
        peer = RawPeer(served.port)
        peers.append(peer)
        return peer

    yield served, names, connect
    for peer in peers:
        peer.close()


SIZES = [(0, 5), (1, 200), (2, 70_000), (3, 0), (4, 125 - 40), (5, 65_535 - 60)]


def all_frames() -> bytes:
    return b''.join(frame(1, event(i, filler)) for i, filler in SIZES)


def indices(names: List[str]) -> List[int]:
    return [int(n.split(':', 1)[0]) for n in names]


@pytest.mark.parametrize('chunk', [None, 1, 7, 1000])
def test_text_frames_of_every_length_encoding_and_any_tcp_split(recorder, chunk):
    served, names, connect = recorder
    peer = connect()
    data = all_frames()
    if chunk is None:
        peer.sock.sendall(data)
    elif chunk == 1:
        # A byte at a time for the frame headers of a small frame, then the rest.
        small = frame(1, event(99, 3))
        peer.send_chunked(small, 1, pause=0.001)
        peer.send_chunked(data, 4096, pause=0.001)
    else:
        # Small writes across the first three frame headers, then larger ones.
        peer.send_chunked(data[:3000], chunk, pause=0.0005)
        peer.send_chunked(data[3000:], 4093, pause=0.001)
    expected = ([99] if chunk == 1 else []) + [i for i, _ in SIZES]
    wait_until(lambda: len(names) == len(expected), timeout=20)
    assert indices(names) == expected
    assert [len(n) for n in names if n.startswith('2:')] == [len('2:') + 70_000]


def test_ping_between_text_frames_is_answered_in_order(recorder):
    served, names, connect = recorder
    peer = connect()
    peer.sock.sendall(frame(1, event(1)) + frame(9, b'are you there') + frame(1, event(2)))
    opcode, payload = peer.read_frame()
    assert (opcode, payload) == (10, b'are you there')
    wait_until(lambda: indices(names) == [1, 2])


def test_fragmented_message_hands_over_to_wsproto_and_later_frames_still_work(recorder):
    served, names, connect = recorder
    peer = connect()
    whole = event(2, 50)
    peer.sock.sendall(frame(1, event(1))
                      + frame(1, whole[:10], fin=False)
                      + frame(9, b'mid')                 # a control frame between fragments
                      + frame(0, whole[10:30], fin=False)
                      + frame(0, whole[30:], fin=True)
                      + frame(1, event(3)))
    assert peer.read_frame() == (10, b'mid')
    wait_until(lambda: indices(names) == [1, 2, 3])
    assert names[1] == '2:' + 'x' * 50
    # Still fully served after the hand-over: pings and messages.
    peer.sock.sendall(frame(9, b'again') + frame(1, event(4)))
    assert peer.read_frame() == (10, b'again')
    wait_until(lambda: indices(names) == [1, 2, 3, 4])


def test_binary_message_is_ignored_and_the_connection_continues(recorder):
    served, names, connect = recorder
    peer = connect()
    peer.sock.sendall(frame(1, event(1)) + frame(2, b'\x00\x01binary') + frame(1, event(2)))
    wait_until(lambda: indices(names) == [1, 2])


@pytest.mark.parametrize('bad, code', [
    (frame(1, b'{"_type": "\xff\xfe"}'), 1007),       # invalid UTF-8
    (frame(1, event(7), mask=False), 1002),          # a client frame must be masked
    (frame(1, event(7), rsv=0x40), 1002),            # RSV1 without negotiated deflate
    (frame(0, event(7)), 1002),                      # continuation with nothing to continue
    (frame(9, b'x' * 126), 1002),                    # control frame over 125 bytes
    (frame(3, b'reserved opcode'), 1002),
], ids=['invalid-utf8', 'unmasked', 'rsv1', 'stray-continuation', 'long-control',
        'reserved-opcode'])
def test_protocol_violations_after_good_frames_close_with_the_rfc_code(recorder, bad, code):
    served, names, connect = recorder
    peer = connect()
    peer.sock.sendall(frame(1, event(1)) + bad + frame(1, event(2)))
    assert peer.close_code() == code
    wait_until(lambda: indices(names) == [1])
    time.sleep(0.1)
    assert indices(names) == [1]     # nothing after the violation is delivered
    # The same server still serves a new connection normally.
    fresh = connect()
    fresh.sock.sendall(frame(1, event(5)))
    wait_until(lambda: indices(names) == [1, 5])


def test_message_over_the_limit_is_closed_with_1009_even_mid_stream(recorder):
    served, names, connect = recorder
    peer = connect()
    peer.sock.sendall(frame(1, event(1)) + frame(1, event(2, 300 * 1024)))
    assert peer.close_code() == 1009
    assert indices(names) == [1]


def test_close_frame_is_answered_with_the_same_code(recorder):
    served, names, connect = recorder
    peer = connect()
    peer.sock.sendall(frame(1, event(1)) + frame(8, struct.pack('!H', 1001) + b'bye'))
    assert peer.close_code() == 1001
    wait_until(lambda: indices(names) == [1])
    wait_until(lambda: served.server.total_connections() == 0)


def test_failed_connection_half_closes_after_the_close_frame_then_lingers(recorder):
    served, names, connect = recorder
    peer = connect()
    peer.sock.sendall(frame(1, event(1)) + frame(1, event(7), mask=False))
    assert peer.close_code() == 1002
    # The server half-closed right after its close frame (well inside its 2 s
    # close timeout) ...
    peer.sock.settimeout(1.5)
    assert peer.sock.recv(100) == b''
    # ... and still drains what the client sends, without resetting, until the
    # client's own FIN; then the connection is gone.
    peer.sock.sendall(frame(1, event(8)) * 10)
    peer.sock.shutdown(socket.SHUT_WR)
    wait_until(lambda: served.server.total_connections() == 0)
    assert indices(names) == [1]


def test_concurrent_large_sends_from_many_threads_arrive_intact(serve):
    """Direct writes by workers and queued writes by the I/O thread never
    interleave inside a frame, even when big frames are written partially."""
    from peer import RelayPeer
    wf = relaysync.Workflow('senders')
    results: List[str] = []
    threads_done = threading.Event()

    @wf.on_start
    def start(relay, trigger):
        def sender(k: int) -> None:
            for i in range(5):
                # 1.5 MB each, six at a time: more than loopback socket buffers
                # take at once, so writes go partial.
                relay.log_message(f'{k}:{i}:' + chr(0x41 + k) * 1_500_000)
                results.append(f'{k}:{i}')
        workers = [threading.Thread(target=sender, args=(k,)) for k in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        threads_done.set()

    served = serve(wf, max_message_size=1 << 20)
    with RelayPeer(served.url(), timeout=30) as peer:
        peer.start()
        seen = set()
        for _ in range(6 * 5):
            request = peer.expect('wf_api_log_analytics_event_request')
            k, i, body = request['content'].split(':', 2)
            assert body == chr(0x41 + int(k)) * 1_500_000     # intact, not spliced
            seen.add((int(k), int(i)))
            peer.respond(request)
        assert threads_done.wait(30)
    assert seen == {(k, i) for k in range(6) for i in range(5)}
    assert len(results) == 30
