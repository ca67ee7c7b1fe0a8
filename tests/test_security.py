"""Security properties over real sockets: TLS is all or nothing, one thread does
every read and write of every TLS socket, secrets never reach a log line, and
connection caps refuse cleanly instead of exhausting threads."""

import http.server
import json
import logging
import os
import socket
import ssl
import threading
from typing import Any, Dict, List, Tuple

import pytest

import relaysync
from relaysync import ServerException
from conftest import wait_until
from peer import INTERACTION, RelayPeer, http_exchange, upgrade_request
from rawws import RawClient, SessionWorkflow, complete_session

BOUND = 5.0


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync')
    return caplog


def tls_server(serve, tls_files, **kwargs):
    flow = SessionWorkflow('tls')
    key, cert = tls_files
    served = serve(flow.workflow, scheme='wss', ssl_key_filename=key, ssl_cert_filename=cert,
                   **kwargs)
    served.flow = flow
    return served


# ====================================================== TLS: all or nothing
def _bad_tls_settings(tmp_path, key, cert, ca):
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    empty = tmp_path / 'empty.pem'
    empty.write_bytes(b'')
    garbage = tmp_path / 'garbage.pem'
    garbage.write_bytes(b'-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
    other_key = tmp_path / 'other.key'
    ca.issue_cert('other.example').private_key_pem.write_to_path(str(other_key))
    missing = str(tmp_path / 'missing.pem')
    return {
        'missing-key': (missing, cert), 'missing-cert': (key, missing),
        'key-is-a-directory': (str(tmp_path), cert), 'cert-is-a-fifo': (key, str(fifo)),
        'empty-key': (str(empty), cert), 'empty-cert': (key, str(empty)),
        'garbage-key': (str(garbage), cert), 'key-of-another-cert': (str(other_key), cert),
        'key-and-cert-swapped': (cert, key), 'only-key': (key, None), 'only-cert': (None, cert),
        'empty-strings': ('', ''),
    }


BAD_TLS = ['missing-key', 'missing-cert', 'key-is-a-directory', 'cert-is-a-fifo', 'empty-key',
           'empty-cert', 'garbage-key', 'key-of-another-cert', 'key-and-cert-swapped',
           'only-key', 'only-cert', 'empty-strings']


@pytest.mark.parametrize('case', BAD_TLS)
def test_bad_key_or_certificate_fails_at_construction(tmp_path, tls_files, ca, case):
    key, cert = _bad_tls_settings(tmp_path, *tls_files, ca)[case]
    kwargs = {k: v for k, v in (('ssl_key_filename', key), ('ssl_cert_filename', cert))
              if v is not None}
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', 0, **kwargs)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files whatever their mode')
def test_unreadable_key_fails_at_construction(tls_files):
    key, cert = tls_files
    os.chmod(key, 0)
    with pytest.raises(ServerException, match='not readable'):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=key, ssl_cert_filename=cert)


@pytest.mark.parametrize('request_bytes', [
    upgrade_request('/wf'), b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n',
    b'\x16\x03\x01\x00\x05hello',          # a TLS record header with nonsense inside
], ids=['plaintext-upgrade', 'plaintext-health', 'broken-tls-record'])
def test_tls_port_never_answers_plaintext(serve, tls_files, client_context, logs,
                                          request_bytes):
    served = tls_server(serve, tls_files)
    reply = http_exchange(served.port, request_bytes)
    assert b'HTTP/' not in reply and b'101' not in reply and b'{' not in reply
    wait_until(lambda: [r for r in logs.records if 'TLS handshake with' in r.getMessage()
                        and 'failed' in r.getMessage()])
    assert served.server.total_connections() == 0
    complete_session(served.url(), served.flow, ssl_context=client_context)


def test_silent_tls_client_is_cut_off_by_the_handshake_timeout(serve, tls_files,
                                                               client_context, logs):
    served = tls_server(serve, tls_files, handshake_timeout=1)
    with RawClient(served.port) as silent:
        complete_session(served.url(), served.flow, ssl_context=client_context)
        assert silent.read_eof(timeout=BOUND) == b''
    assert [r for r in logs.records if 'timed out after 1 s' in r.getMessage()]


# ============================== TLS: every socket call on the I/O thread only
class RecordingSSLSocket(ssl.SSLSocket):
    """Records which thread makes each call on the server's TLS sockets, and
    any call that starts while another thread is inside one (instrumentation:
    every call goes through to the real SSLSocket)."""

    calls: List[Tuple[str, int]] = []
    overlaps: List[Tuple[str, int, int]] = []
    guard = threading.Lock()

    def _enter(self, name: str) -> None:
        me = threading.get_ident()
        with self.guard:
            active = self.__dict__.setdefault('_active_threads', {})
            for ident, depth in active.items():
                if ident != me and depth:
                    self.overlaps.append((name, me, ident))
            active[me] = active.get(me, 0) + 1
            self.calls.append((name, me))

    def _leave(self) -> None:
        with self.guard:
            self.__dict__['_active_threads'][threading.get_ident()] -= 1

    def _traced(name):  # noqa: N805 - a helper run at class creation
        def method(self, *args, **kwargs):
            self._enter(name)
            try:
                return getattr(ssl.SSLSocket, name)(self, *args, **kwargs)
            finally:
                self._leave()
        method.__name__ = name
        return method

    do_handshake = _traced('do_handshake')
    recv = _traced('recv')
    recv_into = _traced('recv_into')
    send = _traced('send')
    sendall = _traced('sendall')
    read = _traced('read')
    write = _traced('write')
    pending = _traced('pending')
    unwrap = _traced('unwrap')
    shutdown = _traced('shutdown')
    del _traced


def test_tls_sockets_are_only_ever_touched_by_the_io_thread(serve, tls_files, client_context):
    runner_flow = relaysync.Workflow('tls duplex')
    results: Dict[str, Any] = {}
    relays: List[Any] = []
    started = threading.Event()
    key, cert = tls_files
    served = serve(runner_flow, scheme='wss', ssl_key_filename=key, ssl_cert_filename=cert)
    recorder = type('Recorder', (RecordingSSLSocket,), {'calls': [], 'overlaps': [],
                                                        'guard': threading.Lock()})
    served.server.ssl_context.sslsocket_class = recorder
    calls_per_thread = 25

    def caller(relay, prefix):
        for index in range(calls_per_thread):
            name = f'{prefix}-{index}'
            results[name] = relay.get_var(name)

    @runner_flow.on_start
    def start(relay, trigger):
        relays.append(relay)
        started.set()
        threads = [threading.Thread(target=caller, args=(relay, f'w{i}'), daemon=True)
                   for i in range(4)]
        for thread in threads:
            thread.start()
        caller(relay, 'handler')
        for thread in threads:
            thread.join(20)

    button_count = 200
    buttons: List[Any] = []
    runner_flow.on_button(lambda relay, button, taps, source_uri: buttons.append(taps))

    with RelayPeer(served.url(), ssl_context=client_context) as peer:
        peer.start()
        assert started.wait(BOUND)
        # A thread that is no handler of this workflow makes calls too.
        user = threading.Thread(target=caller, args=(relays[0], 'user'), daemon=True)
        user.start()

        def chatter():  # the peer sends events and pings while requests flow
            for index in range(button_count):
                peer.event('wf_api_button_event', button='action', taps=f't{index}')
                if index % 10 == 0:
                    peer.ws.send_ping(b'ping %d' % index)
        noisy = threading.Thread(target=chatter, daemon=True)
        noisy.start()
        expected = 6 * calls_per_thread
        for _ in range(expected):
            request = peer.expect('wf_api_get_var_request', timeout=10)
            peer.respond(request, value=request['name'].upper())
        noisy.join(20)
        user.join(20)
        wait_until(lambda: len(buttons) == button_count, 10)
    assert len(results) == expected
    assert all(value == name.upper() for name, value in results.items())
    assert buttons == [f't{i}' for i in range(button_count)]
    io_thread = served.server._reactor.thread.ident
    names = {name for name, _ in recorder.calls}
    assert {'do_handshake', 'recv', 'send'} <= names, names
    assert len([1 for name, _ in recorder.calls if name == 'send']) >= 10
    assert {ident for _, ident in recorder.calls} == {io_thread}
    assert recorder.overlaps == []


# ============================================ secrets never reach any log line
ACCESS_OLD = 'ACCESSOLD4567xyz'
ACCESS_NEW = 'ACCESSNEW8901xyz'
REFRESH = 'REFRESH2345xyz'
PASSWORD = 'PWSECRET6789"q\\uote'
SECRETS = ('ACCESSOLD4567', 'ACCESSNEW8901', 'REFRESH2345', 'PWSECRET6789')


class FakeRelayApi(http.server.BaseHTTPRequestHandler):
    """Plays the Relay auth and API servers: 401 for the old access token."""

    def log_message(self, *args: Any) -> None:  # keep the test output quiet
        pass

    def _reply(self, status: int, payload: Dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        return self.headers.get('Authorization') == f'Bearer {ACCESS_NEW}'

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if self.path.startswith('/oauth2/token'):
            ok = REFRESH.encode() in body
            self._reply(200 if ok else 400, {'access_token': ACCESS_NEW} if ok else {})
        else:
            self._reply(200 if self._authorized() else 401, {'ok': True})

    def do_GET(self) -> None:
        self._reply(200 if self._authorized() else 401, {'id': 'dev', 'name': 'Alice'})


def test_tokens_and_passwords_never_appear_in_logs(make_runner, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # root: urllib3 and everything else too
    for name in ('relaysync', 'relaysync.wire', 'relaysync.http', 'urllib3'):
        caplog.set_level(logging.DEBUG, logger=name)
    api = http.server.ThreadingHTTPServer(('127.0.0.1', 0), FakeRelayApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{api.server_address[1]}'
    try:
        response, token = relaysync.trigger_workflow(
            ACCESS_OLD, REFRESH, 'client', 'wf1', 'sub1', 'user1', ['dev1'],
            {'key': 'value'}, api_url=url, auth_url=url)
        assert (response.status_code, token) == (200, ACCESS_NEW)
        response, token = relaysync.fetch_device(ACCESS_OLD, REFRESH, 'client', 'sub1', 'user1',
                                                 api_url=url, auth_url=url)
        assert (response.status_code, token) == (200, ACCESS_NEW)
    finally:
        api.shutdown()
        api.server_close()

    runner = make_runner(log_level=logging.DEBUG)

    def fn(relay):
        relay.register(INTERACTION, 'sip:alice@example.com', PASSWORD, 3600)
        relay.register_for_calls(INTERACTION, 'sip:alice@example.com', PASSWORD)
        relay.unregister_for_calls(INTERACTION, 'sip:alice@example.com', PASSWORD)
        relay.request('register', {'uri': 'sip:a', 'password': PASSWORD, 'expires': 1})
        return 'registered'

    with runner.start(fn) as job:
        for _ in range(4):
            request = job.peer.expect('wf_api_register_request')
            assert request['password'] == PASSWORD  # the wire carries it, of course
            # A peer echoing secrets back, and a broken message carrying one.
            job.peer.respond(request, password=PASSWORD, access_token=ACCESS_NEW,
                             refresh_token=REFRESH)
        job.peer.send_text('{"_type": "wf_api_x", "password": "%s", "refresh_token": "%s"'
                           % (PASSWORD.replace('\\', '\\\\').replace('"', '\\"'), REFRESH))
        job.peer.send({'_type': 'wf_api_made_up_event', 'access_token': ACCESS_OLD})
        assert job.result() == 'registered'
        wait_until(lambda: 'made_up_event' in caplog.text)

    text = caplog.text + '\n'.join(r.getMessage() for r in caplog.records)
    err = capfd.readouterr()
    for secret in SECRETS:
        assert secret not in text
        assert secret not in err.out and secret not in err.err
    # The log lines that would carry them were written, redacted.
    assert 'wf_api_register_request' in text and '"password":"***"' in text
    assert '"access_token": "***"' in text and '"refresh_token": "***"' in text
    assert 'trigger_workflow: 401, refreshing the access token' in text
    assert 'fetch_device: status 200' in text
    assert 'not JSON' in text  # the broken message was logged, redacted


# =========================================== caps refuse instead of exhausting
def test_connection_cap_answers_503_and_keeps_serving(serve, logs):
    flow = SessionWorkflow('capped')
    gate = threading.Event()
    holding: List[Any] = []
    flow.workflow.on_timer(lambda relay: (holding.append(threading.current_thread()),
                                          gate.wait(20)))
    served = serve(flow.workflow, max_connections=3)
    holders = [RawClient(served.port, '/wf') for _ in range(3)]
    try:
        for holder in holders:
            assert holder.status == 101
            holder.send_json({'_type': 'wf_api_timer_event'})
        wait_until(lambda: len(holding) == 3)  # three worker threads, each blocked
        threads_before = threading.active_count()
        for _ in range(50):
            reply = http_exchange(served.port, upgrade_request('/wf'))
            assert reply.startswith(b'HTTP/1.1 503 '), reply[:100]
            assert b'Retry-After: 5' in reply and b'too many connections' in reply
        assert threading.active_count() == threads_before  # refusals cost no thread
        health = json.loads(http_exchange(served.port, b'GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
                            .partition(b'\r\n\r\n')[2])
        assert health['connections'] == 3
        # One WARNING for the burst (the rest are counted into the next one),
        # and no second line per refusal.
        refusals = [r for r in logs.records if 'refused' in r.getMessage()]
        assert [r.getMessage() for r in refusals] == \
            ['refused a connection to /wf: 3 connections (max_connections)']
        assert refusals[0].levelno == logging.WARNING
    finally:
        gate.set()
        for holder in holders:
            holder.close()
    wait_until(lambda: served.server.total_connections() == 0, BOUND)
    for _ in range(4):  # sequential sessions under the cap
        complete_session(served.url(), flow)


def test_socket_cap_closes_excess_sockets_before_any_handshake(serve, logs):
    flow = SessionWorkflow('socket cap')
    served = serve(flow.workflow, max_connections=1)
    limit = served.server.max_sockets
    assert limit == 1 + 256
    idle = []
    try:
        for _ in range(limit):
            idle.append(socket.create_connection(('127.0.0.1', served.port), timeout=BOUND))
        wait_until(lambda: served.server._reactor.socket_count() == limit)
        with RawClient(served.port) as extra:
            assert extra.read_eof() == b''
        wait_until(lambda: [r for r in logs.records if 'too many open sockets' in r.getMessage()])
        assert served.server._reactor.socket_count() == limit
    finally:
        for sock in idle:
            sock.close()
    wait_until(lambda: served.server._reactor.socket_count() == 0, BOUND)
    complete_session(served.url(), flow)


def test_many_concurrent_upgrades_over_the_cap_all_get_an_answer(serve):
    flow = SessionWorkflow('burst')
    served = serve(flow.workflow, max_connections=10)
    clients = []
    try:
        for _ in range(60):
            clients.append(RawClient(served.port, '/wf'))
        statuses = sorted(c.status for c in clients)
        assert statuses == [101] * 10 + [503] * 50
    finally:
        for client in clients:
            client.close()
    wait_until(lambda: served.server.total_connections() == 0, BOUND)
    complete_session(served.url(), flow)
