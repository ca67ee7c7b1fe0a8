"""Shared fixtures: a relaysync Server on 127.0.0.1 (port 0) with a Workflow, and a
runner that executes test code inside a real ``on_start`` handler.

``serve(...)`` builds and starts a server, registers a workflow and, at teardown,
closes the peers it handed out and stops the server (``stop(drain_timeout=0)``).
``runner.start(fn)`` connects a :class:`~peer.RelayPeer`, sends a start event and
runs ``fn(relay)`` in the on_start handler; ``job.result()`` returns what ``fn``
returned or raises what it raised.
"""

import itertools
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import relaysync  # noqa: E402
from peer import DEVICE, RelayPeer  # noqa: E402

JOB_TIMEOUT = 5.0


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0,
               interval: float = 0.01) -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or fail
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f'condition not met within {timeout} s')
        time.sleep(interval)


class Served:
    """A started server with one workflow at ``path``."""

    def __init__(self, server: relaysync.Server, workflow: relaysync.Workflow,
                 path: str, scheme: str = 'ws') -> None:
        self.server = server
        self.workflow = workflow
        self.path = path
        self.scheme = scheme
        self.peers: List[RelayPeer] = []

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, path: Optional[str] = None) -> str:
        return f'{self.scheme}://127.0.0.1:{self.server.port}{path or self.path}'

    def peer(self, path: Optional[str] = None, **kwargs: Any) -> RelayPeer:
        """Connect a RelayPeer (closed at teardown if the test did not)."""
        peer = RelayPeer(self.url(path), **kwargs)
        self.peers.append(peer)
        return peer

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        self.server.stop(drain_timeout=0)


@pytest.fixture
def serve():
    """Factory: ``serve(workflow=None, path='/wf', **server_kwargs) -> Served``."""
    created: List[Served] = []

    def make(workflow: Optional[relaysync.Workflow] = None, path: str = '/wf',
             scheme: str = 'ws', **kwargs: Any) -> Served:
        workflow = workflow or relaysync.Workflow('test workflow')
        server = relaysync.Server('127.0.0.1', 0, **kwargs)
        server.register(workflow, path)
        server.start_in_background()
        served = Served(server, workflow, path, scheme)
        created.append(served)
        return served

    yield make
    for served in reversed(created):
        served.close()


@pytest.fixture
def served(serve) -> Served:
    """A started Server with an empty Workflow at ``/wf``."""
    return serve()


class Job:
    """One run of a test function inside an ``on_start`` handler."""

    def __init__(self, fn: Callable[[relaysync.Relay], Any], peer: RelayPeer) -> None:
        self.fn = fn
        self.peer = peer
        self.relay: Optional[relaysync.Relay] = None
        self._done = threading.Event()
        self._value: Any = None
        self._error: Optional[BaseException] = None

    def run(self, relay: relaysync.Relay) -> None:
        self.relay = relay
        try:
            self._value = self.fn(relay)
        except BaseException as exc:  # handed to the test thread
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float = JOB_TIMEOUT) -> None:
        assert self._done.wait(timeout), f'handler still running after {timeout} s'

    def result(self, timeout: float = JOB_TIMEOUT) -> Any:
        """What ``fn`` returned; re-raises what it raised."""
        self.wait(timeout)
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout: float = JOB_TIMEOUT) -> BaseException:
        """What ``fn`` raised (fails if it returned)."""
        self.wait(timeout)
        assert self._error is not None, f'handler returned {self._value!r}'
        return self._error

    def __enter__(self) -> 'Job':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.peer.close()


class Runner:
    """Runs test functions inside the on_start handler of a served workflow."""

    def __init__(self, served: Served) -> None:
        self.served = served
        self.workflow = served.workflow
        self.server = served.server
        self._jobs: Dict[str, Job] = {}
        self._ids = itertools.count(1)

        @served.workflow.on_start
        def run_job(relay: relaysync.Relay, trigger: Dict[str, Any]) -> None:
            self._jobs[trigger['args']['job']].run(relay)

    def start(self, fn: Callable[[relaysync.Relay], Any], source_uri: str = DEVICE,
              **peer_kwargs: Any) -> Job:
        """Connect a peer, send a start event and run ``fn(relay)`` in the handler."""
        peer = self.served.peer(**peer_kwargs)
        job = Job(fn, peer)
        job_id = f'job-{next(self._ids)}'
        self._jobs[job_id] = job
        peer.start(source_uri, job=job_id)
        return job


@pytest.fixture
def runner(serve) -> Runner:
    """A Runner over a fresh server with default timeouts."""
    return Runner(serve())


@pytest.fixture
def make_runner(serve):
    """Factory: ``make_runner(**server_kwargs) -> Runner``."""
    def make(**kwargs: Any) -> Runner:
        return Runner(serve(**kwargs))
    return make


# ------------------------------------------------------------------ TLS
@pytest.fixture(scope='module')
def ca():
    """A throw-away certificate authority (trustme)."""
    import trustme
    return trustme.CA()


@pytest.fixture
def tls_files(ca, tmp_path):
    """``(key_path, cert_path)``: PEM files for 127.0.0.1 and localhost, signed by ``ca``."""
    cert = ca.issue_cert('127.0.0.1', 'localhost')
    key_path, cert_path = tmp_path / 'server.key', tmp_path / 'server.pem'
    cert.private_key_pem.write_to_path(str(key_path))
    cert_path.write_bytes(b''.join(blob.bytes() for blob in cert.cert_chain_pems))
    return str(key_path), str(cert_path)


@pytest.fixture
def client_context(ca):
    """A client SSLContext that trusts ``ca``."""
    import ssl
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
