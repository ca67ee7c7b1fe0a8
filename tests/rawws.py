"""Byte-level WebSocket client for hostile-input tests.

The regular test peer (:mod:`peer`) is a well-behaved client.  This module
writes whatever bytes a test asks for -- frames with a lying length, reserved
bits, no mask, broken UTF-8, half a handshake -- and reads the server's frames
back without interpreting them, so the tests see exactly what relaysync sends.

It also holds the yardstick the hostile tests end with: :class:`SessionWorkflow`
and :func:`complete_session` / :func:`raw_session`, a normal session whose every
step is checked, to prove the server still serves correctly afterwards.

Every socket has a timeout and every read loop is bounded by a deadline.
"""

import itertools
import json
import os
import queue
import socket
import ssl
import struct
import threading
import time
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import relaysync
from relaysync.events import EVENTS
from peer import RelayPeer, upgrade_request

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10

DEFAULT_TIMEOUT = 5.0


def xor_mask(data: bytes, key: bytes) -> bytes:
    """Apply (or remove) a 4-byte WebSocket masking key."""
    if not data:
        return b''
    repeat = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, 'big') ^ int.from_bytes(repeat, 'big')).to_bytes(len(data), 'big')


def frame_header(opcode: int, length: int, *, fin: bool = True, rsv: int = 0,
                 masked: bool = True) -> bytes:
    """The header bytes (without masking key) of a frame declaring ``length``.

    ``length`` may be anything up to 2**64 - 1, including values the protocol
    forbids; nothing is checked.
    """
    first = (0x80 if fin else 0) | rsv | (opcode & 0x0F)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return bytes((first, mask_bit | length))
    if length < 65536:
        return bytes((first, mask_bit | 126)) + struct.pack('!H', length)
    return bytes((first, mask_bit | 127)) + struct.pack('!Q', length)


def frame(opcode: int, payload: Any = b'', *, fin: bool = True, rsv: int = 0,
          masked: bool = True, key: bytes = b'\x1f\x2e\x3d\x4c',
          length: Optional[int] = None) -> bytes:
    """One client frame.  ``payload`` may be str (UTF-8 encoded) or bytes;
    ``length`` overrides the declared length (the payload is sent as given)."""
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    header = frame_header(opcode, len(payload) if length is None else length,
                          fin=fin, rsv=rsv, masked=masked)
    if not masked:
        return header + payload
    return header + key + xor_mask(payload, key)


def close_payload(code: int, reason: bytes = b'') -> bytes:
    """The payload of a close frame: a 2-byte code and a reason."""
    return struct.pack('!H', code) + reason


class Frame(NamedTuple):
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> Optional[int]:
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack('!H', self.payload[:2])[0]

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode('utf-8', 'replace')


class ServerClosed(Exception):
    """The server closed (FIN) or reset the TCP connection."""


class RawClient:
    """A TCP (optionally TLS) connection speaking raw bytes to a server.

    Args:
        port: the server port on 127.0.0.1.
        path: when given, a valid WebSocket upgrade for ``path`` is sent and
            the response head read (``status``, ``head``).
        extra_headers: lines added to that upgrade request.
        ssl_context: wrap the socket in TLS first.
        timeout: the bound for connecting and for every read.
        rcvbuf: a receive buffer size (``SO_RCVBUF``) set before connecting, for a
            peer that reads slowly or never.
    """

    def __init__(self, port: int, path: Optional[str] = None, *,
                 extra_headers: str = '', ssl_context: Optional[ssl.SSLContext] = None,
                 timeout: float = DEFAULT_TIMEOUT, rcvbuf: Optional[int] = None) -> None:
        self.timeout = timeout
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect(('127.0.0.1', port))
        except BaseException:
            sock.close()
            raise
        if ssl_context is not None:
            try:
                sock = ssl_context.wrap_socket(sock, server_hostname='127.0.0.1')
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self.buf = bytearray()
        self.status: Optional[int] = None
        self.head = ''
        self.frames: List[Frame] = []  # non-close frames seen while waiting for a close
        if path is not None:
            try:
                request = upgrade_request(path)
                if extra_headers:
                    request = request[:-2] + extra_headers.encode('latin-1') + b'\r\n'
                self.sock.sendall(request)
                self.status, self.head = self.read_head()
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------- sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: Any = b'', **kwargs: Any) -> None:
        self.send(frame(opcode, payload, **kwargs))

    def send_text(self, text: Any) -> None:
        self.send_frame(OP_TEXT, text)

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    # ------------------------------------------------------------ receiving
    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError('nothing more from the server in time')
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError('nothing more from the server in time') from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ServerClosed(f'reset: {exc}') from None
        except ssl.SSLError as exc:
            raise ServerClosed(f'TLS error: {exc}') from None
        if not data:
            raise ServerClosed('the server closed the connection')
        self.buf += data

    def _need(self, count: int, deadline: float) -> None:
        while len(self.buf) < count:
            self._fill(deadline)

    def read_head(self, timeout: Optional[float] = None) -> Tuple[int, str]:
        """Read an HTTP response head; return (status, head text)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b'\r\n\r\n' not in self.buf:
            self._fill(deadline)
        end = self.buf.index(b'\r\n\r\n') + 4
        head = bytes(self.buf[:end]).decode('latin-1')
        del self.buf[:end]
        parts = head.split(' ', 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        return status, head

    def read_frame(self, timeout: Optional[float] = None) -> Frame:
        """Read one server frame (server frames are never masked)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._need(2, deadline)
        first, second = self.buf[0], self.buf[1]
        length = second & 0x7F
        offset = 2
        if length == 126:
            self._need(4, deadline)
            length = struct.unpack('!H', self.buf[2:4])[0]
            offset = 4
        elif length == 127:
            self._need(10, deadline)
            length = struct.unpack('!Q', self.buf[2:10])[0]
            offset = 10
        assert not second & 0x80, 'a server frame must not be masked'
        self._need(offset + length, deadline)
        payload = bytes(self.buf[offset:offset + length])
        del self.buf[:offset + length]
        return Frame(bool(first & 0x80), first & 0x70, first & 0x0F, payload)

    def read_close(self, timeout: Optional[float] = None) -> Frame:
        """Read frames until the server's close frame and return it.  Other
        frames are kept in :attr:`frames`.  Raises ServerClosed if the TCP
        connection ends without a close frame."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            received = self.read_frame(max(0.0, deadline - time.monotonic()))
            if received.opcode == OP_CLOSE:
                return received
            self.frames.append(received)

    def expect_close(self, timeout: Optional[float] = None) -> int:
        """The close code the server sends (after answering with our own close
        frame, as a client should); asserts one arrives."""
        received = self.read_close(timeout)
        try:
            self.send_frame(OP_CLOSE, received.payload[:2])
        except OSError:
            pass
        code = received.close_code
        assert code is not None, f'close frame without a code: {received!r}'
        return code

    def read_eof(self, timeout: Optional[float] = None) -> bytes:
        """Read until the server ends the TCP connection; return what came
        (a reset counts as the end).  Fails if it stays open past the timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                self._fill(deadline)
            except ServerClosed:
                return bytes(self.buf)

    def is_open(self, wait: float = 0.2) -> bool:
        """True if the server has not closed the connection within ``wait``
        seconds (anything it sends meanwhile is buffered)."""
        try:
            self._fill(time.monotonic() + wait)
        except TimeoutError:
            return True
        except ServerClosed:
            return False
        return True

    # -------------------------------------------------------------- ending
    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) instead of a FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> 'RawClient':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_fds() -> int:
    """The number of file descriptors this process has open."""
    return len(os.listdir('/proc/self/fd'))


# ----------------------------------------------- a workflow to check sessions
class SessionWorkflow:
    """A workflow whose sessions prove the server still works correctly.

    ``on_start`` reads the trigger arg ``token``, asks the peer for the variable
    named by it (``get_var``), records the answer under the token and
    terminates.  Every other event type is recorded in :attr:`events` as
    ``(handler name, args)``, so tests can see exactly what handlers received.
    """

    def __init__(self, name: str = 'session workflow') -> None:
        self.workflow = relaysync.Workflow(name)
        self.results: Dict[str, Any] = {}
        self.events: 'queue.Queue' = queue.Queue()
        self.lock = threading.Lock()

        @self.workflow.on_start
        def start(relay: Any, trigger: Any) -> None:
            if not isinstance(trigger, dict) or not isinstance(trigger.get('args'), dict):
                self.events.put(('start', (trigger,)))
                return
            token = trigger['args'].get('token')
            value = relay.get_var(token)
            with self.lock:
                self.results[token] = value
            relay.terminate()

        for spec_name in sorted({spec.name for spec in EVENTS.values()} - {'start'}):
            getattr(self.workflow, f'on_{spec_name}')(self._recorder(spec_name))

    def _recorder(self, spec_name: str) -> Any:
        def record(relay: Any, *args: Any) -> None:
            self.events.put((spec_name, args))
        return record

    def next_event(self, timeout: float = DEFAULT_TIMEOUT) -> Tuple[str, tuple]:
        return self.events.get(timeout=timeout)


_tokens = itertools.count(1)


def complete_session(url: str, flow: SessionWorkflow, ssl_context: Optional[ssl.SSLContext] = None,
                     timeout: float = DEFAULT_TIMEOUT) -> str:
    """Run one normal session against ``flow`` at ``url`` with a fresh token and
    assert every step: the request names the token, the handler gets the value
    sent (not another session's), and the instance terminates.  Returns the token."""
    token = f'token-{next(_tokens)}-{os.getpid()}'
    with RelayPeer(url, ssl_context=ssl_context, timeout=timeout) as peer:
        peer.start(token=token)
        request = peer.expect('wf_api_get_var_request')
        assert request['name'] == token, request
        peer.respond(request, value=token.upper())
        peer.expect('wf_api_terminate_request')
    return _await_result(flow, token, timeout)


def _await_result(flow: SessionWorkflow, token: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        with flow.lock:
            if token in flow.results:
                assert flow.results[token] == token.upper(), flow.results[token]
                return token
        if time.monotonic() >= deadline:   # a bounded wait, not a speed grade
            raise AssertionError(f'session {token} never completed')
        time.sleep(0.005)


def read_json(client: RawClient, timeout: Optional[float] = None) -> Dict[str, Any]:
    """The next text message from the server, parsed (pings are answered)."""
    deadline = time.monotonic() + (client.timeout if timeout is None else timeout)
    while True:
        received = client.read_frame(max(0.0, deadline - time.monotonic()))
        if received.opcode == OP_PING:
            client.send_frame(OP_PONG, received.payload)
            continue
        assert received.opcode == OP_TEXT and received.fin, received
        return json.loads(received.payload.decode('utf-8'))


def raw_session(client: RawClient, flow: SessionWorkflow) -> str:
    """Run the :func:`complete_session` exchange on an already-upgraded raw
    connection (the connection stays open afterwards).  Returns the token."""
    token = f'raw-{next(_tokens)}-{os.getpid()}'
    client.send_json({'_type': 'wf_api_start_event',
                      'trigger': {'type': 'phrase', 'args': {'token': token}}})
    request = read_json(client)
    assert request.get('_type') == 'wf_api_get_var_request' and request['name'] == token, request
    client.send_json({'_id': request['_id'], '_type': 'wf_api_get_var_response',
                      'value': token.upper()})
    assert read_json(client).get('_type') == 'wf_api_terminate_request'
    return _await_result(flow, token, client.timeout)
