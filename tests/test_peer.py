"""The test peer itself: bounded handshakes, refused upgrades, close codes."""

import socket
import threading

import pytest

from peer import HandshakeRejected, RelayPeer


@pytest.fixture
def silent_listener():
    """A TCP listener that accepts and then never answers."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(4)
    accepted = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    sock.close()


def test_handshake_is_bounded(silent_listener):
    with pytest.raises(TimeoutError):
        RelayPeer.connect(silent_listener, '/wf', handshake_timeout=0.3)


def test_nothing_listening():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        RelayPeer.connect(port, '/wf', handshake_timeout=1)


def test_connect_by_server_and_path(served):
    with RelayPeer.connect(served.server, 'wf') as peer:
        assert peer.connected and peer.close_code is None
        assert peer.ws.thread.daemon
    assert not peer.connected and not peer.ws.thread.is_alive()


def test_refused_upgrade_reports_the_status(served):
    with pytest.raises(HandshakeRejected) as info:
        RelayPeer.connect(served.server, '/not-registered')
    assert info.value.status == 404


def test_recv_and_expect_are_bounded(served):
    with RelayPeer.connect(served.server, '/wf', timeout=0.2) as peer:
        with pytest.raises(AssertionError, match='no message'):
            peer.recv()
        with pytest.raises(AssertionError, match='no message'):
            peer.expect('wf_api_say_request', timeout=0.1)
        peer.expect_nothing(0.1)


def test_close_code_after_server_close(serve):
    served = serve(max_message_size=64)
    with RelayPeer.connect(served.server, '/wf') as peer:
        peer.send_text('x' * 100)
        assert peer.wait_closed() == 1009
        assert peer.close_code == 1009
        with pytest.raises(AssertionError, match='closed'):
            peer.recv(timeout=0.1)


def test_close_and_reset_are_idempotent(served):
    peer = RelayPeer.connect(served.server, '/wf')
    peer.reset()
    peer.reset()
    peer.close()
    assert not peer.connected
