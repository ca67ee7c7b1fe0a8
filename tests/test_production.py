"""Production paths against real processes on loopback: the Flask sample, gunicorn
with two workers, graceful shutdown on SIGTERM (gunicorn and standalone), and
dropping a silent peer."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import pytest

from conftest import wait_until
from peer import HandshakeRejected, RelayPeer, http_request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, 'samples')
#: An interaction URN for the events the peer sends.
IT = 'urn:relay-resource:name:interaction:i?device=urn%3Arelay-resource%3Aname%3Adevice%3AH'
GUNICORN = os.path.join(os.path.dirname(sys.executable), 'gunicorn')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Proc:
    """A server process whose output is collected; always killed at the end."""

    def __init__(self, args: List[str], port: int, cwd: str, env: Optional[Dict] = None):
        self.port = port
        full_env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED='1')
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: List[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_until(self._listening, timeout=20, interval=0.05)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError('server exited early:\n' + '\n'.join(self.lines))
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.2):
                return True
        except OSError:
            return False

    @property
    def output(self) -> str:
        return '\n'.join(self.lines)

    def terminate_and_wait(self, timeout: float) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)


def run_hello(port: int, path: str, index: int) -> Optional[str]:
    """One complete hello-style instance; returns what the device heard."""
    device = f'urn:relay-resource:name:device:D{index}'
    interaction = ('urn:relay-resource:name:interaction:hi?device='
                   f'urn%3Arelay-resource%3Aname%3Adevice%3AD{index}')
    with RelayPeer(f'ws://127.0.0.1:{port}{path}', timeout=15) as peer:
        peer.start(device)
        request = peer.expect('wf_api_start_interaction_request')
        peer.respond(request)
        peer.event('wf_api_interaction_lifecycle_event', type='started', source_uri=interaction)
        say = peer.expect('wf_api_say_request')
        peer.respond(say, id=say['_id'])
        peer.prompt(say['_id'], 'stopped', interaction)
        end = peer.expect('wf_api_end_interaction_request')
        peer.respond(end)
        peer.event('wf_api_interaction_lifecycle_event', type='ended', source_uri=interaction)
        peer.expect('wf_api_terminate_request')
        peer.event('wf_api_stop_event', reason='normal')
        return say['text']


# --------------------------------------------------------------------- Flask sample
def test_flask_sample_serves_page_and_two_workflows_on_one_port():
    port = free_port()
    server = Proc([sys.executable, 'flask_app.py'], port, SAMPLES)
    try:
        page = http_request(port, 'GET', '/')
        assert page.status == 200 and b'relaysync + Flask' in page.body
        assert run_hello(port, '/hellopath', 1) == 'hello from flask'
        # The second workflow: listen, then echo what was heard.
        with RelayPeer(f'ws://127.0.0.1:{port}/echo') as peer:
            peer.start('urn:relay-resource:name:device:Bob')
            peer.respond(peer.expect('wf_api_start_interaction_request'))
            peer.event('wf_api_interaction_lifecycle_event', type='started', source_uri=IT)
            listen = peer.expect('wf_api_listen_request')
            peer.respond(listen)
            peer.event('wf_api_speech_event', request_id=listen['_id'], text='pizza',
                       lang='en-US', source_uri=IT)
            say = peer.expect('wf_api_say_request')
            assert say['text'] == 'you said pizza'
            peer.respond(say, id=say['_id'])
            peer.prompt(say['_id'], 'stopped', IT)
            peer.respond(peer.expect('wf_api_end_interaction_request'))
            peer.event('wf_api_interaction_lifecycle_event', type='ended', source_uri=IT)
            peer.expect('wf_api_terminate_request')
        # The app is still healthy afterwards, and the workflows are not Flask routes.
        assert http_request(port, 'GET', '/').status == 200
        assert http_request(port, 'GET', '/hellopath').status == 426
        assert http_request(port, 'GET', '/nothing').status == 404
    finally:
        server.kill()
    assert 'Traceback' not in server.output, server.output


# ------------------------------------------------------------------------ gunicorn
# One start -> say_and_wait -> end -> terminate workflow, shared by the programs below.
HELLO_HANDLERS = '''
@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'hi')

@wf.on_interaction_lifecycle
def lifecycle(relay, itype, uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.say_and_wait(uri, TEXT)
        relay.end_interaction(uri)
    elif itype == relaysync.TYPE_ENDED:
        relay.terminate()
'''

APP_TEMPLATE = '''
import os, relaysync, relaysync.wsgi

server = relaysync.Server(drain_timeout={drain})
wf = relaysync.Workflow('pid workflow')
server.register(wf, '/hellopath')
TEXT = 'hello from %d' % os.getpid()
''' + HELLO_HANDLERS + '''
app = relaysync.wsgi.mount(None, server)
'''


def write_app(tmp_path, drain: float = 10.0) -> str:
    (tmp_path / 'wfapp.py').write_text(textwrap.dedent(APP_TEMPLATE.format(drain=drain)))
    return str(tmp_path)


def start_gunicorn(cwd: str, port: int, workers: int = 2, threads: int = 150,
                   *extra: str) -> Proc:
    return Proc([GUNICORN, '-c', 'python:relaysync.gunicorn_conf', '--workers', str(workers),
                 '--threads', str(threads), '--bind', f'127.0.0.1:{port}',
                 '--graceful-timeout', '20', *extra, 'wfapp:app'], port, cwd)


@pytest.mark.skipif(not os.path.exists(GUNICORN), reason='gunicorn is not installed')
def test_gunicorn_two_workers_run_200_instances_none_lost(tmp_path):
    # 150 threads a worker, 15 of them kept free: room for 270 instances.
    port = free_port()
    cwd = write_app(tmp_path)
    server = start_gunicorn(cwd, port)
    try:
        with ThreadPoolExecutor(max_workers=200) as pool:
            heard = list(pool.map(lambda i: run_hello(port, '/hellopath', i), range(200)))
        assert len(heard) == 200 and all(h and h.startswith('hello from ') for h in heard)
        pids = {h.rsplit(' ', 1)[1] for h in heard}
        assert len(pids) == 2, f'instances ran in {pids}, expected both workers'
        health = http_request(port, 'GET', '/health')
        assert health.status == 200 and health.json()['status'] == 'ok'
        assert server.terminate_and_wait(30) == 0
    finally:
        server.kill()
    assert 'Traceback' not in server.output, server.output


def hold_instance(port: int, path: str, index: int) -> RelayPeer:
    """Start an instance and leave it waiting inside say_and_wait."""
    peer = RelayPeer(f'ws://127.0.0.1:{port}{path}', timeout=15)
    peer.start(f'urn:relay-resource:name:device:H{index}')
    peer.respond(peer.expect('wf_api_start_interaction_request'))
    peer.event('wf_api_interaction_lifecycle_event', type='started', source_uri=f'{IT}{index}')
    peer.held_say = peer.expect('wf_api_say_request')
    return peer


def finish_instance(peer: RelayPeer) -> None:
    say = peer.held_say
    peer.respond(say, id=say['_id'])
    peer.prompt(say['_id'], 'stopped', IT)
    peer.respond(peer.expect('wf_api_end_interaction_request'))
    peer.event('wf_api_interaction_lifecycle_event', type='ended', source_uri=IT)
    peer.expect('wf_api_terminate_request')
    peer.close()


def check_drain(server: Proc, port: int, path: str, exit_timeout: float) -> None:
    """4 running instances; SIGTERM; 2 finish during the drain, 2 are cut off with 1001."""
    peers = [hold_instance(port, path, i) for i in range(4)]
    try:
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # New instances are not served while draining (refused, or left unanswered
        # in the listen backlog of a gunicorn master that is shutting down).
        with pytest.raises((HandshakeRejected, ConnectionError, OSError)):
            RelayPeer(f'ws://127.0.0.1:{port}{path}', handshake_timeout=0.5).close()
        finish_instance(peers[0])
        finish_instance(peers[1])
        assert peers[2].wait_closed(10) == 1001
        assert peers[3].wait_closed(10) == 1001
        assert server.proc.wait(exit_timeout) == 0
        wait_until(lambda: 'closing 2 running workflow instance(s) with 1001' in server.output)
    finally:
        for peer in peers:
            peer.close()


@pytest.mark.skipif(not os.path.exists(GUNICORN), reason='gunicorn is not installed')
def test_gunicorn_sigterm_drains_then_closes_the_rest_with_1001(tmp_path):
    port = free_port()
    server = start_gunicorn(write_app(tmp_path, drain=3), port, workers=1, threads=10)
    try:
        check_drain(server, port, '/hellopath', exit_timeout=15)
    finally:
        server.kill()


STANDALONE = '''
import os, logging, relaysync
server = relaysync.Server('127.0.0.1', os.environ['PORT'], drain_timeout=3)
wf = relaysync.Workflow('hold')
server.register(wf, '/hold')
TEXT = 'hold on'
''' + HELLO_HANDLERS + '''
logging.basicConfig(level=logging.INFO)
server.start()
print('server.start returned', flush=True)
'''


def test_standalone_sigterm_drains_then_closes_the_rest_with_1001(tmp_path):
    (tmp_path / 'hold.py').write_text(textwrap.dedent(STANDALONE))
    port = free_port()
    server = Proc([sys.executable, 'hold.py'], port, str(tmp_path))
    try:
        check_drain(server, port, '/hold', exit_timeout=10)
        assert 'server.start returned' in server.output
    finally:
        server.kill()


def test_stop_from_code_closes_running_instances_with_1001(serve, caplog):
    import relaysync
    wf = relaysync.Workflow('hold')
    outcome = []

    @wf.on_start
    def start(relay, trigger):
        try:
            relay.say_and_wait('urn:relay-resource:name:device:A', 'never finishes')
        except relaysync.ConnectionClosed as exc:
            outcome.append(exc.code)

    served = serve(wf)
    peer = served.peer()
    peer.start()
    peer.expect('wf_api_say_request')
    caplog.set_level('INFO', logger='relaysync')
    served.server.stop(drain_timeout=0.3)
    assert peer.wait_closed(5) == 1001
    wait_until(lambda: outcome == [1001])
    assert 'closing 1 running workflow instance(s) with 1001' in caplog.text
    assert served.server.total_connections() == 0
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', served.port), timeout=1).close()


# -------------------------------------------------------------------- silent peer
def test_silent_peer_is_dropped_and_its_thread_released(serve):
    import relaysync
    wf = relaysync.Workflow('idle')
    started = threading.Event()

    @wf.on_start
    def start(relay, trigger):
        started.set()

    served = serve(wf, ping_interval=0.3, ping_timeout=0.5)
    # A well-behaved peer answers pings and stays connected.
    with RelayPeer(served.url()) as good:
        good.start()
        assert started.wait(5)
        # A silent peer: completes the handshake, then never reads or answers.
        silent = socket.create_connection(('127.0.0.1', served.port), timeout=5)
        try:
            silent.sendall(b'GET /wf HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                           b'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'
                           b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
            assert silent.recv(4096).startswith(b'HTTP/1.1 101')
            silent.sendall(_masked_text(json.dumps(
                {'_type': 'wf_api_start_event', 'trigger': {'args': {'source_uri': 'urn:x'}}})))
            wait_until(lambda: served.server.total_connections() == 2, timeout=5)
            # Dropped after ping_interval + ping_timeout (plus housekeeping ticks).
            wait_until(lambda: served.server.total_connections() == 1, timeout=10)
            assert good.connected
            good.expect_nothing(0.2)
        finally:
            silent.close()
    workers = [t for t in threading.enumerate() if t.name.startswith('relaysync-worker-')]
    wait_until(lambda: not any(t.is_alive() for t in workers), timeout=5)


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    header = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0xFE]) + n.to_bytes(2, 'big')
    return header + mask + body


def test_while_draining_health_and_upgrades_answer_503(serve):
    import relaysync
    wf = relaysync.Workflow('hold')
    release = threading.Event()

    @wf.on_start
    def start(relay, trigger):
        release.wait(10)
        relay.terminate()

    served = serve(wf)
    peer = served.peer()
    peer.start()
    wait_until(lambda: served.server.total_connections() == 1)
    stopper = threading.Thread(target=served.server.stop, kwargs={'drain_timeout': 10})
    stopper.start()
    try:
        wait_until(lambda: served.server.stopping)
        health = http_request(served.port, 'GET', '/health')
        assert health.status == 503 and health.json()['status'] == 'stopping'
        with pytest.raises(HandshakeRejected) as refused:
            RelayPeer(served.url(), handshake_timeout=2).close()
        assert refused.value.status == 503
    finally:
        release.set()        # the running instance finishes within the drain
    peer.expect('wf_api_terminate_request')
    peer.close()
    stopper.join(10)
    assert not stopper.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', served.port), timeout=1).close()


# ------------------------------------------------- gunicorn: sizing and warnings
@pytest.mark.skipif(not os.path.exists(GUNICORN), reason='gunicorn is not installed')
def test_gunicorn_keeps_a_thread_for_health_checks_when_instances_fill_it(tmp_path):
    port = free_port()
    server = start_gunicorn(write_app(tmp_path), port, 1, 4)   # 4 threads: 3 instances
    peers = []
    try:
        peers = [hold_instance(port, '/hellopath', i) for i in range(3)]
        with pytest.raises(HandshakeRejected) as refused:
            RelayPeer(f'ws://127.0.0.1:{port}/hellopath', handshake_timeout=5).close()
        assert refused.value.status == 503
        health = http_request(port, 'GET', '/health')
        assert health.status == 200 and health.json()['connections'] == 3
        for peer in peers:
            finish_instance(peer)
        assert server.terminate_and_wait(30) == 0
    finally:
        for peer in peers:
            peer.close()
        server.kill()
    assert "the WSGI host's threads" in server.output


@pytest.mark.skipif(not os.path.exists(GUNICORN), reason='gunicorn is not installed')
def test_gunicorn_sync_worker_and_a_drain_too_long_are_warned_about(tmp_path):
    port = free_port()
    server = start_gunicorn(write_app(tmp_path, drain=25), port, 1, 1, '--worker-class', 'sync')
    try:
        wait_until(lambda: 'runs one request at a time' in server.output)
        run_hello(port, '/hellopath', 0)
        wait_until(lambda: 'does not fit in the host\'s graceful timeout (20 s)'
                   in server.output)
    finally:
        server.kill()


BACKGROUND = '''
import os, logging, time, relaysync
server = relaysync.Server('127.0.0.1', os.environ['PORT'], drain_timeout=10)
wf = relaysync.Workflow('hold')
server.register(wf, '/hold')
TEXT = 'hold on'
''' + HELLO_HANDLERS + '''
logging.basicConfig(level=logging.INFO)
server.start_in_background()
try:
    for _ in range(600):              # the program's own work
        time.sleep(0.1)
finally:
    print('main program unwound', flush=True)
'''


def test_start_in_background_drains_on_sigterm_then_exits(tmp_path):
    (tmp_path / 'bg.py').write_text(textwrap.dedent(BACKGROUND))
    port = free_port()
    server = Proc([sys.executable, 'bg.py'], port, str(tmp_path))
    peer = None
    try:
        peer = hold_instance(port, '/hold', 0)
        server.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: 'SIGTERM: draining' in server.output)
        assert server.proc.poll() is None            # still draining
        finish_instance(peer)                        # the instance completes
        assert server.proc.wait(15) == 143
        assert 'main program unwound' in server.output
        assert 'every workflow instance finished' in server.output
    finally:
        if peer is not None:
            peer.close()
        server.kill()

