#!/usr/bin/env python3
"""Soak: many complete sessions against one relaysync server process.

    python bench/soak.py                          # 10,000 sequential + a burst of 500
    python bench/soak.py --sequential 300 --concurrent 100 --json-out soak.json

The server runs as its own process (``--serve``, started by this script), so
its threads, file descriptors and RSS are read from ``/proc/PID`` without the
client's in the way.  Every session plays the Relay server with the test
suite's peer (``tests/peer.py``, on the simulator's WebSocket client):

1. connect to ``/soak`` and send a start event whose trigger carries a unique token;
2. answer the handler's ``get_var('token')`` with that token;
3. the handler then calls ``say_and_wait(device, 'hello <token>')``: the text
   must carry this session's token (proof that the handler got its own
   answer), the client answers the say and sends the prompt ``stopped`` event;
4. the handler calls ``terminate()``; the client checks the terminate request
   and closes with 1000.

Any deviation, timeout or refused connection counts as a failure (the first
few are listed).  The burst opens all its connections first, waits until every
one is upgraded (a barrier), then runs the sessions at once.  Threads, open
file descriptors and RSS of the server are reported before the first session,
after the sequential part, and after the burst once the server has settled
(bounded wait).  Everything is on 127.0.0.1 and every wait is bounded.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = 'urn:relay-resource:name:device:Soak'
PATH = '/soak'


# ------------------------------------------------------------------ server side
def serve() -> None:
    """Run the soak server in this process; print the port; stop when stdin closes."""
    sys.path.insert(0, ROOT)
    import logging
    import relaysync

    workflow = relaysync.Workflow('soak')

    @workflow.on_start
    def start(relay: Any, trigger: Dict[str, Any]) -> None:
        token = relay.get_var('token')
        relay.say_and_wait(relay.make_target_uris(trigger), f'hello {token}')
        relay.terminate()

    server = relaysync.Server('127.0.0.1', 0, log_level=logging.WARNING,
                              max_connections=2048)
    server.register(workflow, PATH)
    server.start_in_background()
    print(server.port, flush=True)
    sys.stdin.read()  # until the parent closes the pipe
    server.stop(drain_timeout=0)


def process_stats(pid: int) -> Dict[str, int]:
    """Threads, open fds and RSS (KiB) of a process, from /proc."""
    stats = {'fds': len(os.listdir(f'/proc/{pid}/fd'))}
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('Threads:'):
                stats['threads'] = int(line.split()[1])
            elif line.startswith('VmRSS:'):
                stats['rss_kib'] = int(line.split()[1])
    return stats


# ------------------------------------------------------------------ client side
def _peer_module() -> Any:
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    import peer
    return peer


def one_session(url: str, token: str, peer_module: Any, timeout: float = 10.0,
                barrier: Optional[threading.Barrier] = None) -> None:
    """One complete, checked session; raises on any deviation."""
    with peer_module.RelayPeer(url, timeout=timeout, handshake_timeout=timeout) as peer:
        if barrier is not None:
            barrier.wait(timeout=60)
        peer.start(DEVICE, token=token)
        request = peer.expect('wf_api_get_var_request')
        if request.get('name') != 'token':
            raise AssertionError(f'unexpected get_var {request!r}')
        peer.respond(request, value=token)
        say = peer.expect('wf_api_say_request')
        if say.get('text') != f'hello {token}' or say.get('_target') != {'uris': [DEVICE]}:
            raise AssertionError(f'session {token} got {say!r}')
        peer.respond(say, id=f'pb-{token}')
        peer.prompt(f'pb-{token}', 'stopped', source_uri=DEVICE)
        peer.expect('wf_api_terminate_request')


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.completed = 0
        self.failures = 0
        self.examples: List[str] = []

    def ok(self) -> None:
        with self.lock:
            self.completed += 1

    def failed(self, token: str, exc: BaseException) -> None:
        with self.lock:
            self.failures += 1
            if len(self.examples) < 5:
                self.examples.append(f'{token}: {type(exc).__name__}: {exc}')


def run_sequential(url: str, count: int, tally: Tally, peer_module: Any) -> None:
    for index in range(count):
        token = f'seq-{index}'
        try:
            one_session(url, token, peer_module)
            tally.ok()
        except Exception as exc:
            tally.failed(token, exc)


def run_burst(url: str, count: int, tally: Tally, peer_module: Any) -> None:
    barrier = threading.Barrier(count)

    def session(index: int) -> None:
        token = f'burst-{index}'
        try:
            one_session(url, token, peer_module, timeout=60, barrier=barrier)
            tally.ok()
        except threading.BrokenBarrierError as exc:
            tally.failed(token, exc)
        except Exception as exc:
            barrier.abort()
            tally.failed(token, exc)

    threads = [threading.Thread(target=session, args=(i,), daemon=True,
                                name=f'soak-burst-{i}') for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        tally.failed('burst', TimeoutError(f'{stuck} burst sessions still running after 300 s'))


def settle(pid: int, target: Dict[str, int], timeout: float = 30.0) -> Dict[str, int]:
    """Wait (bounded) until the server's threads and fds are back to ``target``."""
    deadline = time.monotonic() + timeout
    while True:
        stats = process_stats(pid)
        if (stats['threads'] <= target['threads'] and stats['fds'] <= target['fds']) \
                or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def soak(sequential: int = 10000, concurrent: int = 500) -> Dict[str, Any]:
    """Start a server process, run the sessions, stop it; return the report."""
    peer_module = _peer_module()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--serve'],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = server.stdout.readline()  # the port; the child exits on error
        if not line.strip().isdigit():
            raise RuntimeError(f'soak server did not start (said {line!r})')
        url = f'ws://127.0.0.1:{int(line)}{PATH}'
        before = process_stats(server.pid)
        tally = Tally()
        started = time.monotonic()
        run_sequential(url, sequential, tally, peer_module)
        sequential_seconds = time.monotonic() - started
        after_sequential = settle(server.pid, before)
        started = time.monotonic()
        peak = dict(before)
        sampling = threading.Event()

        def sample() -> None:  # peak threads / fds / RSS while the burst runs
            while not sampling.wait(0.01):
                for key, value in process_stats(server.pid).items():
                    peak[key] = max(peak[key], value)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run_burst(url, concurrent, tally, peer_module)
        sampling.set()
        sampler.join(5)
        burst_seconds = time.monotonic() - started
        after = settle(server.pid, before)
    finally:
        server.stdin.close()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
    return {
        'sessions': sequential + concurrent, 'completed': tally.completed,
        'failures': tally.failures, 'failure_examples': tally.examples,
        'sequential': sequential, 'sequential_seconds': round(sequential_seconds, 2),
        'concurrent': concurrent, 'burst_seconds': round(burst_seconds, 2),
        'server_before': before, 'server_after_sequential': after_sequential,
        'server_peak_during_burst': peak, 'server_after': after,
        'server_exit_code': server.returncode,
    }


def format_report(report: Dict[str, Any]) -> str:
    rows = [('', 'threads', 'open fds', 'RSS (MiB)')]
    for label, key in (('before', 'server_before'), ('after sequential', 'server_after_sequential'),
                       ('peak in burst', 'server_peak_during_burst'),
                       ('after burst', 'server_after')):
        stats = report[key]
        rows.append((label, str(stats['threads']), str(stats['fds']),
                     f"{stats['rss_kib'] / 1024:.1f}"))
    table = '\n'.join(f'  {a:<18}{b:>8}{c:>10}{d:>11}' for a, b, c, d in rows)
    lines = [
        f"sessions: {report['completed']} completed of {report['sessions']}, "
        f"{report['failures']} failed",
        f"  {report['sequential']} sequential in {report['sequential_seconds']} s; "
        f"burst of {report['concurrent']} concurrent in {report['burst_seconds']} s",
        'server process:', table,
    ]
    lines += [f'  failure: {example}' for example in report['failure_examples']]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sequential', type=int, default=10000)
    parser.add_argument('--concurrent', type=int, default=500)
    parser.add_argument('--json-out', help='also write the report as JSON to this file')
    parser.add_argument('--serve', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve()
        return 0
    report = soak(args.sequential, args.concurrent)
    print(format_report(report))
    if args.json_out:
        with open(args.json_out, 'w') as out:
            json.dump(report, out, indent=2)
    return 0 if report['failures'] == 0 and report['completed'] == report['sessions'] else 1


if __name__ == '__main__':
    sys.exit(main())
