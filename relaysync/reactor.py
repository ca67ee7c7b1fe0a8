"""The I/O thread: one selector loop for every socket of a server.

One thread owns every socket: it accepts, runs the TLS and HTTP handshakes,
reads and deframes, hands each complete text message to the connection engine's
router, answers pings and closes, sends keepalive pings, and writes what the
workers queued.  Workers only ever *write*, and only in one case:
:meth:`Channel.send_text` writes a plaintext frame itself while this thread is
asleep in ``select`` and nothing is queued (saving a hand-off); otherwise it
appends to the outbox and wakes this thread.  Every write happens under the
channel's lock, so frames never interleave.

Why one I/O thread: measured on 2 cores, threads that each read their own
socket collapse once hundreds are busy (GIL convoys around every syscall), and
OpenSSL must never see a read and a write on one TLS socket at the same time.
Reads happen on this thread alone, and TLS sockets are written only by it.

What one peer can cost is bounded both ways (see :class:`IOLimits`): a sender
waits while ``max_send_buffer`` bytes are queued for its peer, a peer that
takes no bytes for ``ping_timeout`` while data is queued is dropped, and the
engine can pause reading a socket (:meth:`Channel.pause_reading`) while its
instance has too many events queued.
"""

import collections
import errno
import itertools
import logging
import os
import selectors
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Optional, cast

from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import (BytesMessage, CloseConnection, Ping, Pong,
                            TextMessage)
from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits

from . import handshake
from .exceptions import ConnectionClosed

logger = logging.getLogger('relaysync.server')

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE
_RECV = 65536
#: Small frames are joined into one TLS write up to this size.
_TLS_BATCH = 16 * 1024
#: Bytes handed to OpenSSL per write: one TLS record.
_TLS_RECORD = 16 * 1024
#: Most buffers handed to one ``sendmsg`` call.
_IOV_MAX = 64
_HAS_SENDMSG = hasattr(socket.socket, 'sendmsg')
try:   # Linux: the socket's unacknowledged bytes, and its TCP state
    import fcntl
    import termios
    _SIOCOUTQ: Optional[int] = termios.TIOCOUTQ
except (ImportError, AttributeError):   # pragma: no cover - not Linux
    _SIOCOUTQ = None
_TCP_INFO: Optional[int] = getattr(socket, 'TCP_INFO', None)
_TCP_GONE = (7, 8)        # TCP_CLOSE, TCP_CLOSE_WAIT: reset, or closed by the peer
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantWriteError,
                ssl.SSLWantReadError)
# Longest single sleep of a waiting sender (Condition.wait overflows on huge timeouts).
_MAX_SLEEP = 3600.0

# Channel states
TLS_HANDSHAKE, HTTP, OPEN, CLOSING, FINISHING, DONE = range(6)
_STATE_NAMES = ('tls-handshake', 'http', 'open', 'closing', 'finishing', 'done')


@dataclass(frozen=True)
class IOLimits:
    """What the I/O thread allows one connection; built from the server's options.

    Attributes:
        max_message_size: largest inbound message in bytes (1009 beyond it).
        handshake_timeout: seconds to finish the TLS and HTTP handshakes.
        ping_interval: seconds of silence before a keepalive ping (None: off).
        ping_timeout: seconds to wait for the pong, and the longest a peer may
            take no bytes at all while data is queued for it.
        max_send_buffer: bytes queued for one peer before senders wait.
        max_sockets: most open sockets; further accepts are closed at once.
        close_timeout: seconds the closing handshake may take.
    """
    max_message_size: int = 8 * 1024 * 1024
    handshake_timeout: float = 10.0
    ping_interval: Optional[float] = 20.0
    ping_timeout: float = 20.0
    max_send_buffer: int = 4 * 1024 * 1024
    max_sockets: int = 4096 + 256
    close_timeout: float = 2.0


def text_frame(text: str) -> bytes:
    """One unmasked, final text frame (RFC 6455 §5.2) carrying ``text``.

    Server-to-client data frames need no state, so they are built here rather
    than through wsproto's per-message machinery; everything inbound and every
    control frame still goes through wsproto.
    """
    payload = text.encode('utf-8')
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return b'\x81\x7e' + n.to_bytes(2, 'big') + payload
    return b'\x81\x7f' + n.to_bytes(8, 'big') + payload


_NO_RSV = RsvBits(False, False, False)
#: Largest incomplete frame the lean path keeps buffering itself (bytes).
_FAST_PARTIAL = 64 * 1024
#: Frames one connection may have handled per turn of the loop; the rest wait
#: for the next turn, so a flood of tiny frames cannot starve the others.
_FRAME_BUDGET = 1000
#: Most frames one message may be split into (1009 beyond).
_MAX_FRAGMENTS = 10_000


def _unsent(sock: socket.socket) -> Optional[int]:
    """Bytes written to ``sock`` that its peer has not acknowledged yet (Linux), else None."""
    if _SIOCOUTQ is None:
        return None
    try:
        unsent: int = struct.unpack('i', fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b'\0\0\0\0'))[0]
        return unsent
    except (OSError, ValueError):
        return None


def _peer_gone(sock: socket.socket) -> bool:
    """Whether the peer has reset or closed its side, without reading any data."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return True
        if _TCP_INFO is not None:
            state = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)[0]
            return state in _TCP_GONE
    except (OSError, ValueError):
        return True
    return False


class SizeGuard(Extension):
    """Enforces ``max_message_size`` on the lengths frames *declare*.

    A wsproto extension that is never offered or negotiated; wsproto consults
    it at each frame header, before any payload is buffered.  A message whose
    data frames together declare more than ``limit`` bytes fails the connection
    with 1009 at once (a header claiming 2**40 bytes costs nothing), and the
    limit counts wire bytes, not decoded characters.  A header can be seen more
    than once while its masking key is still in transit, so only completed
    frames are added to the running total.
    """
    name = 'relaysync-size-guard'

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._done = 0        # bytes of the current message's completed frames
        self._frame = 0       # declared length of the frame being received
        self._control = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(self, proto: Any, opcode: Opcode, rsv: RsvBits,
                             payload_length: int) -> Any:
        self._control = opcode.iscontrol()
        if self._control:
            return _NO_RSV
        if opcode is not Opcode.CONTINUATION:
            self._done = 0
        self._frame = payload_length
        if self._done + payload_length > self.limit:
            return CloseReason.MESSAGE_TOO_BIG
        return _NO_RSV

    def frame_inbound_complete(self, proto: Any, fin: bool) -> None:
        if not self._control:
            self._done = 0 if fin else self._done + self._frame
        return None


class Channel:
    """One accepted socket, from the first byte to close.  The engine's transport."""

    def __init__(self, reactor: 'Reactor', sock: socket.socket, peer: Any,
                 adopted: bool = False) -> None:
        self.reactor = reactor
        self.limits = reactor.limits
        self.sock = sock
        self.peer = peer
        self.fileno = sock.fileno()
        # An adopted socket belongs to a host server (WSGI): its handshakes are
        # done, and on finish it is shut down but left for the host to close.
        self.adopted = adopted
        self.finished = threading.Event()
        self.tls = isinstance(sock, ssl.SSLSocket)
        if adopted:
            self.state = OPEN        # registered with the selector by Reactor.adopt
        else:
            self.state = TLS_HANDSHAKE if self.tls else HTTP
        self.lock = threading.Lock()
        # Outbound: frames in order, the first one written up to out_offset;
        # out_bytes counts what is left.  Senders wait on ``room`` while it is over
        # max_send_buffer.
        self.outbox: Deque[bytes] = collections.deque()
        self.out_offset = 0
        self.out_bytes = 0
        self.tls_retry = False        # a TLS write of outbox[0] must be repeated as is
        self.room = threading.Condition(self.lock)
        self.room_waiters = 0
        self.queued = False           # in the reactor's dirty list
        self.want_write = False
        # Reading paused by the engine (too many queued events): want_paused is its
        # latest wish, set from any thread in the engine's order; paused is what the
        # I/O thread has applied to the selector.
        self.want_paused = False
        self.paused = False
        self.held = False             # frames left from a turn's budget: reading waits
        self.mask = 0 if adopted else _READ   # events registered with the selector
        self.request_reader: Optional[handshake.RequestReader] = None
        self.inbuf = b''
        self.fast = True              # on the lean frame path (see _fast_frames)
        self.failed = False           # failed connection: lingering close (see close)
        self.half_closed = False
        self.direct = not self.tls    # workers may write (send_text)
        # Set by upgrade() or attach(), before the first frame.
        self.ws: WsConnection = cast(WsConnection, None)
        self.conn: Any = None         # the engine Connection once upgraded
        self.parts: List[Any] = []    # fragments of the message being received
        self.size = 0
        now = time.monotonic()
        self.started = now
        self.last_seen = now          # last byte received
        self.last_write = now         # last byte written, or when the outbox last filled
        self.ping_sent: Optional[float] = None
        self.ping_payload = b''
        # Proof that the peer reads: the echo of a ping, or an answer to a request.
        self.last_proof = now
        self.unproven = False         # data sent since the last proof
        self.last_unsent = 0          # bytes the kernel still held at the last probe
        self.close_deadline = 0.0
        self.close_code = 1006
        self.close_reason = ''

    def __repr__(self) -> str:
        return f'<Channel {self.peer} {_STATE_NAMES[self.state]}>'

    @property
    def name(self) -> str:
        """The connection id once upgraded, else the peer address (for log lines)."""
        return self.conn.id if self.conn is not None else str(self.peer)

    # ---------------------------------------------------- transport (any thread)
    def send_text(self, text: str, timeout: Optional[float] = None) -> None:
        """Send one text message.

        When the I/O thread is asleep and nothing is queued, a plaintext frame is
        written right here (saving a thread hand-off); otherwise it is queued for
        the I/O thread, which batches everything queued meanwhile.  TLS sockets
        are only ever written by the I/O thread.  While ``max_send_buffer`` bytes
        are already queued for the peer, the caller waits for them to drain.

        Args:
            text: the message.
            timeout: the longest wait for room in the send buffer (None: no limit).

        Raises:
            ConnectionClosed: the connection is not open, or closes meanwhile.
            TimeoutError: the peer took too little of the backlog within ``timeout``.
        """
        frame = text_frame(text)
        with self.lock:
            if self.state != OPEN:
                raise ConnectionClosed(self.close_code, self.close_reason)
            self.unproven = True
            if self.out_bytes and self.out_bytes + len(frame) > self.limits.max_send_buffer:
                self._wait_room(len(frame), timeout)
            if self.direct and not self.outbox and self.reactor.idle:
                try:
                    sent = self.sock.send(frame)
                except OSError:     # would block, or an error the I/O thread will see
                    sent = 0
                if sent == len(frame):
                    return
                self._queue(frame)
                if sent:
                    self.out_offset = sent
                    self.out_bytes -= sent
            else:
                self._queue(frame)
            if self.queued:
                return
            self.queued = True
        self.reactor.schedule(self)

    def _wait_room(self, size: int, timeout: Optional[float]) -> None:
        # caller holds self.lock
        deadline = None if timeout is None else time.monotonic() + timeout
        self.room_waiters += 1
        try:
            while (self.state == OPEN and self.out_bytes
                   and self.out_bytes + size > self.limits.max_send_buffer):
                remaining = _MAX_SLEEP if deadline is None else deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f'the peer did not read: {self.out_bytes} bytes '
                                       f'still queued for it')
                self.room.wait(min(remaining, _MAX_SLEEP))
        finally:
            self.room_waiters -= 1
        if self.state != OPEN:
            raise ConnectionClosed(self.close_code, self.close_reason)

    def _queue(self, data: bytes) -> None:
        # caller holds self.lock
        if not self.outbox:
            self.last_write = time.monotonic()   # the stall clock starts now
        self.outbox.append(data)
        self.out_bytes += len(data)

    def close(self, code: int = 1000, reason: str = '', fail: bool = False) -> None:
        """Start the closing handshake with ``code``; pending calls fail at once.

        ``fail=True`` *fails* the connection (RFC 6455 §7.1.7, for protocol
        errors and oversized messages): nothing more is parsed; once the close
        frame is written the socket is half-closed, and input is discarded until
        the peer's FIN or the close timeout (a lingering close, so no TCP reset
        can destroy the close frame in flight).
        """
        with self.lock:
            if self.state != OPEN:
                return
            self._queue_close(code, reason)
            self.failed = fail
            schedule = not self.queued
            self.queued = True
        if self.conn is not None:
            self.conn.closed(code, reason)
        if schedule:
            self.reactor.schedule(self)

    def _queue_close(self, code: int, reason: str) -> None:
        # caller holds self.lock, state is OPEN
        self._queue(self.ws.send(CloseConnection(code=code, reason=reason)))
        self._set_state(CLOSING)
        self.close_code, self.close_reason = code, reason
        self.close_deadline = time.monotonic() + self.limits.close_timeout

    def _set_state(self, state: int) -> None:
        # caller holds self.lock; senders waiting for room give up once not OPEN
        self.state = state
        if self.room_waiters:
            self.room.notify_all()

    def pause_reading(self) -> None:
        """Stop reading from the peer until :meth:`resume_reading` (any thread).

        No frame is parsed after the current one; TCP flow control then holds
        the peer back.  Keepalive is suspended meanwhile: the silence is this
        side's doing.  Only records the wish and wakes the I/O thread, so the
        engine may call it under its own lock, in its own order.
        """
        self.want_paused = True
        self.reactor.call_soon(self._apply_pause)

    def resume_reading(self) -> None:
        """Read from the peer again after :meth:`pause_reading` (any thread)."""
        self.want_paused = False
        self.reactor.call_soon(self._apply_pause)

    # -------------------------------------------------------- I/O thread only
    def _apply_pause(self) -> None:
        paused = self.want_paused
        if self.paused == paused or self.state == DONE:
            return
        self.paused = paused
        if not paused:
            self.last_seen = time.monotonic()
            self.ping_sent = None
        self.update_interest()
        if not paused and self.state in (OPEN, CLOSING) and not self.failed:
            self._frames(b'')   # the frames received before the pause
            if self.tls and not self.want_paused and cast(ssl.SSLSocket, self.sock).pending():
                self._read()    # bytes OpenSSL already decrypted never wake the selector

    def update_interest(self) -> None:
        """Register the events this channel waits for with the selector."""
        mask = (0 if self.paused or self.held else _READ) | (_WRITE if self.want_write else 0)
        if mask == self.mask or self.state == DONE \
                or self.reactor.channels.get(self.fileno) is not self:
            return
        selector = self.reactor.selector
        try:
            if self.mask == 0:
                selector.register(self.sock, mask, self)
            elif mask == 0:
                selector.unregister(self.sock)
            else:
                selector.modify(self.sock, mask, self)
        except (KeyError, ValueError, OSError):
            pass
        self.mask = mask

    def write_raw(self, data: bytes, then_finish: bool = False) -> None:
        """Queue bytes outside WebSocket framing (HTTP responses)."""
        with self.lock:
            self._queue(data)
            if then_finish:
                self._set_state(FINISHING)
        self.flush()

    def flush(self) -> None:
        """Write what the socket takes of the outbox (I/O thread)."""
        error = None
        # Written under the lock, so a worker's direct send can never slip in
        # between taking the queued bytes and writing them.
        with self.lock:
            self.queued = False
            if self.outbox:
                try:
                    self._write()
                except OSError as exc:
                    error = exc
            empty = not self.outbox
            if self.room_waiters:
                self.room.notify_all()
        if error is not None:
            self.abort(1006, f'send failed: {error}')
            return
        if not empty:
            if not self.want_write:
                self.want_write = True
                self.update_interest()
            return
        if self.want_write:
            self.want_write = False
            self.update_interest()
        if self.state == FINISHING:
            self.finish()
        elif self.failed and self.state == CLOSING and not self.half_closed:
            self.half_closed = True
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self.finish()

    def _write(self) -> None:
        # caller holds self.lock; writes until the outbox is empty or the socket is full.
        # Linear in the bytes written: frames are never joined with the backlog.
        outbox, sock = self.outbox, self.sock
        while outbox:
            first, offset = outbox[0], self.out_offset
            if self.tls:
                if not self.tls_retry and not offset and len(outbox) > 1 \
                        and len(first) < _TLS_BATCH:
                    first = self._join_small()
                # At most one TLS record per write, so that progress shows record
                # by record; after WANT_WRITE the very same slice goes again.
                end = min(len(first), offset + _TLS_RECORD)
                data: Any = memoryview(first)[offset:end] if offset or end < len(first) else first
                try:
                    sent = sock.send(data)
                except _WOULD_BLOCK:
                    # OpenSSL wants the very same bytes again: keep outbox[0] as it is.
                    self.tls_retry = True
                    return
                self.tls_retry = False
                attempted = end - offset
            elif _HAS_SENDMSG and len(outbox) > 1:
                buffers = [memoryview(first)[offset:] if offset else first]
                buffers.extend(itertools.islice(outbox, 1, _IOV_MAX))
                try:
                    sent = sock.sendmsg(buffers)
                except _WOULD_BLOCK:
                    return
                attempted = sum(len(b) for b in buffers)
            else:
                try:
                    sent = sock.send(memoryview(first)[offset:] if offset else first)
                except _WOULD_BLOCK:
                    return
                attempted = len(first) - offset
            if sent:
                self.last_write = time.monotonic()
                self.out_bytes -= sent
                offset += sent
                while outbox and offset >= len(outbox[0]):
                    offset -= len(outbox.popleft())
                self.out_offset = offset
            if sent < attempted:
                return   # the socket is full for now

    def _join_small(self) -> bytes:
        # caller holds self.lock: replace the leading small frames by one joined chunk
        outbox = self.outbox
        parts = [outbox.popleft()]
        total = len(parts[0])
        while outbox and total + len(outbox[0]) <= _TLS_BATCH:
            total += len(outbox[0])
            parts.append(outbox.popleft())
        joined = b''.join(parts)
        outbox.appendleft(joined)
        return joined

    def on_event(self, mask: int) -> None:
        if mask & _WRITE:
            if self.state == TLS_HANDSHAKE:
                self._tls_handshake()
                return
            self.flush()
        if mask & _READ and self.state != DONE and not self.want_paused and not self.held:
            if self.state == TLS_HANDSHAKE:
                self._tls_handshake()
            else:
                self._read()

    def _tls_handshake(self) -> None:
        try:
            cast(ssl.SSLSocket, self.sock).do_handshake()
        except ssl.SSLWantReadError:
            self.want_write = False
            self.update_interest()
            return
        except ssl.SSLWantWriteError:
            self.want_write = True
            self.update_interest()
            return
        except (ssl.SSLError, OSError) as exc:
            logger.info('TLS handshake with %s failed: %s', self.peer,
                        handshake.escape(str(exc)))
            self.finish()
            return
        self.state = HTTP
        self.want_write = False
        self.update_interest()
        if cast(ssl.SSLSocket, self.sock).pending():
            self._read()

    def _read(self) -> None:
        sock = self.sock
        while True:
            try:
                data = sock.recv(_RECV)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                return
            except OSError as exc:
                self.abort(1006, f'receive failed: {exc}')
                return
            if not data:
                self.abort(1006, 'peer closed the socket')
                return
            self.last_seen = time.monotonic()
            if self.state == HTTP:
                self._http(data)
            elif self.failed:
                pass                       # lingering close: discard until the peer's FIN
            elif self.state in (OPEN, CLOSING):
                self._frames(data)
            if (self.state == DONE or self.want_paused or self.held or not self.tls
                    or not cast(ssl.SSLSocket, sock).pending()):
                return

    def _http(self, data: bytes) -> None:
        if self.request_reader is None:
            self.request_reader = handshake.RequestReader()
        try:
            parsed = self.request_reader.feed(data)
            if parsed is None:
                return
            self.request_reader = None
            request, rest = parsed
            self.reactor.on_request(self, request, rest)
        except handshake.HandshakeError as exc:
            if not exc.logged:
                logger.info('refused %s: %d %s', self.peer, exc.status,
                            handshake.escape(exc.message))
            self.write_raw(handshake.error_response(exc), then_finish=True)

    def upgrade(self, key: str, conn: Any, rest: bytes) -> None:
        """Accept the WebSocket (called on the I/O thread once the path is known).

        The ``101`` response is queued in the same step that opens the channel,
        so nothing (a close frame from a concurrent ``stop()``) can precede it.
        """
        self.ws = WsConnection(ConnectionType.SERVER,
                               extensions=[SizeGuard(self.limits.max_message_size)])
        self.conn = conn
        with self.lock:
            self._queue(handshake.upgrade_response(key))
            self._set_state(OPEN)
        self.flush()
        if rest and self.state == OPEN:
            self._frames(rest)

    def attach(self, conn: Any) -> None:
        """Bind the engine to an adopted socket whose 101 response was sent."""
        self.ws = WsConnection(ConnectionType.SERVER,
                               extensions=[SizeGuard(self.limits.max_message_size)])
        self.conn = conn

    def _frames(self, data: bytes) -> None:
        """Handle received WebSocket bytes: up to :data:`_FRAME_BUDGET` frames a
        turn; the rest waits (``held``) while the other connections get theirs."""
        if self.fast:
            data = self._fast_frames(data)
            if not data:
                return
        ws = self.ws
        ws.receive_data(data)
        limit = self.limits.max_message_size
        budget = _FRAME_BUDGET
        ping: Optional[Ping] = None
        try:
            for event in ws.events():
                budget -= 1
                if isinstance(event, TextMessage) or isinstance(event, BytesMessage):
                    if self.state != OPEN:
                        continue
                    if event.message_finished and not self.parts:
                        self.size = len(event.data)
                        if self.size > limit:
                            self._too_big()
                            return
                        self._message(event.data, isinstance(event, BytesMessage))
                        self.size = 0
                    else:
                        self.parts.append(event.data)
                        self.size += len(event.data)
                        if self.size > limit:
                            self._too_big()
                            return
                        if len(self.parts) > _MAX_FRAGMENTS:
                            self._too_big(f'more than {_MAX_FRAGMENTS} fragments')
                            return
                        if event.message_finished:
                            parts, self.parts, self.size = self.parts, [], 0
                            joined = (''.join(parts) if isinstance(event, TextMessage)
                                      else b''.join(parts))
                            self._message(joined, isinstance(event, BytesMessage))
                elif isinstance(event, Ping):
                    ping = event          # answering the latest is enough (RFC 6455 §5.5.3)
                elif isinstance(event, Pong):
                    self._pong_received(event.payload)
                elif isinstance(event, CloseConnection):
                    if event.code == 1009 and ws.state == ConnectionState.OPEN:
                        self._too_big()  # the SizeGuard refused a frame header
                        return
                    self._peer_close(event)
                    return
                if self.want_paused:
                    return    # the rest stays in wsproto's buffer until resume_reading()
                if budget <= 0:
                    self._hold()
                    return
        finally:
            if ping is not None and ws.state == ConnectionState.OPEN:
                self._pong(ws.send(ping.response()))

    def _pong(self, frame: bytes) -> None:
        with self.lock:
            # A peer that pings without reading gets no answers beyond the send
            # buffer's limit (RFC 6455 §5.5.3 allows answering only the latest).
            if self.state == OPEN and self.out_bytes < self.limits.max_send_buffer:
                self._queue(frame)
        self.flush()

    def _pong_received(self, payload: Any) -> None:
        # Only the answer to our own ping counts: an unsolicited pong proves
        # nothing about whether the peer reads what it is sent.
        if self.ping_sent is not None and bytes(payload) == self.ping_payload:
            self.ping_sent = None
            self.last_proof, self.unproven = self.last_seen, False

    def _fast_frames(self, data: bytes) -> bytes:
        """The hot path: deliver complete, final, masked text frames and answer
        pings without wsproto's per-message machinery; stop at a pause.

        Returns the bytes it will not handle, starting at a frame boundary:
        from then on the connection goes through wsproto, which validates and
        closes as the RFC says (fragments, binary, close frames, reserved bits,
        unmasked frames, non-minimal lengths, oversized messages, invalid
        UTF-8, ...).
        """
        buf = self.inbuf + data if self.inbuf else data
        n = len(buf)
        pos = 0
        limit = self.limits.max_message_size
        receive = self.conn.receive_text
        budget = _FRAME_BUDGET
        ping = b''
        while self.state == OPEN and not self.want_paused:   # the rest waits in inbuf
            if n - pos < 2:
                break
            budget -= 1
            if budget < 0:
                self._hold()
                break
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b0 & 0x70 or not b1 & 0x80:      # reserved bits, or an unmasked frame
                return self._leave_fast(buf, pos)
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[start:start + 2], 'big')
                if length < 126:
                    return self._leave_fast(buf, pos)   # non-minimal: wsproto fails it
                start += 2
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[start:start + 8], 'big')
                if length < 65536:
                    return self._leave_fast(buf, pos)   # non-minimal (or MSB set)
                start += 8
            opcode = b0 & 0x0F
            if b0 & 0x80 == 0 or (opcode != 1 and (opcode not in (9, 10) or length > 125)):
                return self._leave_fast(buf, pos)  # fragments, binary, close, odd control
            if length > limit:
                return self._leave_fast(buf, pos)
            end = start + 4 + length
            if end > n:
                if length > _FAST_PARTIAL:
                    # Re-joining the buffer at each read would cost O(length**2)
                    # for a frame trickled in small pieces; wsproto buffers linearly.
                    return self._leave_fast(buf, pos)
                break                                # wait for the rest of the frame
            payload = buf[start + 4:end]
            if length:
                mask = buf[start:start + 4] * (length // 4 + 1)
                payload = (int.from_bytes(payload, 'little')
                           ^ int.from_bytes(mask[:length], 'little')).to_bytes(length, 'little')
            if opcode == 1:
                try:
                    text = payload.decode('utf-8')
                except UnicodeDecodeError:
                    self._flush_pong(ping)
                    return self._leave_fast(buf, pos)
                pos = end
                if receive(text):
                    self.last_proof, self.unproven = self.last_seen, False
            elif opcode == 9:
                pos = end
                ping = bytes((0x8A, length)) + payload   # answer the latest only (§5.5.3)
            else:
                pos = end
                self._pong_received(payload)
        self._flush_pong(ping)
        if self.state != OPEN and pos < n:
            return self._leave_fast(buf, pos)
        self.inbuf = buf[pos:] if pos < n else b''
        return b''

    def _flush_pong(self, pong: bytes) -> None:
        if pong:
            self._pong(pong)

    def _leave_fast(self, buf: bytes, pos: int) -> bytes:
        self.fast = False
        self.inbuf = b''
        return buf[pos:]

    def _hold(self) -> None:
        """Stop reading until the frames already received are handled, in a later turn."""
        if not self.held:
            self.held = True
            self.update_interest()
            self.reactor.call_soon(self._release)

    def _release(self) -> None:
        if not self.held or self.state == DONE:
            return
        self.held = False
        if self.state in (OPEN, CLOSING) and not self.failed:
            self._frames(b'')
        if not self.held:
            self.update_interest()
            if (self.tls and not self.want_paused and self.state != DONE
                    and cast(ssl.SSLSocket, self.sock).pending()):
                self._read()

    def _message(self, data: Any, binary: bool) -> None:
        if binary:
            logger.warning('[%s] ignored a binary message of %d bytes (Relay sends text)',
                           self.conn.id, len(data))
            return
        if self.conn.receive_text(data):
            self.last_proof, self.unproven = self.last_seen, False

    def _too_big(self, why: str = '') -> None:
        if why:
            logger.warning('[%s] closing: a message in %s', self.conn.id, why)
        else:
            logger.warning('[%s] closing: message larger than max_message_size (%d bytes)',
                           self.conn.id, self.limits.max_message_size)
        self.parts, self.size = [], 0
        self.close(1009, 'message too big', fail=True)

    def _peer_close(self, event: CloseConnection) -> None:
        ws = self.ws
        code = event.code
        reason = event.reason or ''
        with self.lock:
            if ws.state == ConnectionState.REMOTE_CLOSING:
                # The peer closed: answer with the same code, then end.
                self._queue(ws.send(event.response()))
                self._set_state(FINISHING)
                self.close_code, self.close_reason = code, reason
                # Time to write what is queued, the reply last (housekeeping).
                self.close_deadline = time.monotonic() + self.limits.close_timeout
            elif ws.state == ConnectionState.OPEN:
                # wsproto reports a protocol violation as a close event to send:
                # fail the connection (see close(fail=True)).
                self._queue_close(code, reason)
                self.failed = True
            else:
                self._set_state(FINISHING)  # our close was answered
        if code not in (1000, 1001, 1005) and ws.state != ConnectionState.CLOSED:
            logger.info('[%s] closing with %d: %s', self.conn.id, code, handshake.escape(reason))
        if self.conn is not None:
            self.conn.closed(code, reason)
        self.flush()

    def abort(self, code: int, reason: str, reset: bool = False) -> None:
        """Drop the socket without a closing handshake.

        ``reset=True`` sends a TCP RST, so the kernel also discards the bytes
        still in the socket's send buffer (for a peer that stopped reading).
        """
        if self.state == DONE:
            return
        with self.lock:
            was_open = self.state in (OPEN, CLOSING)
            self._set_state(FINISHING)
            self.outbox.clear()
            self.out_bytes = self.out_offset = 0
            if self.close_code == 1006:
                self.close_reason = reason
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            except OSError:
                pass
        if was_open:
            logger.debug('[%s] connection dropped: %s', self.name, reason)
            self.conn.closed(code, reason)
        self.finish()

    def finish(self) -> None:
        """Close the socket and forget the channel."""
        if self.state == DONE:
            return
        with self.lock:
            self._set_state(DONE)
        if self.conn is not None:
            self.conn.closed(self.close_code, self.close_reason)
        self.reactor.forget(self)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if not self.adopted:
            self.sock.close()
        self.finished.set()

    def housekeeping(self, now: float) -> None:
        """Enforce the handshake, close, write-progress and keepalive deadlines
        (I/O thread, twice a second)."""
        state = self.state
        limits = self.limits
        if state in (TLS_HANDSHAKE, HTTP):
            if now - self.started > limits.handshake_timeout:
                logger.info('handshake from %s timed out after %g s', self.peer,
                            limits.handshake_timeout)
                self.finish()
        elif state == CLOSING or state == FINISHING:
            if now > self.close_deadline:
                self.finish()
        elif state == OPEN:
            if self.out_bytes and now - self.last_write > limits.ping_timeout / 2:
                self._probe_progress(now)
            if self.out_bytes and now - self.last_write > limits.ping_timeout:
                logger.warning('[%s] dropping the peer %s: it took no data for %g s with %d '
                               'bytes queued for it (ping_timeout)', self.name,
                               getattr(self.conn, 'client', '') or self.peer,
                               limits.ping_timeout, self.out_bytes)
                self.abort(1006, 'the peer stopped reading', reset=True)
            elif self.paused:
                if _peer_gone(self.sock):
                    logger.info('[%s] the peer left while reading was paused', self.name)
                    self.abort(1006, 'the peer left while reading was paused')
            elif not limits.ping_interval:
                return
            elif self.ping_sent is not None:
                if now - self.ping_sent > limits.ping_timeout:
                    logger.info('[%s] no pong within %g s: dropping the peer', self.name,
                                limits.ping_timeout)
                    self.abort(1006, 'keepalive ping timed out')
            elif (now - self.last_seen > limits.ping_interval
                  or (self.unproven and now - self.last_proof > limits.ping_interval)):
                # Silent, or sent data and showed no sign of reading it: ask.
                payload = os.urandom(8)
                with self.lock:   # a worker may have closed it since the check above
                    if self.state != OPEN or self.ws.state != ConnectionState.OPEN:
                        return
                    self._queue(self.ws.send(Ping(payload)))
                self.ping_payload = payload
                self.ping_sent = now
                self.flush()

    def _probe_progress(self, now: float) -> None:
        """Has the peer taken any of what was written, although the socket never
        reported room for more?  (The kernel reports a socket writable only once
        half its buffer is free, so a slow reader can look stalled.)"""
        unsent = _unsent(self.sock)
        if unsent is not None and unsent < self.last_unsent:
            self.last_write = now
        self.last_unsent = unsent if unsent is not None else 0
        if self.state == OPEN:
            self.flush()        # and whatever room there is now, even below half


class Reactor:
    """The selector loop serving every socket of one server (or one WSGI process).

    Args:
        limits: what one connection may cost (:class:`IOLimits`).
        on_request: called on the I/O thread as ``on_request(channel, request,
            rest)`` with each parsed HTTP request head; it answers with
            ``channel.write_raw``, accepts with ``channel.upgrade`` or raises
            :class:`~relaysync.handshake.HandshakeError`.
        on_tick: called on the I/O thread twice a second with ``time.monotonic()``.
        ssl_context: wraps accepted sockets in TLS when given.
    """

    def __init__(self, limits: IOLimits,
                 on_request: Callable[[Channel, handshake.Request, bytes], None],
                 on_tick: Optional[Callable[[float], None]] = None,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.limits = limits
        self.on_request = on_request
        self.on_tick = on_tick
        self.ssl_context = ssl_context
        self.selector = selectors.DefaultSelector()
        self.channels: Dict[int, Channel] = {}
        self.listeners: List[socket.socket] = []
        self._paused: List[socket.socket] = []   # listeners resting after EMFILE & co.
        self._dirty: Deque[Channel] = collections.deque()
        self._tasks: Deque[Callable[[], None]] = collections.deque()
        self._tasks_lock = threading.Lock()
        self._closed = False                     # the loop has exited: no task will run
        self._sleeping = False
        self._waker_r, self._waker_w = socket.socketpair()
        self._waker_r.setblocking(False)
        self._waker_w.setblocking(False)
        self.selector.register(self._waker_r, _READ, None)
        self._running = False
        self.thread: Optional[threading.Thread] = None

    # ------------------------------------------------------ any thread
    @property
    def idle(self) -> bool:
        """True while the I/O thread is asleep in ``select`` (a hint, read unlocked)."""
        return self._sleeping

    @property
    def close_timeout(self) -> float:
        """Seconds a closing handshake may take."""
        return self.limits.close_timeout

    def schedule(self, channel: Channel) -> None:
        """Ask the I/O thread to flush ``channel``'s outbox."""
        self._dirty.append(channel)
        if self._sleeping:
            self._wake()

    def call_soon(self, func: Callable[[], None]) -> bool:
        """Run ``func`` on the I/O thread.

        Returns:
            False, without queueing it, once the loop has exited.
        """
        with self._tasks_lock:
            if self._closed:
                return False
            self._tasks.append(func)
        self._wake()
        return True

    def adopt_soon(self, channel: Channel) -> None:
        """Serve an already-upgraded socket (WSGI), from any thread.

        When the loop has exited (or exits before it gets to it), the channel
        is aborted instead, so the thread waiting on its engine is released.
        """
        if not self.call_soon(lambda: self.adopt(channel)):
            channel.abort(1001, 'server stopped')

    def _wake(self) -> None:
        self._sleeping = False
        try:
            self._waker_w.send(b'\0')
        except OSError:
            pass

    # ------------------------------------------------------ I/O thread
    def add_listener(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.listeners.append(sock)
        self.selector.register(sock, _READ, sock)

    def stop_listening(self) -> None:
        for sock in self.listeners:
            try:
                self.selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        self.listeners.clear()

    def adopt(self, channel: Channel) -> None:
        """Start serving an already-upgraded socket (call on the I/O thread)."""
        if channel.state == DONE:
            return
        try:
            channel.sock.setblocking(False)
            self._evict_stale(channel.fileno)
            self.selector.register(channel.sock, _READ, channel)
        except Exception as exc:
            logger.info('cannot serve an adopted socket: %s', exc)
            channel.abort(1006, f'cannot serve the socket: {exc}')
            return
        channel.mask = _READ
        self.channels[channel.fileno] = channel
        channel.update_interest()   # paused or wanting to write meanwhile
        channel.flush()             # anything the workers queued meanwhile

    def _evict_stale(self, fileno: int) -> None:
        """Drop what is still registered under a file descriptor number that a new
        socket now has (the host closed an adopted socket before its channel ended)."""
        key = self.selector.get_map().get(fileno)
        if key is None:
            return
        stale = key.data
        try:
            self.selector.unregister(key.fileobj)
        except (KeyError, ValueError, OSError):
            pass
        if isinstance(stale, Channel):
            stale.mask = 0
            if self.channels.get(fileno) is stale:
                del self.channels[fileno]
            stale.abort(1006, 'its socket was closed by the host')

    def forget(self, channel: Channel) -> None:
        if self.channels.pop(channel.fileno, None) is not None and channel.mask:
            try:
                self.selector.unregister(channel.sock)
            except (KeyError, ValueError, OSError):
                pass
        channel.mask = 0

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(64):
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # The listener stays readable: rest it until the next
                    # housekeeping turn instead of spinning on accept().
                    logger.error('cannot accept: %s', exc)
                    try:
                        self.selector.unregister(listener)
                    except (KeyError, ValueError):
                        pass
                    self._paused.append(listener)
                    return
                logger.warning('accept failed: %s', exc)
                return
            if len(self.channels) >= self.limits.max_sockets:
                sock.close()
                logger.warning('refused %s: too many open sockets (%d)', peer,
                               len(self.channels))
                continue
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.ssl_context is not None:
                    sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                        do_handshake_on_connect=False)
            except (OSError, ssl.SSLError) as exc:
                logger.info('dropped %s before the handshake: %s', peer, exc)
                sock.close()
                continue
            channel = Channel(self, sock, peer)
            self._evict_stale(channel.fileno)
            self.channels[channel.fileno] = channel
            self.selector.register(sock, _READ, channel)

    def run(self) -> None:
        """Serve until :meth:`shutdown`; every socket is closed when it returns
        (also when it is left by an exception such as KeyboardInterrupt)."""
        self._running = True
        if self.thread is None:
            self.thread = threading.current_thread()
        try:
            self._loop()
        finally:
            self._running = False
            with self._tasks_lock:
                self._closed = True
                left = list(self._tasks)
                self._tasks.clear()
            for task in left:     # adoptions that never ran abort their channel
                try:
                    task()
                except Exception:
                    logger.exception('task failed while stopping')
            self.stop_listening()
            for channel in list(self.channels.values()):
                # Open WebSockets get a 1001 close frame first (written if the
                # socket takes it now; nothing waits for the answer).
                channel.close(1001, 'server stopped')
                if channel.state != DONE:
                    channel.flush()
                channel.abort(1001, 'server stopped')
            self.selector.close()
            self._waker_r.close()
            self._waker_w.close()

    def _loop(self) -> None:
        select = self.selector.select
        dirty = self._dirty
        tasks = self._tasks
        next_housekeeping = time.monotonic() + 0.5
        while self._running:
            timeout = max(0.0, next_housekeeping - time.monotonic())
            self._sleeping = True
            if dirty or tasks:
                self._sleeping = False
                timeout = 0
            ready = select(timeout)
            self._sleeping = False
            for key, mask in ready:
                target = key.data
                if target is None:
                    try:
                        self._waker_r.recv(4096)
                    except OSError:
                        pass
                elif isinstance(target, Channel):
                    try:
                        target.on_event(mask)
                    except Exception:  # never let one connection stop the loop
                        logger.exception('internal error on %r; dropping it', target)
                        target.abort(1011, 'internal error')
                else:
                    self._accept(target)
            while tasks:
                task = tasks.popleft()
                try:
                    task()
                except Exception:  # never let one task stop the loop
                    logger.exception('internal error in a task of the I/O thread')
            while dirty:
                channel = dirty.popleft()
                if channel.state != DONE:
                    channel.flush()
            now = time.monotonic()
            if now >= next_housekeeping:
                next_housekeeping = now + 0.5
                self._housekeeping(now)

    def _housekeeping(self, now: float) -> None:
        while self._paused:
            listener = self._paused.pop()
            if listener in self.listeners:   # not closed meanwhile
                self.selector.register(listener, _READ, listener)
        for channel in list(self.channels.values()):
            channel.housekeeping(now)
        if self.on_tick is not None:
            try:
                self.on_tick(now)
            except Exception:
                logger.exception('housekeeping callback failed')

    def shutdown(self) -> None:
        """Stop the loop (from any thread); :meth:`run` closes every socket."""
        def stop() -> None:
            self._running = False
        self.call_soon(stop)

    def socket_count(self) -> int:
        """Sockets still open (any thread; approximate while the loop runs)."""
        return len(self.channels)
