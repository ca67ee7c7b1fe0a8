#!/usr/bin/env python3
"""What one bad peer costs: peak RSS of a relaysync server under hostile peers.

    python bench/hostile.py                    # every scenario, about a minute
    python bench/hostile.py --scenarios reader,flood --json-out hostile.json

It needs the ``bench`` extra (``pip install -e '.[bench]'``): its raw
WebSocket client is the test suite's (``tests/rawws.py``).

The server runs as its own process (``--serve``), so its RSS, threads and file
descriptors are read from ``/proc/PID`` with nothing of the client's in them.
Each scenario reports the server's RSS before it, the peak while it ran
(sampled every 20 ms) and what is left after its peers have gone:

reader
    A peer that never reads (a 4 KiB receive buffer), but sends a legal
    unsolicited pong every 0.5 s, while its workflow sends 150 requests of
    1 MB, each with a 0.05 s timeout.  Also reports whether and when the
    server dropped the peer.
flood
    The workflow's handler is busy (it sleeps, no call pending) while the peer
    sends 400 ``timer_fired`` events of 500 KB as fast as the server reads them.
flood-in-call
    The same flood while the handler waits for a response that never comes.
amplify
    The flood again, with events whose text is small but whose parsed form is
    not: each holds 9,000 empty JSON objects (36 KB of text, ~0.7 MB parsed).
neighbour
    A healthy peer's ``get_var`` round trip, p50 over 300 calls, alone and then
    beside a peer that never reads while its workflow sends 100 x 1 MB and then
    small messages without end.
pings
    The same round trip beside a peer that floods pings (and reads its pongs).
fragments
    The same round trip beside a peer that sends 8 MiB messages in 3-byte
    fragments.
open
    2,000 open instances, each handler blocked in a call the peer never
    answers: RSS per instance.

The server runs with the default limits except ``ping_timeout=5`` (so the
reader scenario ends in seconds) and ``max_connections=4096``.  Everything is
on 127.0.0.1, every socket has a timeout and every loop is
bounded.  Numbers are printed, never asserted: they belong in the README's
reliability section, not in tests.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
DEVICE = 'urn:relay-resource:name:device:Hostile'
MIB = 1024 * 1024


# ------------------------------------------------------------------ server side
def serve() -> None:
    """Run the server in this process; print its port; stop when stdin closes."""
    sys.path.insert(0, ROOT)
    import logging

    import relaysync

    sink = relaysync.Workflow('sink')

    @sink.on_start
    def send_blobs(relay: Any, trigger: Dict[str, Any]) -> None:
        """Send ``big`` requests of ``size`` bytes, then small ones until closed."""
        args = trigger['args']
        blob = 'x' * int(args['size'])
        small = int(args.get('small', 0))
        for i in range(int(args['big']) + small):
            try:
                relay.request('blob', {'blob': blob if i < int(args['big']) else 'y' * 200},
                              timeout=float(args['timeout']))
            except relaysync.RelayTimeout:
                pass
            except relaysync.ConnectionClosed:
                return

    busy = relaysync.Workflow('busy')

    @busy.on_start
    def be_busy(relay: Any, trigger: Dict[str, Any]) -> None:
        if trigger['args'].get('in_call'):
            try:
                relay.request('get_var', {'name': 'never'}, timeout=float(trigger['args']['busy']))
            except relaysync.WorkflowException:
                pass
        else:
            time.sleep(float(trigger['args']['busy']))

    @busy.on_timer_fired
    def fired(relay: Any, name: str) -> None:
        pass

    echo = relaysync.Workflow('echo')

    @echo.on_start
    def round_trips(relay: Any, trigger: Dict[str, Any]) -> None:
        for _ in range(int(trigger['args']['count'])):
            relay.get_var('x')
        relay.terminate()

    server = relaysync.Server('127.0.0.1', 0, log_level=logging.ERROR, ping_timeout=5.0,
                              max_connections=4096)
    server.register(sink, '/sink')
    server.register(busy, '/busy')
    server.register(echo, '/echo')
    server.start_in_background()
    print(server.port, flush=True)
    sys.stdin.read()
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


class PeakRss(threading.Thread):
    """Samples a process's RSS every 20 ms until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.02):
            try:
                rss = process_stats(self.pid).get('rss_kib')
            except OSError:
                return
            if rss is None:      # the process is exiting
                return
            self.peak = max(self.peak, rss)

    def stop(self) -> int:
        self._done.set()
        self.join(2)
        return self.peak


# ------------------------------------------------------------------ client side
def _client(port: int, path: str, rcvbuf: Optional[int] = None) -> Any:
    from rawws import RawClient
    client = RawClient(port, path, timeout=10, rcvbuf=rcvbuf)
    assert client.status == 101, client.head
    return client


def _start(client: Any, **args: Any) -> None:
    client.send_json({'_type': 'wf_api_start_event',
                      'trigger': {'type': 'phrase', 'args': {k: str(v) for k, v in args.items()},
                                  'source_uri': DEVICE}})


def _closed(client: Any) -> bool:
    try:
        client.sock.setblocking(False)
        return client.sock.recv(1, socket.MSG_PEEK) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        client.sock.settimeout(10)


def scenario_reader(port: int, pid: int) -> Dict[str, Any]:
    from rawws import OP_PONG, frame
    client = _client(port, '/sink', rcvbuf=4096)
    _start(client, big=150, size=1_000_000, timeout=0.05)
    began = time.monotonic()
    dropped = None
    for _ in range(40):                     # 20 s at most
        time.sleep(0.5)
        try:
            client.send(frame(OP_PONG, b'unsolicited'))
        except OSError:
            dropped = time.monotonic() - began
            break
        if _closed(client):
            dropped = time.monotonic() - began
            break
    client.reset()
    return {'dropped_after_s': None if dropped is None else round(dropped, 1)}


def _flood(port: int, in_call: bool, name: Any = 'n' * 500_000) -> Dict[str, Any]:
    from rawws import OP_TEXT, frame
    client = _client(port, '/busy')
    _start(client, busy=8, in_call='1' if in_call else '')
    payload = json.dumps({'_type': 'wf_api_timer_fired_event', 'name': name})
    data = frame(OP_TEXT, payload)
    sent = 0
    outcome = 'all sent'
    client.sock.settimeout(3)
    for _ in range(400):
        try:
            client.sock.sendall(data)
        except socket.timeout:
            outcome = 'server stopped reading'
            break
        except OSError:
            outcome = 'server closed the connection'
            break
        sent += 1
    if outcome == 'all sent':
        time.sleep(0.5)
    if outcome != 'server closed the connection':
        code = None
        try:
            code = client.expect_close(timeout=0.5)
        except Exception:
            pass
        if code is not None:
            outcome = f'closed with {code}'
    client.reset()
    return {'events_sent': sent, 'outcome': outcome}


def scenario_flood(port: int, pid: int) -> Dict[str, Any]:
    return _flood(port, in_call=False)


def scenario_amplify(port: int, pid: int) -> Dict[str, Any]:
    return _flood(port, in_call=False, name=[{}] * 9_000)


def scenario_flood_in_call(port: int, pid: int) -> Dict[str, Any]:
    return _flood(port, in_call=True)


def _round_trips(port: int, count: int) -> List[float]:
    from rawws import read_json
    client = _client(port, '/echo')
    _start(client, count=count)
    times = []
    sent_at = time.perf_counter()
    for _ in range(count):
        request = read_json(client, timeout=10)
        times.append(time.perf_counter() - sent_at)
        sent_at = time.perf_counter()
        client.send_json({'_type': 'wf_api_get_var_response', '_id': request['_id'],
                          'value': '1'})
    client.close()
    return times


def scenario_neighbour(port: int, pid: int) -> Dict[str, Any]:
    alone = statistics.median(_round_trips(port, 300)) * 1000
    stuck = _client(port, '/sink', rcvbuf=4096)
    _start(stuck, big=100, size=1_000_000, small=1_000_000, timeout=0.05)
    time.sleep(6)                           # let its backlog build up
    beside = statistics.median(_round_trips(port, 300)) * 1000
    stuck.reset()
    return {'p50_alone_ms': round(alone, 3), 'p50_beside_ms': round(beside, 3),
            'ratio': round(beside / alone, 1)}


def _beside(port: int, attack: Callable[[threading.Event], None]) -> Dict[str, Any]:
    """The healthy round trip alone, then while ``attack`` runs on a thread."""
    alone = statistics.median(_round_trips(port, 300)) * 1000
    stop = threading.Event()
    attacker = threading.Thread(target=attack, args=(stop,), daemon=True)
    attacker.start()
    time.sleep(1)
    try:
        beside = statistics.median(_round_trips(port, 300)) * 1000
    finally:
        stop.set()
        attacker.join(10)
    return {'p50_alone_ms': round(alone, 3), 'p50_beside_ms': round(beside, 3),
            'ratio': round(beside / alone, 1)}


def scenario_pings(port: int, pid: int) -> Dict[str, Any]:
    from rawws import OP_PING, frame

    def flood(stop: threading.Event) -> None:
        client = _client(port, '/busy')
        burst = frame(OP_PING, b'p' * 125) * 500
        drain = threading.Thread(target=lambda: _drain(client, stop), daemon=True)
        drain.start()
        for _ in range(100_000):
            if stop.is_set():
                break
            try:
                client.send(burst)
            except OSError:
                break
        client.reset()
    return _beside(port, flood)


def _drain(client: Any, stop: threading.Event) -> None:
    client.sock.settimeout(0.2)
    while not stop.is_set():
        try:
            if not client.sock.recv(1 << 20):
                return
        except socket.timeout:
            continue
        except OSError:
            return


def scenario_fragments(port: int, pid: int) -> Dict[str, Any]:
    from rawws import OP_CONT, OP_TEXT, frame

    def flood(stop: threading.Event) -> None:
        for _ in range(20):
            if stop.is_set():
                return
            client = _client(port, '/busy')
            message = frame(OP_TEXT, '{', fin=False) + frame(OP_CONT, 'aaa', fin=False) * 20_000
            try:
                for _ in range(140):          # ~8 MiB of text in 3-byte fragments
                    client.send(message if _ == 0 else message[7:])
            except OSError:
                pass
            client.reset()
    return _beside(port, flood)


def scenario_open(port: int, pid: int) -> Dict[str, Any]:
    clients = []
    try:
        for _ in range(2000):
            client = _client(port, '/busy')
            _start(client, busy=60, in_call='1')
            clients.append(client)
        deadline = time.monotonic() + 30
        while process_stats(pid)['threads'] < 2000 and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = process_stats(pid)
    finally:
        for client in clients:
            client.reset()
    return {'open': len(clients), 'threads': stats['threads'], 'fds': stats['fds']}


SCENARIOS: Dict[str, Callable[[int, int], Dict[str, Any]]] = {
    'reader': scenario_reader, 'flood': scenario_flood, 'flood-in-call': scenario_flood_in_call,
    'amplify': scenario_amplify, 'neighbour': scenario_neighbour, 'pings': scenario_pings,
    'fragments': scenario_fragments, 'open': scenario_open}


def settle(pid: int, timeout: float = 15.0) -> Dict[str, int]:
    """Wait (bounded) until the server is back to its two idle threads."""
    deadline = time.monotonic() + timeout
    stats = process_stats(pid)
    while stats['threads'] > 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        stats = process_stats(pid)
    return stats


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--serve', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--scenarios', default=','.join(SCENARIOS),
                    help='comma-separated subset of ' + ','.join(SCENARIOS))
    ap.add_argument('--json-out', help='also write the results as JSON to this file')
    args = ap.parse_args(argv)
    if args.serve:
        serve()
        return 0
    names = [n.strip() for n in args.scenarios.split(',') if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f'unknown scenario(s): {", ".join(unknown)}')
    results = []
    for name in names:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--serve'],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            port = int(proc.stdout.readline())
            before = process_stats(proc.pid)
            sampler = PeakRss(proc.pid)
            sampler.start()
            detail = SCENARIOS[name](port, proc.pid)
            peak = sampler.stop()
            after = settle(proc.pid)
        finally:
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        row = {'scenario': name, 'rss_before_mib': round(before['rss_kib'] / 1024, 1),
               'peak_growth_mib': round((peak - before['rss_kib']) / 1024, 1),
               'retained_mib': round((after['rss_kib'] - before['rss_kib']) / 1024, 1),
               'threads_after': after['threads'], 'fds_after': after['fds'], **detail}
        if name == 'open':
            row['kib_per_instance'] = round((peak - before['rss_kib']) / row['open'], 1)
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.json_out:
        with open(args.json_out, 'w') as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
