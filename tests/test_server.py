"""Server: construction, path registration and routing, plain HTTP answers
(health check, 404/405/426), connection counting, stop."""

import base64
import hashlib
import queue
import socket
import threading

import pytest

import relaysync
from relaysync import ServerException
from conftest import wait_until
from peer import (HandshakeRejected, HttpReply, RelayPeer, http_exchange, http_request,
                  upgrade_request)


# ---------------------------------------------------------- construction
@pytest.mark.parametrize('port', [0, '0'])
def test_port_zero_as_int_or_string(port):
    server = relaysync.Server('127.0.0.1', port).start_in_background()
    try:
        assert isinstance(server.port, int) and server.port > 0
        assert http_request(server.port, 'GET', '/').status == 200
    finally:
        server.stop(drain_timeout=0)


@pytest.mark.parametrize('port', ['abc', '', None, -1, 65536, '80.5', [8080]])
def test_bad_port(port):
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', port)


def test_port_in_use():
    first = relaysync.Server('127.0.0.1', 0).start_in_background()
    try:
        second = relaysync.Server('127.0.0.1', first.port)
        # SO_REUSEADDR does not allow two listeners on one port.
        with pytest.raises(ServerException):
            second.start_in_background()
    finally:
        first.stop(drain_timeout=0)


def test_unknown_keyword_argument():
    with pytest.raises(TypeError, match='no_such_option'):
        relaysync.Server('127.0.0.1', 0, no_such_option=1)


@pytest.mark.parametrize('kwargs,message', [
    ({'max_message_size': 0}, 'max_message_size must be a number greater than 0, got 0'),
    ({'ping_interval': -1}, 'ping_interval must be'),
    ({'timeouts': 5}, 'timeouts must be a relaysync.Timeouts'),
    ({'handshake_timeout': 'x'}, 'handshake_timeout must be'),
    ({'drain_timeout': -1}, 'drain_timeout must be a number of seconds, 0 or more, got -1'),
    ({'max_send_buffer': 0}, 'max_send_buffer must be'),
    ({'max_queued_events': True}, 'max_queued_events must be'),
    ({'max_queued_bytes': -5}, 'max_queued_bytes must be'),
    ({'stuck_handler_timeout': 0}, 'stuck_handler_timeout must be'),
    ({'health_paths': '/health'}, 'health_paths must be a sequence'),
])
def test_bad_option_values(kwargs, message):
    with pytest.raises(ServerException) as raised:
        relaysync.Server('127.0.0.1', 0, **kwargs)
    assert message in str(raised.value)


def test_drain_timeout_zero_is_allowed():
    assert relaysync.Server('127.0.0.1', 0, drain_timeout=0).drain_timeout == 0


def test_register_twice_raises():
    server = relaysync.Server('127.0.0.1', 0)
    server.register(relaysync.Workflow('a'), '/hellopath')
    with pytest.raises(ServerException, match='/hellopath'):
        server.register(relaysync.Workflow('b'), '/hellopath')
    with pytest.raises(ServerException):  # the same path without the slash
        server.register(relaysync.Workflow('c'), 'hellopath')
    assert list(server.paths) == ['/hellopath']


def test_register_type_checks():
    server = relaysync.Server('127.0.0.1', 0)
    with pytest.raises(TypeError):
        server.register('not a workflow', '/x')
    with pytest.raises(TypeError):
        server.register(relaysync.Workflow('a'), 5)


def test_start_twice_raises():
    server = relaysync.Server('127.0.0.1', 0).start_in_background()
    try:
        with pytest.raises(ServerException):
            server.start_in_background()
    finally:
        server.stop(drain_timeout=0)


# --------------------------------------------------------------- routing
@pytest.mark.parametrize('registered,requested', [
    ('/hellopath', '/hellopath'),
    ('hellopath', '/hellopath'),
    ('/hellopath/', '/hellopath'),
    ('/hellopath', '/hellopath?instance=1'),
])
def test_paths_with_and_without_leading_slash(serve, registered, requested):
    workflow = relaysync.Workflow('paths')
    seen = queue.Queue()
    workflow.on_start(lambda relay, trigger: seen.put(relay.connection.path))
    served = serve(workflow, path=registered)
    with served.peer(requested) as peer:
        peer.start()
        assert seen.get(timeout=5) == '/hellopath'


def test_two_workflows_on_two_paths(serve):
    served = serve(path='/one')
    second = relaysync.Workflow('second')
    served.server.register(second, '/two')
    seen = queue.Queue()
    served.workflow.on_start(lambda relay, trigger: seen.put('one'))
    second.on_start(lambda relay, trigger: seen.put('two'))
    with served.peer('/two') as peer:
        peer.start()
        assert seen.get(timeout=5) == 'two'
    with served.peer('/one') as peer:
        peer.start()
        assert seen.get(timeout=5) == 'one'


def test_unknown_path_refused_with_404(served):
    reply = http_exchange(served.port, upgrade_request('/nowhere'))
    assert reply.startswith(b'HTTP/1.1 404')
    assert b'101' not in reply.split(b'\r\n', 1)[0]
    with pytest.raises(HandshakeRejected) as info:
        RelayPeer(served.url('/nowhere'))
    assert info.value.status == 404
    assert served.server.total_connections() == 0


def test_upgrade_response(served):
    request = upgrade_request(served.path)
    key = [line.split(': ', 1)[1] for line in request.decode('ascii').split('\r\n')
           if line.startswith('Sec-WebSocket-Key')][0]
    expected_accept = base64.b64encode(hashlib.sha1(
        (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode('ascii')).digest()).decode()
    with socket.create_connection(('127.0.0.1', served.port), timeout=5) as sock:
        sock.sendall(request)
        head = b''
        while b'\r\n\r\n' not in head and len(head) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    reply = HttpReply(head)
    assert reply.status == 101
    assert reply.headers['upgrade'].lower() == 'websocket'
    assert reply.headers['sec-websocket-accept'] == expected_accept
    assert reply.headers['server'] == relaysync.VERSION
    assert 'sec-websocket-extensions' not in reply.headers


def test_bad_upgrade_requests(served):
    base = upgrade_request(served.path).decode('ascii')
    no_version = base.replace('Sec-WebSocket-Version: 13\r\n', '')
    reply = http_exchange(served.port, no_version.encode('ascii'))
    assert reply.startswith(b'HTTP/1.1 426')
    bad_key = base.replace('Sec-WebSocket-Key: ', 'Sec-WebSocket-Key: x')
    assert http_exchange(served.port, bad_key.encode('ascii')).startswith(b'HTTP/1.1 400')
    post = base.replace('GET ', 'POST ', 1)
    assert http_exchange(served.port, post.encode('ascii')).startswith(b'HTTP/1.1 405')
    garbage = b'\x16\x03\x01 not http at all\r\n\r\n'
    assert http_exchange(served.port, garbage).startswith(b'HTTP/1.1 400')


# ------------------------------------------------------------- plain HTTP
@pytest.mark.parametrize('path', ['/', '/health', '/healthz'])
def test_health_check(served, path):
    reply = http_request(served.port, 'GET', path)
    assert reply.status == 200
    assert reply.headers['content-type'] == 'application/json'
    assert reply.json() == {'status': 'ok', 'version': relaysync.__version__,
                            'connections': 0, 'stuck_handlers': 0}
    assert reply.headers['server'] == relaysync.VERSION


def test_health_check_counts_connections(served):
    with served.peer(), served.peer():
        wait_until(lambda: served.server.total_connections() == 2)
        assert http_request(served.port, 'GET', '/health').json()['connections'] == 2
        assert served.server.health()['connections'] == 2


def test_head_health_check_has_no_body(served):
    reply = http_request(served.port, 'HEAD', '/')
    assert reply.status == 200 and reply.body == b''


def test_plain_get_on_a_workflow_path_is_426(served):
    reply = http_request(served.port, 'GET', served.path)
    assert reply.status == 426
    assert reply.headers.get('upgrade') == 'websocket'


def test_post_elsewhere_is_405(served):
    reply = http_request(served.port, 'POST', '/elsewhere', body=b'{}')
    assert reply.status == 405
    assert reply.headers.get('allow') == 'GET'


def test_get_unknown_path_is_404(served):
    assert http_request(served.port, 'GET', '/nothing-here').status == 404


# --------------------------------------------------- connections and stop
def test_total_connections(served):
    assert served.server.total_connections() == 0
    peers = [served.peer() for _ in range(3)]
    wait_until(lambda: served.server.total_connections() == 3)
    peers[0].close()
    wait_until(lambda: served.server.total_connections() == 2)
    for peer in peers[1:]:
        peer.close()
    wait_until(lambda: served.server.total_connections() == 0)


def test_total_connections_waits_for_running_handlers(served):
    """An instance counts until its handler has finished, even after the close."""
    gate = threading.Event()
    served.workflow.on_start(lambda relay, trigger: gate.wait(5))
    peer = served.peer()
    peer.start()
    wait_until(lambda: served.server.total_connections() == 1)
    peer.close()
    assert served.server.total_connections() == 1
    gate.set()
    wait_until(lambda: served.server.total_connections() == 0)


def test_stop_closes_running_instances_with_1001(serve):
    served = serve()
    with served.peer() as peer:
        wait_until(lambda: served.server.total_connections() == 1)
        stopper = threading.Thread(target=served.server.stop, kwargs={'drain_timeout': 0},
                                   daemon=True)
        stopper.start()
        assert peer.wait_closed() == 1001
        stopper.join(5)
        assert not stopper.is_alive()
    with pytest.raises(OSError):
        RelayPeer(served.url(), handshake_timeout=1)


def test_stop_is_idempotent(served):
    served.server.stop(drain_timeout=0)
    done = threading.Event()
    threading.Thread(target=lambda: (served.server.stop(), done.set()), daemon=True).start()
    assert done.wait(5)


def test_stop_before_start_returns(tmp_path):
    server = relaysync.Server('127.0.0.1', 0)
    done = threading.Event()
    threading.Thread(target=lambda: (server.stop(drain_timeout=0), done.set()),
                     daemon=True).start()
    assert done.wait(5), 'stop() on a server that never started blocks'


def test_context_manager_stops(serve):
    with relaysync.Server('127.0.0.1', 0).start_in_background() as server:
        port = server.port
        assert http_request(port, 'GET', '/').status == 200
    with pytest.raises(OSError):
        http_exchange(port, b'GET / HTTP/1.1\r\n\r\n', timeout=1)


def test_drain_lets_running_handlers_finish(serve):
    served = serve()
    finished = queue.Queue()

    @served.workflow.on_start
    def start(relay, trigger):
        finished.put(relay.get_var('during drain'))

    with served.peer() as peer:
        peer.start()
        request = peer.expect('wf_api_get_var_request')
        stopper = threading.Thread(target=served.server.stop, kwargs={'drain_timeout': 5},
                                   daemon=True)
        stopper.start()
        wait_until(lambda: served.server.health()['status'] == 'stopping')
        peer.respond(request, value='answered')
        assert finished.get(timeout=5) == 'answered'
        peer.close()
        stopper.join(5)
        assert not stopper.is_alive()


def test_start_while_pytest_imports_a_module_raises_instead_of_blocking(tmp_path, monkeypatch):
    (tmp_path / 'starts_on_import.py').write_text(
        'import relaysync\n'
        'server = relaysync.Server("127.0.0.1", 0)\n'
        'server.register(relaysync.Workflow("w"), "/w")\n'
        'server.start()\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ServerException, match="if __name__ == '__main__'"):
        import starts_on_import  # noqa: F401
