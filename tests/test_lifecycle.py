"""Starting and stopping without races, stuck handlers, and WSGI embedding,
over real sockets (the WSGI host is Werkzeug's server, in this process).

Some races are made certain rather than likely: a delay is injected into the
step the race needs to interleave with (building the 101 response), and the
test checks what the peer received.
"""

import logging
import socket
import threading
import time
from typing import Any, List

import pytest

import relaysync
import relaysync.wsgi
from relaysync import handshake
from conftest import wait_until
from peer import DEVICE, RelayPeer, http_exchange, http_request, upgrade_request
from rawws import OP_CLOSE, RawClient

BOUND = 5.0


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync')
    return caplog


def start_event(client: RawClient, **args: Any) -> None:
    client.send_json({'_type': 'wf_api_start_event',
                      'trigger': {'type': 'phrase', 'args': {'source_uri': DEVICE, **args}}})


def refused(port: int) -> bool:
    try:
        socket.create_connection(('127.0.0.1', port), timeout=BOUND).close()
    except ConnectionRefusedError:
        return True
    return False


# ============================================================ start / stop
def test_a_server_stopped_before_it_started_cannot_start():
    server = relaysync.Server('127.0.0.1', 0)
    server.stop()
    with pytest.raises(relaysync.ServerException, match='was stopped'):
        server.start_in_background()
    with pytest.raises(relaysync.ServerException, match='was stopped'):
        server.start()
    server.stop()     # still fine


def test_a_stopped_server_cannot_start_again(serve):
    served = serve()
    port = served.port
    served.server.stop(drain_timeout=0)
    assert refused(port)
    with pytest.raises(relaysync.ServerException, match='was stopped'):
        served.server.start_in_background()
    assert refused(port)


def test_a_second_stop_returns_when_the_first_has_finished(serve):
    gate = threading.Event()
    workflow = relaysync.Workflow('drain')
    workflow.on_start(lambda relay, trigger: gate.wait(20))
    served = serve(workflow)
    server = served.server
    order: List[str] = []
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        wait_until(lambda: server.total_connections() == 1)
        first = threading.Thread(target=lambda: (server.stop(drain_timeout=30),
                                                 order.append('first')))
        first.start()
        wait_until(lambda: server.stopping)
        second = threading.Thread(target=lambda: (server.stop(drain_timeout=0),
                                                  order.append('second')))
        second.start()
        second.join(0.5)
        assert second.is_alive(), 'the second stop() returned while the first was draining'
        gate.set()
    # The peer has gone: the instance ends, and so does the first stop's drain.
    first.join(BOUND)
    second.join(BOUND)
    assert not first.is_alive() and not second.is_alive()
    assert set(order) == {'first', 'second'}
    assert refused(served.port) and server.total_connections() == 0


@pytest.mark.slow
def test_a_second_stop_waits_for_a_drain_longer_than_30_seconds(serve):
    gate = threading.Event()
    workflow = relaysync.Workflow('drain')
    workflow.on_start(lambda relay, trigger: gate.wait(60))
    served = serve(workflow)
    server = served.server
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        wait_until(lambda: server.total_connections() == 1)
        first = threading.Thread(target=server.stop, kwargs={'drain_timeout': 60})
        first.start()
        wait_until(lambda: server.stopping)
        second = threading.Thread(target=server.stop)
        second.start()
        second.join(33)
        assert second.is_alive(), 'the second stop() gave up waiting after 30 s'
        gate.set()
        first.join(BOUND)
        second.join(BOUND)
    assert not second.is_alive()


def test_the_101_always_precedes_a_close_from_a_concurrent_stop(serve, monkeypatch):
    """stop() closes an instance while the I/O thread is accepting it."""
    building = threading.Event()
    original = handshake.upgrade_response

    def slow_upgrade_response(key: str) -> bytes:
        building.set()
        time.sleep(0.3)        # stop() runs meanwhile
        return original(key)

    monkeypatch.setattr(handshake, 'upgrade_response', slow_upgrade_response)
    served = serve()
    with socket.create_connection(('127.0.0.1', served.port), timeout=BOUND) as sock:
        sock.sendall(upgrade_request('/wf'))
        assert building.wait(BOUND)
        stopper = threading.Thread(target=served.server.stop, kwargs={'drain_timeout': 0})
        stopper.start()
        received = b''
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not data:
                break
            received += data
        stopper.join(BOUND)
    assert received.startswith(b'HTTP/1.1 101 Switching Protocols\r\n'), received[:60]
    frames = received.partition(b'\r\n\r\n')[2]
    assert frames[:1] == bytes((0x80 | OP_CLOSE,)) and frames[2:4] == (1001).to_bytes(2, 'big')


def test_stop_from_a_handler_does_not_wait_for_its_own_instance(serve, logs):
    returned = threading.Event()
    after: List[Any] = []
    workflow = relaysync.Workflow('self-stop')

    @workflow.on_start
    def start(relay, trigger):
        served.server.stop()          # drain_timeout is 30 s
        returned.set()
        try:
            relay.get_var('x')
        except relaysync.ConnectionClosed as exc:
            after.append(exc.code)

    served = serve(workflow, drain_timeout=30)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        assert returned.wait(BOUND), 'stop() in a handler waited for its own instance'
        assert client.expect_close() == 1001
    wait_until(lambda: after == [1001])
    assert refused(served.port)


def test_stop_from_a_handler_while_another_stop_drains_does_not_wait_for_itself(serve):
    entered = threading.Event()
    returned = threading.Event()
    workflow = relaysync.Workflow('self-stop')

    @workflow.on_start
    def start(relay, trigger):
        entered.wait(10)
        served.server.stop()
        returned.set()

    served = serve(workflow)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        wait_until(lambda: served.server.total_connections() == 1)
        first = threading.Thread(target=served.server.stop, kwargs={'drain_timeout': 30})
        first.start()
        wait_until(lambda: served.server.stopping)
        entered.set()
        assert returned.wait(BOUND), 'the drain waited for the instance that called stop()'
        first.join(BOUND)
        assert not first.is_alive()


# =========================================================== stuck handlers
def test_a_handler_stuck_after_its_peer_left_is_logged_and_no_longer_counted(serve, logs):
    release = threading.Event()
    workflow = relaysync.Workflow('stuck')

    @workflow.on_start
    def wait_for_something_else(relay, trigger):
        release.wait(30)               # not a relay call: the close cannot interrupt it

    served = serve(workflow, max_connections=1, stuck_handler_timeout=0.5)
    try:
        with RawClient(served.port, '/wf') as client:
            start_event(client)
            wait_until(lambda: served.server.total_connections() == 1)
        # The peer has gone; the handler has not.
        warning = wait_until(lambda: [r for r in logs.records
                                      if 'still running 0.5 s after its connection closed'
                                      in r.getMessage()], BOUND)[0]
        assert warning.levelno == logging.WARNING
        assert warning.getMessage().startswith('[c1] the on_start handler')
        assert 'in wait_for_something_else' in warning.getMessage()   # its stack
        health = http_request(served.port, 'GET', '/health').json()
        assert health['connections'] == 0 and health['stuck_handlers'] == 1
        with RelayPeer(served.url()) as peer:     # max_connections=1, and it is free
            peer.start()
            wait_until(lambda: served.server.total_connections() == 1)
    finally:
        release.set()
    wait_until(lambda: served.server.health()['stuck_handlers'] == 0, BOUND)
    assert [r for r in logs.records if 'has returned' in r.getMessage()]


def test_a_handler_that_returns_soon_after_close_is_not_reported(serve, logs):
    workflow = relaysync.Workflow('quick')
    workflow.on_start(lambda relay, trigger: time.sleep(0.2))
    served = serve(workflow, stuck_handler_timeout=1.0)
    with RawClient(served.port, '/wf') as client:
        start_event(client)
        wait_until(lambda: served.server.total_connections() == 1)
    wait_until(lambda: served.server.total_connections() == 0, BOUND)
    time.sleep(1.5)
    assert not [r for r in logs.records if 'still running' in r.getMessage()]


# ============================================================ HTTP parsing
@pytest.mark.parametrize('raw,status', [
    (b'GET /a\nFAKE-LOG-LINE HTTP/1.1\r\nHost: x\r\n\r\n', 400),
    (b'GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x00b\r\n\r\n', 400),
    (b'GET /health HTTP/1.1\r\nHost: x\r\nHo(st: y\r\n\r\n', 400),
    (b'get /health HTTP/1.1\r\nHost: x\r\n\r\n', 405),
    (b'GET /a\rFAKE HTTP/1.1\r\nHost: x\r\n\r\n', 400),
    (b'GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x1bb\r\n\r\n', 400),
    (b'GET /health HTTP/1.1\r\nHost: x\r\nX-Note: a\x7fb\r\n\r\n', 400),
    (upgrade_request('/wf')[:-2] + b'Content-Length: 6\r\n\r\n' + b'\x81\x80abcd', 400),
    (upgrade_request('/wf')[:-2] + b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400),
], ids=['bare-lf-in-request-line', 'nul-in-header-value', 'bad-header-name', 'lowercase-method',
        'bare-cr-in-request-line', 'esc-in-header-value', 'del-in-header-value',
        'upgrade-with-a-body', 'upgrade-with-chunked-body'])
def test_strict_request_heads(serve, logs, raw, status):
    served = serve()
    reply = http_exchange(served.port, raw)
    assert reply.startswith(f'HTTP/1.1 {status} {handshake.reason(status)}\r\n'.encode()), reply
    for record in logs.records:
        assert '\n' not in record.getMessage() and '\x00' not in record.getMessage()


def test_request_text_in_log_lines_is_escaped(serve, logs):
    served = serve()
    reply = http_exchange(served.port, upgrade_request('/nope\\x0aFAKE'))
    assert reply.startswith(b'HTTP/1.1 404 Not Found\r\n')
    lines = [r.getMessage() for r in logs.records if 'unknown path' in r.getMessage()]
    assert lines == ['refused a connection to unknown path /nope\\\\x0aFAKE'], lines


def test_each_connection_is_logged_once_with_its_client(serve, logs):
    served = serve()
    forged = 'X-Forwarded-For: 203.0.113.7\\x0aFAKE\r\n'
    with RawClient(served.port, '/wf', extra_headers=forged) as client:
        assert client.status == 101
        wait_until(lambda: served.server.total_connections() == 1)
        port = client.sock.getsockname()[1]
    line = [r for r in logs.records if 'connected at' in r.getMessage()]
    assert [r.getMessage() for r in line] == [
        f'[c1] connected at /wf from 127.0.0.1:{port} '
        f'(forwarded for 203.0.113.7\\\\x0aFAKE)']
    assert line[0].levelno == logging.INFO


# ==================================================================== WSGI
class WsgiHost:
    """Werkzeug's threaded development server on 127.0.0.1, in a thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server
        self.httpd = make_server('127.0.0.1', 0, app, threaded=True)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(BOUND)


@pytest.fixture
def wsgi_host():
    hosts: List[WsgiHost] = []
    servers: List[relaysync.Server] = []

    def make(server: relaysync.Server, app: Any = None) -> WsgiHost:
        servers.append(server)
        host = WsgiHost(relaysync.wsgi.mount(app, server))
        hosts.append(host)
        return host

    yield make
    for server in servers:
        server.stop(drain_timeout=0)
    for host in hosts:
        host.close()


def status_line(port: int, raw: bytes) -> bytes:
    return http_exchange(port, raw).split(b'\r\n', 1)[0]


@pytest.mark.parametrize('path,line', [
    ('/wf', b'HTTP/1.1 426 Upgrade Required'),
    ('/nothing', b'HTTP/1.1 404 Not Found'),
    ('/health', b'HTTP/1.1 200 OK'),
])
def test_wsgi_status_lines_carry_the_code_once(wsgi_host, path, line):
    server = relaysync.Server()
    server.register(relaysync.Workflow('w'), '/wf')
    host = wsgi_host(server)
    assert status_line(host.port, f'GET {path} HTTP/1.1\r\nHost: x\r\n\r\n'.encode()) == line


def test_wsgi_refusals_carry_the_code_once(wsgi_host):
    server = relaysync.Server(max_connections=1)
    flow_gate = threading.Event()
    workflow = relaysync.Workflow('w')
    workflow.on_start(lambda relay, trigger: flow_gate.wait(20))
    server.register(workflow, '/wf')
    host = wsgi_host(server)
    try:
        with RawClient(host.port, '/wf') as holder:
            assert holder.status == 101
            start_event(holder)
            wait_until(lambda: server.total_connections() == 1)
            assert status_line(host.port, upgrade_request('/wf')) == \
                b'HTTP/1.1 503 Service Unavailable'
    finally:
        flow_gate.set()


def test_wsgi_health_is_served_where_the_flask_app_has_no_route(wsgi_host):
    flask = pytest.importorskip('flask')
    app = flask.Flask('site')
    app.add_url_rule('/', 'index', lambda: 'the site')
    server = relaysync.Server()
    server.register(relaysync.Workflow('w'), '/wf')
    host = wsgi_host(server, app)
    reply = http_request(host.port, 'GET', '/health')
    assert reply.status == 200 and reply.json()['status'] == 'ok'
    assert reply.headers['content-type'] == 'application/json'
    index = http_request(host.port, 'GET', '/')
    assert index.status == 200 and index.body == b'the site'      # the app's route wins
    assert http_request(host.port, 'GET', '/other').status == 404   # the app's 404


def test_wsgi_health_from_the_app_wins_when_it_has_one(wsgi_host):
    flask = pytest.importorskip('flask')
    app = flask.Flask('site')
    app.add_url_rule('/health', 'health', lambda: 'app health')
    server = relaysync.Server()
    server.register(relaysync.Workflow('w'), '/wf')
    host = wsgi_host(server, app)
    reply = http_request(host.port, 'GET', '/health')
    assert reply.status == 200 and reply.body == b'app health'


def test_wsgi_concurrent_upgrades_never_exceed_max_connections(wsgi_host, monkeypatch):
    original = handshake.upgrade_response

    def slow_upgrade_response(key: str) -> bytes:
        time.sleep(0.2)        # widen any gap between the capacity check and registration
        return original(key)

    monkeypatch.setattr(handshake, 'upgrade_response', slow_upgrade_response)
    gate = threading.Event()
    workflow = relaysync.Workflow('w')
    workflow.on_start(lambda relay, trigger: gate.wait(20))
    server = relaysync.Server(max_connections=2)
    server.register(workflow, '/wf')
    host = wsgi_host(server)
    statuses: List[int] = []
    clients: List[RawClient] = []
    lock = threading.Lock()

    def connect() -> None:
        client = RawClient(host.port, '/wf')
        with lock:
            statuses.append(client.status)
            clients.append(client)

    threads = [threading.Thread(target=connect) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND)
        assert sorted(statuses) == [101, 101, 503, 503, 503, 503]
        assert server.total_connections() <= 2
    finally:
        gate.set()
        for client in clients:
            client.close()


def test_wsgi_upgrade_racing_stop_releases_the_request_thread(wsgi_host, monkeypatch):
    """stop() completes while an admitted upgrade is still being answered: the
    instance must not outlive the server, and the request thread must end."""
    stopped = threading.Event()
    building = threading.Event()
    original = handshake.upgrade_response

    def upgrade_response_after_stop(key: str) -> bytes:
        building.set()
        stopped.wait(BOUND)
        return original(key)

    started: List[Any] = []
    workflow = relaysync.Workflow('w')
    workflow.on_start(lambda relay, trigger: started.append(trigger))
    server = relaysync.Server(drain_timeout=0)
    server.register(workflow, '/wf')
    host = wsgi_host(server)
    with RawClient(host.port, '/wf') as warm:      # the I/O thread is running
        assert warm.status == 101
    monkeypatch.setattr(handshake, 'upgrade_response', upgrade_response_after_stop)
    before = threading.active_count()
    with socket.create_connection(('127.0.0.1', host.port), timeout=BOUND) as sock:
        sock.sendall(upgrade_request('/wf'))
        assert building.wait(BOUND)
        server.stop()
        stopped.set()
        received = b''
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not data:
                break
            received += data
        assert time.monotonic() < deadline, 'the peer is still connected after stop()'
    wait_until(lambda: server.total_connections() == 0, BOUND)
    wait_until(lambda: threading.active_count() <= before, BOUND)
    assert not started


def test_a_socket_closed_by_the_host_does_not_block_the_next_one_on_its_number():
    """A WSGI host closed an adopted socket while the I/O thread still had it
    registered; the next socket gets the same descriptor number."""
    import relaysync.reactor as reactor_module
    server = relaysync.Server()
    server.register(relaysync.Workflow('w'), '/wf')
    reactor = server._make_reactor()
    thread = threading.Thread(target=reactor.run, daemon=True)
    reactor.thread = thread
    thread.start()
    try:
        first, _ = socket.socketpair()
        stale = reactor_module.Channel(reactor, first, 'first', adopted=True)
        stale.attach(server._admit(server.workflow_for('/wf'), stale, '/wf', own_worker=False))
        reactor.adopt_soon(stale)
        wait_until(lambda: reactor.channels.get(stale.fileno) is stale)
        number = first.fileno()
        first.close()                       # the host closes it behind our back
        second, peer = socket.socketpair()
        if second.fileno() != number:       # make the new socket take the same number
            import os
            os.dup2(second.fileno(), number)
            second.close()
            second = socket.socket(fileno=number)
        fresh = reactor_module.Channel(reactor, second, 'second', adopted=True)
        fresh.attach(server._admit(server.workflow_for('/wf'), fresh, '/wf', own_worker=False))
        reactor.adopt_soon(fresh)
        wait_until(lambda: reactor.channels.get(number) is fresh)
        assert stale.finished.wait(BOUND) and stale.conn.is_closed
        assert thread.is_alive()
        peer.close()
        second.close()
    finally:
        reactor.shutdown()
        thread.join(BOUND)


def test_wsgi_upgrade_after_stop_is_refused(wsgi_host):
    server = relaysync.Server()
    server.register(relaysync.Workflow('w'), '/wf')
    host = wsgi_host(server)
    server.stop()
    assert status_line(host.port, upgrade_request('/wf')) == b'HTTP/1.1 503 Service Unavailable'
    assert not [t for t in threading.enumerate() if t.name == 'relaysync-io-embedded']
