"""Regression tests for defects found in a review of the core (engine, reactor,
server): each test failed before its fix."""

import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import relaysync
from conftest import wait_until
from peer import RelayPeer
from rawws import OP_CLOSE, OP_TEXT, RawClient, close_payload, open_fds

BOUND = 5.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _listening(port: int, proc: subprocess.Popen) -> bool:
    if proc.poll() is not None:
        output = proc.stdout.read() if proc.stdout is not None else ''
        raise AssertionError(f'server exited early: {output}')
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2):
            return True
    except OSError:
        return False


# ------------------------------------------------ an infinite timeout waits
def test_infinite_per_call_timeout_waits_for_the_response(runner):
    """``timeout=float('inf')`` (accepted, since it is positive) means "wait":
    the call must return the response, not raise OverflowError from the lock
    after the request went out (and stay registered forever)."""
    job = runner.start(lambda relay: relay.request('get_var', {'name': 'x'},
                                                   timeout=float('inf')))
    request = job.peer.expect('wf_api_get_var_request')
    time.sleep(0.1)  # let the call block first
    job.peer.respond(request, value='forever')
    assert job.result()['value'] == 'forever'
    assert job.relay.connection._pending == {}


def test_infinite_instance_timeouts_wait_for_the_response_and_the_event(runner):
    def fn(relay):
        relay.timeouts.request = float('inf')
        relay.timeouts.prompt = float('inf')
        return relay.get_var('x'), relay.say_and_wait('urn:relay-resource:name:device:A', 'hi')

    job = runner.start(fn)
    request = job.peer.expect('wf_api_get_var_request')
    job.peer.respond(request, value='v')
    say = job.peer.expect('wf_api_say_request')
    job.peer.respond(say, id='pb-1')
    time.sleep(0.1)
    job.peer.prompt('pb-1', 'stopped')
    assert job.result() == ('v', 'pb-1')


# --------------------------------------------- Ctrl-C closes peers with 1001
SIGINT_SERVER = '''
import os, relaysync
server = relaysync.Server('127.0.0.1', os.environ['PORT'])
wf = relaysync.Workflow('hold')
server.register(wf, '/hold')

@wf.on_start
def start(relay, trigger):
    relay.get_var('never answered')

server.start()
print('server.start returned', flush=True)
'''


def test_ctrl_c_closes_every_connection_with_1001(tmp_path):
    """README and Server.start: "Ctrl-C ... closing every connection with code
    1001" -- the peer must get a close frame with 1001, not a bare FIN."""
    script = tmp_path / 'sigint_server.py'
    script.write_text(SIGINT_SERVER)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=str(tmp_path),
                            env=dict(os.environ, PORT=str(port)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: _listening(port, proc), timeout=15, interval=0.05)
        with RelayPeer(f'ws://127.0.0.1:{port}/hold') as peer:
            peer.start()
            peer.expect('wf_api_get_var_request')
            proc.send_signal(signal.SIGINT)
            assert peer.wait_closed(BOUND) == 1001
        assert proc.wait(BOUND) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(BOUND)
        output = proc.stdout.read()
        proc.stdout.close()
    assert 'server.start returned' in output, output


# ------------------------------------------- out of descriptors: no busy loop
EMFILE_SERVER = '''
import logging, os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
import relaysync
handler = logging.StreamHandler(sys.stdout)
logging.getLogger('relaysync').addHandler(handler)
logging.getLogger('relaysync').setLevel(logging.INFO)
server = relaysync.Server('127.0.0.1', os.environ['PORT'])
wf = relaysync.Workflow('after')
server.register(wf, '/wf')

@wf.on_start
def start(relay, trigger):
    relay.get_var('recovered')
    relay.terminate()

server.start()
'''


def test_out_of_descriptors_pauses_accepting_instead_of_spinning(tmp_path):
    """With every descriptor in use, accept() fails with EMFILE while the
    listener stays readable: the I/O thread must not spin on it (logging an
    error per turn of the loop), and must accept again once descriptors free up."""
    script = tmp_path / 'emfile_server.py'
    script.write_text(EMFILE_SERVER)
    log_path = tmp_path / 'server.log'
    port = _free_port()
    clients = []
    with open(log_path, 'w') as log:
        proc = subprocess.Popen([sys.executable, str(script)], cwd=str(tmp_path),
                                env=dict(os.environ, PORT=str(port)),
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _listening(port, proc), timeout=15, interval=0.05)
        for _ in range(80):    # more than the server's 64 descriptors
            clients.append(socket.create_connection(('127.0.0.1', port), timeout=BOUND))
        wait_until(lambda: 'cannot accept' in log_path.read_text(), timeout=BOUND)
        time.sleep(1.0)        # the server stays out of descriptors meanwhile
        errors = log_path.read_text().count('cannot accept')
        assert 1 <= errors <= 20, f'{errors} "cannot accept" log lines in about a second'
        for client in clients:
            client.close()
        clients.clear()
        with RelayPeer(f'ws://127.0.0.1:{port}/wf') as peer:
            peer.start()
            peer.respond(peer.expect('wf_api_get_var_request'), value='yes')
            peer.expect('wf_api_terminate_request')
    finally:
        for client in clients:
            client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(BOUND)


# ------------------------------------------ a failed start leaks no descriptor
def test_start_on_a_port_in_use_leaks_no_descriptors():
    """The listening socket that could not bind, and the selector and waker of
    the I/O thread that never ran, are closed at once (not left to the cyclic
    garbage collector through the exception's traceback)."""
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        gc.collect()
        gc.disable()
        try:
            before = open_fds()
            for _ in range(3):
                with pytest.raises(relaysync.ServerException):
                    relaysync.Server('127.0.0.1', port).start_in_background()
            assert open_fds() == before
        finally:
            gc.enable()
            gc.collect()


# ------------------------- the peer's close: queued data and the reply go out
def test_peer_close_waits_for_queued_data_and_sends_the_close_reply(serve):
    """A peer that closes while a big message is still queued for it, and
    reads on a moment later, gets the whole message and then the close reply
    (RFC 6455 5.5.1) -- the socket is not dropped at the next housekeeping
    turn (0.5 s) with megabytes and the reply unsent; close_timeout applies."""
    size = 12_000_000   # more than loopback socket buffers take at once
    wf = relaysync.Workflow('big sender')

    @wf.on_start
    def start(relay, trigger):
        try:
            relay.request('log_message', {'content': 'x' * size})
        except relaysync.ConnectionClosed:
            pass

    served = serve(wf)
    with RawClient(served.port, '/wf', timeout=BOUND) as client:
        assert client.status == 101
        client.send_json({'_type': 'wf_api_start_event', 'trigger': {'args': {}}})
        time.sleep(0.5)                     # the message is queued, partly written
        client.send_frame(OP_CLOSE, close_payload(1000))
        time.sleep(1.0)                     # longer than a housekeeping turn
        received = client.read_frame()
        assert received.opcode == OP_TEXT and len(received.payload) > size
        assert client.read_close().close_code == 1000


# ------------------------------- a progress event never shortens an event wait
def test_progress_after_the_listen_response_does_not_cut_the_speech_wait(make_runner):
    """After the listen response the call waits the listen ``timeout`` plus
    ``listen_margin`` for the speech event (README): a progress event for the
    request arriving then must not cut that down to ``timeouts.request``."""
    runner = make_runner(timeouts=relaysync.Timeouts(request=0.3, listen_margin=1.0))
    job = runner.start(lambda relay: relay.listen('urn:relay-resource:name:device:A',
                                                  timeout=1))
    with job:
        listen = job.peer.expect('wf_api_listen_request')
        job.peer.respond(listen)
        job.peer.progress(listen)
        assert not job._done.wait(0.8), f'listen ended early: {job._error!r}'
        job.peer.event('wf_api_speech_event', request_id=listen['_id'], text='pizza',
                       lang='en-US', source_uri='urn:i')
        assert job.result() == 'pizza'


def test_an_instance_whose_worker_cannot_start_is_closed_with_1013(serve, monkeypatch):
    """Out of threads: the instance is closed cleanly (1013, try again later),
    forgotten by the server, and the next instance works once threads are back."""
    import relaysync
    from peer import RelayPeer
    wf = relaysync.Workflow('no threads')
    ran = []

    @wf.on_start
    def start(relay, trigger):
        ran.append(trigger)
        relay.terminate()

    served = serve(wf)
    real_start = threading.Thread.start

    def refuse(self):
        if self.name.startswith('relaysync-worker-'):
            raise RuntimeError("can't start new thread")
        return real_start(self)

    monkeypatch.setattr(threading.Thread, 'start', refuse)
    with RelayPeer(served.url()) as peer:
        peer.start()
        assert peer.wait_closed(5) == 1013
    wait_until(lambda: served.server.total_connections() == 0)
    assert ran == []
    monkeypatch.setattr(threading.Thread, 'start', real_start)
    with RelayPeer(served.url()) as peer:
        peer.start()
        peer.expect('wf_api_terminate_request')
    assert len(ran) == 1
