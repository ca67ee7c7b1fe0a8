"""Smoke test of the benchmark: the load driver against the transport floor and
against the relaysync bench workflow, a few instances and rounds each.

Correctness only (every instance completes, exactly the expected number of
requests is seen); no timing is asserted.  Each server is a real process on
127.0.0.1, the driver is a real process with real WebSocket connections.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('websockets', minversion='13')

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'bench')


def _load_runner():
    spec = importlib.util.spec_from_file_location('relaysync_bench_run', os.path.join(BENCH,
                                                                                      'run.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


class BenchServer:
    """A bench server script running as its own process on a free port."""

    def __init__(self, script, rounds, tmp_path):
        self.port = runner.free_port()
        self.gc_file = str(tmp_path / f'gc-{script}-{{pid}}.json')
        env = dict(os.environ, PORT=str(self.port), BENCH_ROUNDS=str(rounds),
                   RELAYSYNC_BENCH_GCSTATS=self.gc_file)
        self.log = open(tmp_path / f'{script}.log', 'wb')
        self.proc = subprocess.Popen([sys.executable, os.path.join(BENCH, script)], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not runner.port_listening(self.port):
            assert self.proc.poll() is None, f'{script} exited with {self.proc.returncode}'
            if time.monotonic() >= deadline:   # a bounded wait, not a speed grade
                raise AssertionError(f'{script} not listening after 20 s')
            time.sleep(0.02)

    @property
    def url(self):
        return f'ws://127.0.0.1:{self.port}/bench'

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(script, rounds):
        server = BenchServer(script, rounds, tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def drive(url, instances, rounds, *extra):
    proc = subprocess.run([sys.executable, os.path.join(BENCH, 'driver.py'), '--url', url,
                           '--instances', str(instances), '--rounds', str(rounds),
                           '--timeout', '30', '--max-seconds', '40', *extra],
                          capture_output=True, text=True, timeout=90, check=False)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def assert_complete(status, result, instances, rounds):
    expected = instances * (2 * rounds + 3)
    assert result['failures'] == {}, result['failure_samples']
    assert (status, result['completed'], result['failed']) == (0, instances, 0)
    assert result['requests'] == expected == result['expected_requests']
    assert result['turnaround_ms']['n'] == expected
    assert result['turnaround_by_request_ms']['say']['n'] == instances * rounds
    assert result['turnaround_by_request_ms']['terminate']['n'] == instances
    assert result['instance_s']['n'] == instances


@pytest.mark.parametrize('script', ['floor.py', 'wf_relaysync.py'])
def test_driver_completes_every_instance(start_server, script):
    server = start_server(script, rounds=4)
    status, result = drive(server.url, 6, 4)
    assert_complete(status, result, 6, 4)


@pytest.mark.parametrize('script', ['floor.py', 'wf_relaysync.py'])
def test_asyncio_client_with_playback_time(start_server, script):
    # the other client, and a delayed prompt 'stopped' (the path scenario d uses)
    server = start_server(script, rounds=3)
    status, result = drive(server.url, 4, 3, '--client', 'asyncio', '--think-ms', '20',
                           '--jitter', '0.5', '--spread', '0.1')
    assert_complete(status, result, 4, 3)
    # the playback delay was applied: 3 says of at least 10 ms each per instance
    assert result['instance_s']['p50'] >= 3 * 0.010


def test_wrong_round_count_is_a_failure(start_server):
    server = start_server('floor.py', rounds=2)
    status, result = drive(server.url, 3, 5)
    assert status == 2
    assert result['completed'] == 0
    assert result['failures'] == {'sequence': 3}
    assert result['requests'] == 3 * (2 * 2 + 3)


def test_gc_pauses_are_reported_at_exit(start_server):
    server = start_server('wf_relaysync.py', rounds=2)
    status, result = drive(server.url, 3, 2)
    assert_complete(status, result, 3, 2)
    assert server.stop() == 0
    stats = runner.read_gcstats(server.gc_file)
    assert stats is not None and stats['processes'] == 1
    assert stats['total_ms'] >= 0 and stats['max_ms'] <= stats['total_ms'] + 1e-9


def test_hostile_bench_runs_and_reports_bounded_costs(tmp_path):
    """``bench/hostile.py``: the flood scenario runs against a real server
    process and reports the fields the README quotes."""
    out = tmp_path / 'hostile.json'
    proc = subprocess.run([sys.executable, os.path.join(BENCH, 'hostile.py'),
                           '--scenarios', 'flood', '--json-out', str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    assert row['scenario'] == 'flood'
    assert row['outcome'] == 'server stopped reading', row
    assert row['threads_after'] == 2, row
    for field in ('rss_before_mib', 'peak_growth_mib', 'retained_mib', 'events_sent'):
        assert isinstance(row[field], (int, float)), row
