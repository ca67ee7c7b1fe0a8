"""The standalone server's I/O thread: one selector loop for every socket.

One thread owns every socket of a :class:`~relaysync.Server`: it accepts, runs
the TLS and HTTP handshakes, reads and deframes (wsproto), hands each complete
text message to the connection engine's router, answers pings and closes, sends
keepalive pings, and writes what the workers queued.  Workers only ever *write*,
and only in one case: :meth:`Channel.send_text` writes a plaintext frame itself
while this thread is asleep in ``select`` and nothing is queued (saving a
hand-off); otherwise it appends to the outbox and wakes this thread.  Every
write happens under the channel's lock, so frames never interleave.

Why one I/O thread: measured on 2 cores, threads that each read their own
socket collapse once hundreds are busy (GIL convoys around every syscall), and
OpenSSL must never see a read and a write on one TLS socket at the same time.
Reads happen on this thread alone, and TLS sockets are written only by it.
"""

import collections
import errno
import logging
import selectors
import socket
import ssl
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional

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

# Channel states
TLS_HANDSHAKE, HTTP, OPEN, CLOSING, FINISHING, DONE = range(6)
_STATE_NAMES = ('tls-handshake', 'http', 'open', 'closing', 'finishing', 'done')


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
        self.sock = sock
        self.peer = peer
        self.fileno = sock.fileno()
        # An adopted socket belongs to a host server (WSGI): its handshakes are
        # done, and on finish it is shut down but left for the host to close.
        self.adopted = adopted
        self.finished = threading.Event()
        if adopted:
            self.state = OPEN
        else:
            self.state = TLS_HANDSHAKE if isinstance(sock, ssl.SSLSocket) else HTTP
        self.lock = threading.Lock()
        self.outbox: List[bytes] = []
        self.queued = False           # in the reactor's dirty list
        self.pending_write = b''      # bytes the socket did not take yet
        self.want_write = False
        self.inbuf = b''
        self.fast = True              # on the lean frame path (see _fast_frames)
        self.failed = False           # failed connection: lingering close (see close)
        self.half_closed = False
        self.direct = not isinstance(sock, ssl.SSLSocket)   # workers may write (send_text)
        self.ws: Optional[WsConnection] = None
        self.conn: Any = None         # the engine Connection once upgraded
        self.parts: List[Any] = []    # fragments of the message being received
        self.size = 0
        self.binary = False
        now = time.monotonic()
        self.started = now
        self.last_seen = now
        self.ping_sent: Optional[float] = None
        self.close_deadline = 0.0
        self.close_code = 1006
        self.close_reason = ''

    def __repr__(self) -> str:
        return f'<Channel {self.peer} {_STATE_NAMES[self.state]}>'

    # ---------------------------------------------------- transport (any thread)
    def send_text(self, text: str) -> None:
        """Send one text message; raises ConnectionClosed unless the socket is open.

        When the I/O thread is asleep and nothing is queued, a plaintext frame is
        written right here (saving a thread hand-off); otherwise it is queued for
        the I/O thread, which batches everything queued meanwhile.  TLS sockets
        are only ever written by the I/O thread.
        """
        frame = text_frame(text)
        with self.lock:
            if self.state != OPEN:
                raise ConnectionClosed(self.close_code, self.close_reason)
            if (self.direct and self.reactor.idle and not self.outbox
                    and not self.pending_write):
                try:
                    sent = self.sock.send(frame)
                except OSError:     # would block, or an error the I/O thread will see
                    sent = 0
                if sent == len(frame):
                    return
                frame = frame[sent:]
            self.outbox.append(frame)
            if self.queued:
                return
            self.queued = True
        self.reactor.schedule(self)

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
        self.outbox.append(self.ws.send(CloseConnection(code=code, reason=reason)))
        self.state = CLOSING
        self.close_code, self.close_reason = code, reason
        self.close_deadline = time.monotonic() + self.reactor.close_timeout

    # -------------------------------------------------------- I/O thread only
    def write_raw(self, data: bytes, then_finish: bool = False) -> None:
        """Queue bytes outside WebSocket framing (HTTP responses)."""
        with self.lock:
            self.outbox.append(data)
            if then_finish:
                self.state = FINISHING
        self.flush()

    def flush(self) -> None:
        error = None
        # Written under the lock, so a worker's direct send can never slip in
        # between taking the queued bytes and writing them.
        with self.lock:
            self.queued = False
            if self.outbox:
                chunk = b''.join(self.outbox) if len(self.outbox) > 1 else self.outbox[0]
                self.outbox.clear()
                data = self.pending_write + chunk if self.pending_write else chunk
            else:
                data = self.pending_write
            if data:
                try:
                    sent = self.sock.send(data)
                except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError,
                        ssl.SSLWantReadError):
                    sent = 0
                except OSError as exc:
                    sent, error = 0, exc
                data = data[sent:]
            self.pending_write = data
        if error is not None:
            self.abort(1006, f'send failed: {error}')
            return
        if data:
            if not self.want_write:
                self.want_write = True
                self.reactor.modify(self, _READ | _WRITE)
        else:
            if self.want_write:
                self.want_write = False
                self.reactor.modify(self, _READ)
            if self.state == FINISHING:
                self.finish()
            elif self.failed and self.state == CLOSING and not self.half_closed:
                self.half_closed = True
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    self.finish()

    def on_event(self, mask: int) -> None:
        if mask & _WRITE:
            if self.state == TLS_HANDSHAKE:
                self._tls_handshake()
                return
            self.flush()
        if mask & _READ and self.state != DONE:
            if self.state == TLS_HANDSHAKE:
                self._tls_handshake()
            else:
                self._read()

    def _tls_handshake(self) -> None:
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.reactor.modify(self, _READ)
            return
        except ssl.SSLWantWriteError:
            self.reactor.modify(self, _READ | _WRITE)
            return
        except (ssl.SSLError, OSError) as exc:
            logger.info('TLS handshake with %s failed: %s', self.peer, exc)
            self.finish()
            return
        self.state = HTTP
        self.reactor.modify(self, _READ)
        if self.sock.pending():
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
            if self.state == DONE or not isinstance(sock, ssl.SSLSocket) or not sock.pending():
                return

    def _http(self, data: bytes) -> None:
        self.inbuf += data
        try:
            end = handshake.head_complete(self.inbuf)
            if not end:
                return
            request = handshake.parse_request(self.inbuf[:end])
            rest = self.inbuf[end:]
            self.inbuf = b''
            self.reactor.server.handle_http(self, request, rest)
        except handshake.HandshakeError as exc:
            logger.info('refused %s: %d %s', self.peer, exc.status, exc.message)
            self.write_raw(handshake.error_response(exc), then_finish=True)

    def upgrade(self, key: str, conn: Any, rest: bytes) -> None:
        """Accept the WebSocket (called by the server once the path is known)."""
        self.ws = WsConnection(ConnectionType.SERVER,
                               extensions=[SizeGuard(self.reactor.max_message_size)])
        self.conn = conn
        with self.lock:
            self.state = OPEN
        self.write_raw(handshake.upgrade_response(key))
        if rest:
            self._frames(rest)

    def attach(self, conn: Any) -> None:
        """Bind the engine to an adopted socket whose 101 response was sent."""
        self.ws = WsConnection(ConnectionType.SERVER,
                               extensions=[SizeGuard(self.reactor.max_message_size)])
        self.conn = conn

    def _frames(self, data: bytes) -> None:
        if self.fast:
            data = self._fast_frames(data)
            if not data:
                return
        ws = self.ws
        ws.receive_data(data)
        limit = self.reactor.max_message_size
        for event in ws.events():
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
                    continue
                self.parts.append(event.data)
                self.size += len(event.data)
                if self.size > limit:
                    self._too_big()
                    return
                if event.message_finished:
                    parts, self.parts, self.size = self.parts, [], 0
                    joined = ''.join(parts) if isinstance(event, TextMessage) else b''.join(parts)
                    self._message(joined, isinstance(event, BytesMessage))
            elif isinstance(event, Ping):
                with self.lock:
                    if ws.state == ConnectionState.OPEN:
                        self.outbox.append(ws.send(event.response()))
                self.flush()
            elif isinstance(event, Pong):
                self.ping_sent = None
            elif isinstance(event, CloseConnection):
                if event.code == 1009 and ws.state == ConnectionState.OPEN:
                    self._too_big()  # the SizeGuard refused a frame header
                    return
                self._peer_close(event)
                return

    def _fast_frames(self, data: bytes) -> bytes:
        """The hot path: deliver complete, final, masked text frames and answer
        pings without wsproto's per-message machinery.

        Returns the bytes it will not handle, starting at a frame boundary:
        from then on the connection goes through wsproto, which validates and
        closes as the RFC says (fragments, binary, close frames, reserved bits,
        unmasked frames, oversized messages, invalid UTF-8, ...).
        """
        buf = self.inbuf + data if self.inbuf else data
        n = len(buf)
        pos = 0
        limit = self.reactor.max_message_size
        receive = self.conn.receive_text
        while self.state == OPEN:
            if n - pos < 2:
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
                start += 2
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[start:start + 8], 'big')
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
                    return self._leave_fast(buf, pos)
                pos = end
                receive(text)
            elif opcode == 9:
                pos = end
                with self.lock:
                    if self.state == OPEN:
                        self.outbox.append(bytes((0x8A, length)) + payload)
                self.flush()
            else:
                pos = end
                self.ping_sent = None
        if self.state != OPEN and pos < n:
            return self._leave_fast(buf, pos)
        self.inbuf = buf[pos:] if pos < n else b''
        return b''

    def _leave_fast(self, buf: bytes, pos: int) -> bytes:
        self.fast = False
        self.inbuf = b''
        return buf[pos:]

    def _message(self, data: Any, binary: bool) -> None:
        if binary:
            logger.warning('[%s] ignored a binary message of %d bytes (Relay sends text)',
                           self.conn.id, len(data))
            return
        self.conn.receive_text(data)

    def _too_big(self) -> None:
        logger.warning('[%s] closing: message larger than max_message_size (%d bytes)',
                       self.conn.id, self.reactor.max_message_size)
        self.parts, self.size = [], 0
        self.close(1009, 'message too big', fail=True)

    def _peer_close(self, event: CloseConnection) -> None:
        ws = self.ws
        code = event.code
        reason = event.reason or ''
        with self.lock:
            if ws.state == ConnectionState.REMOTE_CLOSING:
                # The peer closed: answer with the same code, then end.
                self.outbox.append(ws.send(event.response()))
                self.state = FINISHING
                self.close_code, self.close_reason = code, reason
                # Time to write what is queued, the reply last (housekeeping).
                self.close_deadline = time.monotonic() + self.reactor.close_timeout
            elif ws.state == ConnectionState.OPEN:
                # wsproto reports a protocol violation as a close event to send:
                # fail the connection (see close(fail=True)).
                self._queue_close(code, reason)
                self.failed = True
            else:
                self.state = FINISHING  # our close was answered
        if code not in (1000, 1001, 1005) and ws.state != ConnectionState.CLOSED:
            logger.info('[%s] closing with %d: %s', self.conn.id, code, reason)
        if self.conn is not None:
            self.conn.closed(code, reason)
        self.flush()

    def abort(self, code: int, reason: str) -> None:
        """Drop the socket without a closing handshake."""
        if self.state == DONE:
            return
        with self.lock:
            was_open = self.state in (OPEN, CLOSING)
            self.state = FINISHING
            self.outbox.clear()
            self.pending_write = b''
            if self.close_code == 1006:
                self.close_reason = reason
        if was_open:
            logger.debug('[%s] connection dropped: %s', self.conn.id, reason)
            self.conn.closed(code, reason)
        self.finish()

    def finish(self) -> None:
        """Close the socket and forget the channel."""
        if self.state == DONE:
            return
        with self.lock:
            self.state = DONE
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
        """Enforce the handshake, close and keepalive deadlines (I/O thread, ~1/s)."""
        state = self.state
        reactor = self.reactor
        if state in (TLS_HANDSHAKE, HTTP):
            if now - self.started > reactor.handshake_timeout:
                logger.info('handshake from %s timed out after %g s', self.peer,
                            reactor.handshake_timeout)
                self.finish()
        elif state == CLOSING or state == FINISHING:
            if now > self.close_deadline:
                self.finish()
        elif state == OPEN and reactor.ping_interval:
            if self.ping_sent is not None:
                if now - self.ping_sent > reactor.ping_timeout:
                    logger.info('[%s] no pong within %g s: dropping the peer', self.conn.id,
                                reactor.ping_timeout)
                    self.abort(1006, 'keepalive ping timed out')
            elif now - self.last_seen > reactor.ping_interval:
                with self.lock:   # a worker may have closed it since the check above
                    if self.state != OPEN or self.ws.state != ConnectionState.OPEN:
                        return
                    self.outbox.append(self.ws.send(Ping(b'relaysync')))
                self.ping_sent = now
                self.flush()


class Reactor:
    """The selector loop.  Created and driven by :class:`~relaysync.Server`."""

    def __init__(self, server: Any, *, max_message_size: int, handshake_timeout: float,
                 ping_interval: Optional[float], ping_timeout: float,
                 close_timeout: float = 2.0) -> None:
        self.server = server
        self.max_message_size = max_message_size
        self.handshake_timeout = handshake_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.selector = selectors.DefaultSelector()
        self.channels: Dict[int, Channel] = {}
        self.listeners: List[socket.socket] = []
        self._paused: List[socket.socket] = []   # listeners resting after EMFILE & co.
        self._dirty: Deque[Channel] = collections.deque()
        self._tasks: Deque[Callable[[], None]] = collections.deque()
        self._sleeping = False
        self._waker_r, self._waker_w = socket.socketpair()
        self._waker_r.setblocking(False)
        self._waker_w.setblocking(False)
        self.selector.register(self._waker_r, _READ, None)
        self._running = False
        self.thread: Optional[threading.Thread] = None
        self.ssl_context: Optional[ssl.SSLContext] = None

    # ------------------------------------------------------ any thread
    @property
    def idle(self) -> bool:
        """True while the I/O thread is asleep in ``select`` (a hint, read unlocked)."""
        return self._sleeping

    def schedule(self, channel: Channel) -> None:
        """Ask the I/O thread to flush ``channel``'s outbox."""
        self._dirty.append(channel)
        if self._sleeping:
            self._wake()

    def call_soon(self, func: Callable[[], None]) -> None:
        """Run ``func`` on the I/O thread."""
        self._tasks.append(func)
        self._wake()

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

    def modify(self, channel: Channel, mask: int) -> None:
        try:
            self.selector.modify(channel.sock, mask, channel)
        except (KeyError, ValueError, OSError):
            pass

    def adopt(self, channel: Channel) -> None:
        """Start serving an already-upgraded socket (call on the I/O thread)."""
        try:
            channel.sock.setblocking(False)
            self.selector.register(channel.sock, _READ, channel)
        except (OSError, ValueError) as exc:
            logger.info('cannot serve an adopted socket: %s', exc)
            channel.abort(1006, f'cannot serve the socket: {exc}')
            return
        self.channels[channel.fileno] = channel
        channel.flush()  # anything the workers queued meanwhile

    def forget(self, channel: Channel) -> None:
        if self.channels.pop(channel.fileno, None) is not None:
            try:
                self.selector.unregister(channel.sock)
            except (KeyError, ValueError, OSError):
                pass

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
            if len(self.channels) >= self.server.max_sockets:
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
            self.channels[channel.fileno] = channel
            self.selector.register(sock, _READ, channel)

    def run(self) -> None:
        """Serve until :meth:`shutdown`; every socket is closed when it returns
        (also when it is left by an exception such as KeyboardInterrupt)."""
        self._running = True
        try:
            self._loop()
        finally:
            self._running = False
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
                tasks.popleft()()
            while dirty:
                channel = dirty.popleft()
                if channel.state != DONE:
                    channel.flush()
            now = time.monotonic()
            if now >= next_housekeeping:
                next_housekeeping = now + 0.5
                while self._paused:
                    listener = self._paused.pop()
                    if listener in self.listeners:   # not closed meanwhile
                        self.selector.register(listener, _READ, listener)
                for channel in list(self.channels.values()):
                    channel.housekeeping(now)

    def shutdown(self) -> None:
        """Stop the loop (from any thread); :meth:`run` closes every socket."""
        def stop() -> None:
            self._running = False
        self.call_soon(stop)

    def socket_count(self) -> int:
        """Sockets still open (any thread; approximate while the loop runs)."""
        return len(self.channels)
