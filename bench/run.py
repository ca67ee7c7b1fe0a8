#!/usr/bin/env python3
"""Run the bench scenarios against every target and print the table.

    python bench/run.py                      # everything: about 5 minutes on 2 cores
    python bench/run.py --quick              # smaller scenarios: about 30 seconds
    python bench/run.py --scenarios b,c --reps 5 --json-out bench.json

A *target* is a workflow server started by a command (``NAME=COMMAND``).  The
command must serve the bench flow (see ``floor.py``) at
``ws://127.0.0.1:$PORT/bench`` with ``$BENCH_ROUNDS`` rounds per instance, log
at WARNING or above only, and exit on SIGTERM.  In a command, ``{python}`` is
this interpreter, ``{bench}`` this folder, ``{root}`` the project root and
``{port}`` the port; the environment also carries ``PORT``,
``BENCH_ROUNDS`` and ``RELAYSYNC_BENCH_GCSTATS`` (see ``gcstats.py``).  The
targets are :data:`TARGETS` plus every ``--target`` (the same name replaces a
default).  ``floor`` (the bare asyncio server, the
reference of every ratio) always runs.

For each repetition, scenario and target (targets in a rotating order), this
script:

1. waits (briefly, bounded) for other programs to leave the CPU idle, then
   starts the target as a fresh process (so peak RSS belongs to one scenario)
   in a new session, its output going to a log file;
2. waits until the port is in LISTEN state (read from ``/proc/net/tcp``; no
   probe connection is made);
3. runs ``driver.py`` as a separate process (its CPU is its own), while a
   thread samples the server's ``/proc/PID/status`` (Threads, VmRSS) every
   20 ms; the server is the process and all its descendants, so a
   pre-forking server (gunicorn) is measured whole;
4. reads the server's CPU time (utime + stime) before and after the driver,
   then, one second after the driver ended, its threads and RSS again (do
   they return toward the level they had when it started listening?);
5. stops it: SIGTERM, SIGKILL to its process group after 5 s; then reads the
   garbage-collector pauses it reported (``gcstats.py``; ``-`` if the target
   does not report them).

It prints medians over the repetitions, every target's ratio to the floor
(computed per repetition, then the median), and the targets of the bench
goals with pass/fail.  Everything is on 127.0.0.1 and every step is bounded.
"""

import argparse
import glob
import json
import os
import platform
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
TICKS = os.sysconf('SC_CLK_TCK')
PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024
REF = 'floor'

#: Default targets.  Adding one is one line.
TARGETS = {
    'floor': '{python} {bench}/floor.py',
    'relaysync': '{python} {bench}/wf_relaysync.py',
}

#: The same workflow under gunicorn, 2 worker processes (``--target`` it, or
#: ``--gunicorn``): capacity is workers x threads, so 1,100 threads each cover d.
GUNICORN_TARGET = ('{python} -m gunicorn -c python:relaysync.gunicorn_conf --workers 2 '
                   '--threads 1100 --log-level warning --bind 127.0.0.1:{port} '
                   '--chdir {bench} wf_wsgi:app')

# n: concurrent instances, m: rounds, think_ms/jitter: simulated playback
# (prompt 'stopped' after think x (1 +- jitter)), spread: seconds over which the
# start events go out, timeout: per instance, max_s: whole driver run.
SCENARIOS = {
    'a': dict(desc='1 instance x 2,000 rounds (latency)', n=1, m=2000, think_ms=0, jitter=0.0,
              spread=0.0, timeout=120, max_s=150),
    'b': dict(desc='50 concurrent x 100 rounds, all started at once', n=50, m=100, think_ms=0,
              jitter=0.0, spread=0.0, timeout=120, max_s=150),
    'c': dict(desc='500 concurrent x 20 rounds, all started at once', n=500, m=20, think_ms=0,
              jitter=0.0, spread=0.0, timeout=120, max_s=150),
    'd': dict(desc='2,000 concurrent x 20 rounds, starts spread over 2 s, each say plays '
                   '1 s +-50%', n=2000, m=20, think_ms=1000, jitter=0.5, spread=2.0,
              timeout=75, max_s=100),
    'e': dict(desc='10,000 concurrent x 3 rounds, starts spread over 10 s, each say plays '
                   '8 s +-50%', n=10000, m=3, think_ms=8000, jitter=0.5, spread=10.0,
              timeout=90, max_s=150),
}
QUICK = {
    'a': dict(SCENARIOS['a'], desc='1 instance x 300 rounds', m=300, timeout=30, max_s=40),
    'b': dict(SCENARIOS['b'], desc='50 concurrent x 20 rounds', m=20, timeout=30, max_s=40),
    'c': dict(SCENARIOS['c'], desc='200 concurrent x 10 rounds', n=200, m=10, timeout=30,
              max_s=40),
    'd': dict(SCENARIOS['d'], desc='500 concurrent x 5 rounds, starts spread over 0.5 s, '
                                   'each say plays 300 ms +-50%',
              n=500, m=5, think_ms=300, spread=0.5, timeout=30, max_s=40),
    'e': dict(SCENARIOS['e'], desc='2,000 concurrent x 2 rounds, starts spread over 2 s, '
                                   'each say plays 2 s +-50%',
              n=2000, m=2, think_ms=2000, spread=2.0, timeout=40, max_s=60),
}

# The bench issue's targets (ratios are to the floor of the same repetition).
GOALS = {
    'a': 'turnaround p50 <= 1.3x floor',
    'b': 'req/s >= 0.9x floor',
    'c': 'req/s >= 0.9x floor; turnaround p99 <= 1.0x floor',
    'd': 'all completed, turnaround p99 <= 10 ms, peak RSS <= 150 MB',
    'e': 'all completed, req/s >= 1.0x floor, turnaround p99 <= 1.0x floor, peak RSS <= 1 GiB',
}
#: Scenarios of long-lived instances: run --reps-d times.
LONG = ('d', 'e')
SETTLE_S = 1.0        # after the driver, before the "after" threads/RSS reading
STOP_GRACE_S = 5.0


# ------------------------------------------------------------------- /proc
def port_listening(port):
    """True when some socket LISTENs on ``port`` (IPv4 or IPv6), per /proc/net."""
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 3 and cols[3] == '0A' and int(cols[1].rpartition(':')[2], 16) == port:
                return True
    return False


def _stat_fields(pid):
    with open(f'/proc/{pid}/stat') as f:
        return f.read().rpartition(')')[2].split()  # fields from 3 (state) on


def process_tree(pid):
    """``pid`` and all its live descendants (scans /proc once)."""
    parent_of = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                parent_of[int(entry)] = int(_stat_fields(entry)[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parent_of.items() if parent in frontier]
        tree.extend(frontier)
    return tree


def tree_status(pids):
    """Summed Threads and VmRSS (KB), and the largest VmHWM (KB), over ``pids``."""
    threads = rss = hwm = 0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/status') as f:
                for line in f:
                    key, _, value = line.partition(':')
                    if key == 'Threads':
                        threads += int(value)
                    elif key == 'VmRSS':
                        rss += int(value.split()[0])
                    elif key == 'VmHWM':
                        hwm = max(hwm, int(value.split()[0]))
        except (OSError, ValueError):
            pass
    return threads, rss, hwm


def tree_fds(pids):
    """Open file descriptors summed over ``pids``."""
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f'/proc/{pid}/fd'))
        except OSError:
            pass
    return total


def tree_cpu(pids):
    """CPU seconds (user + system) of ``pids``, including their reaped children."""
    total = 0
    for pid in pids:
        try:
            f = _stat_fields(pid)
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def host_busy():
    """CPU seconds the whole machine has been busy (all CPUs), from /proc/stat."""
    with open('/proc/stat') as f:
        cols = f.readline().split()[1:]
    # user nice system idle iowait irq softirq steal [guest guest_nice: inside user]
    busy = sum(int(v) for i, v in enumerate(cols[:8]) if i not in (3, 4))
    return busy / TICKS


def own_cpu():
    """CPU seconds used by this runner (its sampler thread included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu():
    """CPU seconds of this runner's children that have been waited for."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_until_settled(pid, timeout=10.0):
    """Wait until the server's process tree stops changing (a pre-forking server
    has started its workers): same processes and RSS within 1 MB over 3 looks
    0.1 s apart.  Returns the tree's pids."""
    deadline = time.monotonic() + timeout
    last, steady = None, 0
    pids = [pid]
    while steady < 2 and time.monotonic() < deadline:
        pids = process_tree(pid)
        look = (tuple(sorted(pids)), tree_status(pids)[1] // 1024)
        steady = steady + 1 if look == last else 0
        last = look
        if steady < 2:
            time.sleep(0.1)
    return pids


class Sampler(threading.Thread):
    """Samples the server's threads and RSS every ``interval`` s until stopped."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True, name='bench-sampler')
        self.pid = pid
        self.interval = interval
        self.halt = threading.Event()
        self.pids = [pid]
        self.peak_threads = 0
        self.peak_rss_kb = 0
        self.peak_hwm_kb = 0
        self.samples = 0

    def run(self):
        rescan_every = 25  # descendants are looked for twice a second
        while not self.halt.is_set():
            if self.samples % rescan_every == 0:
                try:
                    self.pids = process_tree(self.pid)
                except OSError:
                    pass
            threads, rss, hwm = tree_status(self.pids)
            self.samples += 1
            self.peak_threads = max(self.peak_threads, threads)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_hwm_kb = max(self.peak_hwm_kb, hwm)
            self.halt.wait(self.interval)


# ----------------------------------------------------------------- one run
def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def stop_server(proc):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the session we started for it
    except OSError:
        proc.kill()
    proc.wait(5)


def log_tail(path, lines=8):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ''


def count_lines(path):
    try:
        with open(path, 'rb') as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def read_gcstats(pattern):
    files = glob.glob(pattern.replace('{pid}', '*'))
    if not files:
        return None
    total = worst = 0.0
    collections = 0
    for path in files:
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        total += data.get('total_ms', 0.0)
        worst = max(worst, data.get('max_ms', 0.0))
        collections += data.get('collections', 0)
    return {'total_ms': round(total, 2), 'max_ms': round(worst, 2), 'collections': collections,
            'processes': len(files)}


def expand(command, port):
    values = {'{python}': shlex.quote(sys.executable), '{bench}': shlex.quote(BENCH),
              '{root}': shlex.quote(ROOT), '{port}': str(port)}
    for key, value in values.items():
        command = command.replace(key, value)
    return shlex.split(command)


def wait_for_quiet(limit_s, threshold_pct=25.0, window_s=0.5):
    """Before a run (nothing of ours is running): wait up to ``limit_s`` seconds
    until the machine's busy CPU over ``window_s`` is below ``threshold_pct`` of
    one core.  Returns the seconds waited."""
    started = time.monotonic()
    while True:
        busy0 = host_busy()
        time.sleep(window_s)
        if 100.0 * (host_busy() - busy0) / window_s < threshold_pct:
            break
        if time.monotonic() - started >= limit_s:
            break
    return time.monotonic() - started


def run_one(name, command, scen_name, scen, rep, args, log_dir):
    limit = min(args.quiet_wait, args.quiet_budget)
    waited = wait_for_quiet(limit) if limit > 0 else 0.0
    args.quiet_budget -= max(0.0, waited - 0.5)  # the first look is part of every run
    port = free_port()
    tag = f'rep{rep}-{scen_name}-{name}'
    log_path = os.path.join(log_dir, f'{tag}.log')
    gc_pattern = os.path.join(log_dir, f'{tag}-gc-{{pid}}.json')
    env = dict(os.environ, PORT=str(port), BENCH_ROUNDS=str(scen['m']),
               RELAYSYNC_BENCH_GCSTATS=gc_pattern, PYTHONUNBUFFERED='1')
    result = {'rep': rep, 'scenario': scen_name, 'target': name, 'port': port, 'log': log_path,
              'waited_for_quiet_s': round(waited, 1)}
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(expand(command, port), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + args.start_timeout
        while not port_listening(port):
            if proc.poll() is not None:
                result['error'] = f'exited with status {proc.returncode} before listening'
                return result
            if time.monotonic() > deadline:
                result['error'] = f'not listening after {args.start_timeout} s'
                return result
            time.sleep(0.02)
        pids = wait_until_settled(proc.pid)
        ready_threads, ready_rss, _ = tree_status(pids)
        cpu_before = tree_cpu(pids)
        sampler = Sampler(proc.pid)
        sampler.start()
        driver_cmd = [args.driver_python, os.path.join(BENCH, 'driver.py'),
                      '--url', f'ws://127.0.0.1:{port}/bench', '--client', args.client,
                      '--instances', str(scen['n']), '--rounds', str(scen['m']),
                      '--think-ms', str(scen['think_ms']), '--jitter', str(scen['jitter']),
                      '--spread', str(scen['spread']), '--timeout', str(scen['timeout']),
                      '--max-seconds', str(scen['max_s'])]
        host0, own0, kids0, t0 = host_busy(), own_cpu(), children_cpu(), time.monotonic()
        try:
            drv = subprocess.run(driver_cmd, cwd=ROOT, capture_output=True, text=True,
                                 timeout=scen['max_s'] + 30, check=False)
        except subprocess.TimeoutExpired:
            drv = None
            result['error'] = 'the driver did not finish in time'
        wall = time.monotonic() - t0
        host_cpu, runner_cpu = host_busy() - host0, own_cpu() - own0
        driver_cpu = children_cpu() - kids0  # the whole driver process, start-up included
        result['driver_wall_s'] = round(wall, 3)
        pids = sampler.pids if proc.poll() is None else pids
        cpu_after = tree_cpu(process_tree(proc.pid)) if proc.poll() is None else None
        time.sleep(SETTLE_S)
        sampler.halt.set()
        sampler.join(2)
        alive = proc.poll() is None
        after_threads, after_rss, hwm = tree_status(process_tree(proc.pid)) if alive else (0, 0, 0)
        after_fds = tree_fds(process_tree(proc.pid)) if alive else None
        if not alive:
            result['error'] = f'the server died during the run (status {proc.returncode})'
        if drv is not None:
            lines = drv.stdout.strip().splitlines()
            try:
                result['driver'] = json.loads(lines[-1])
            except (IndexError, ValueError):
                result['error'] = (f'driver output is not JSON (status {drv.returncode}): '
                                   f'{drv.stderr.strip()[-1500:]}')
        requests = result.get('driver', {}).get('requests') or 0
        cpu_s = None if cpu_after is None else cpu_after - cpu_before
        peak_kb = max(sampler.peak_rss_kb, hwm if len(pids) == 1 else 0)
        result['server'] = {
            'cpu_s': None if cpu_s is None else round(cpu_s, 3),
            'cpu_us_per_req': round(1e6 * cpu_s / requests, 1) if requests and cpu_s else None,
            'ready_threads': ready_threads, 'ready_rss_mb': round(ready_rss / 1024, 1),
            'peak_threads': max(sampler.peak_threads, ready_threads),
            'peak_rss_mb': round(peak_kb / 1024, 1),
            'after_threads': after_threads if alive else None,
            'after_rss_mb': round(after_rss / 1024, 1) if alive else None,
            'after_fds': after_fds,
            'kib_per_instance': round((peak_kb - ready_rss) / scen['n'], 1) if scen['n'] else None,
            'processes': len(pids), 'samples': sampler.samples,
        }
        # CPU the rest of the machine used meanwhile (other programs, the hypervisor):
        # all busy time minus the server's, the driver's and this runner's
        if cpu_s is not None and drv is not None and wall > 0:
            other = host_cpu - cpu_s - driver_cpu - runner_cpu
            result['host_other_cpu_pct'] = round(100.0 * max(0.0, other) / wall, 1)
    finally:
        stop_server(proc)
    result['server_exit'] = proc.returncode
    result['log_lines'] = count_lines(log_path)
    if result['log_lines'] or result.get('error'):
        result['log_tail'] = log_tail(log_path)
    result['gc'] = read_gcstats(gc_pattern)
    return result


# ----------------------------------------------------------------- report
def metric(result, name):
    d = result.get('driver') or {}
    s = result.get('server') or {}
    g = result.get('gc') or {}
    ta = d.get('turnaround_ms') or {}
    return {
        'req_s': d.get('req_per_s'), 'p50': ta.get('p50'), 'p90': ta.get('p90'),
        'p99': ta.get('p99'), 'max': ta.get('max'), 'cpu_us': s.get('cpu_us_per_req'),
        'rss': s.get('peak_rss_mb'), 'rss_ready': s.get('ready_rss_mb'),
        'rss_after': s.get('after_rss_mb'), 'thr': s.get('peak_threads'),
        'thr_ready': s.get('ready_threads'), 'thr_after': s.get('after_threads'),
        'gc_total': g.get('total_ms'), 'gc_max': g.get('max_ms'),
        'drv_cpu': d.get('driver_cpu_pct'), 'completed': d.get('completed'),
        'other_cpu': result.get('host_other_cpu_pct'),
        'p99_settled': (d.get('turnaround_after_starts_ms') or {}).get('p99'),
        'kib_per_instance': s.get('kib_per_instance'), 'fds_after': s.get('after_fds'),
    }.get(name)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, spec='{:.3g}'):
    if value is None:
        return '-'
    if isinstance(value, float) and value >= 1000 and spec == '{:.3g}':
        return f'{value:.0f}'
    return spec.format(value)


def ratio(results, scen, target, name):
    """Median over repetitions of target/floor for one metric."""
    values = []
    for rep in sorted({r['rep'] for r in results}):
        mine = [metric(r, name) for r in results
                if r['rep'] == rep and r['scenario'] == scen and r['target'] == target]
        ref = [metric(r, name) for r in results
               if r['rep'] == rep and r['scenario'] == scen and r['target'] == REF]
        if mine and ref and mine[0] is not None and ref[0]:
            values.append(mine[0] / ref[0])
    return median(values)


def table(rows):
    out = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    out += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows[1:]]
    return '\n'.join(out)


def row_for(results, rs, s, t, ok):
    """One line of the main table: medians of ``rs`` (scenario ``s``, target ``t``)."""
    def m(name):
        return median([metric(r, name) for r in rs])

    def x(name):
        return '' if t == REF else fmt(ratio(results, s, t, name), '{:.2f}')

    def triple(*names):
        return '/'.join(fmt(m(n), '{:.0f}') for n in names)

    return [s, t, ok, fmt(m('req_s'), '{:.0f}'), x('req_s'), fmt(m('p50')), fmt(m('p90')),
            fmt(m('p99')), fmt(m('max')), fmt(m('cpu_us'), '{:.0f}'), x('cpu_us'),
            triple('rss_ready', 'rss', 'rss_after'), triple('thr_ready', 'thr', 'thr_after'),
            f"{fmt(m('gc_total'), '{:.0f}')}/{fmt(m('gc_max'), '{:.1f}')}",
            fmt(m('drv_cpu'), '{:.0f}'), fmt(m('other_cpu'), '{:.0f}')]


def report(results, names, scens, scen_names):
    rows = [['scen', 'target', 'ok/total', 'req/s', 'x floor', 'turn p50 ms', 'p90', 'p99', 'max',
             'CPU us/req', 'x floor', 'RSS ready/peak/after MB', 'threads ready/peak/after',
             'GC total/max ms', 'drv CPU %', 'other CPU %']]
    for s in scen_names:
        for t in names:
            rs = [r for r in results if r['scenario'] == s and r['target'] == t]
            if not rs:
                continue
            done = [metric(r, 'completed') or 0 for r in rs]
            errors = sum(1 for r in rs if r.get('error'))
            ok = f'{min(done)}/{scens[s]["n"]}' + (f' ({errors} run err)' if errors else '')

            rows.append(row_for(results, rs, s, t, ok))
    return table(rows)


def retained(result):
    """MB of RSS still held one second after the driver, above the ready level."""
    ready, after = metric(result, 'rss_ready'), metric(result, 'rss_after')
    return None if ready is None or after is None else after - ready


def goals(results, names, scens, scen_names, quick):
    rows = [['scen', 'target', 'goal', 'measured', 'verdict']]
    for s in scen_names:
        for t in names:
            if t == REF:
                continue
            rs = [r for r in results if r['scenario'] == s and r['target'] == t]
            if not rs:
                continue
            if s == 'a':
                v = ratio(results, s, t, 'p50')
                passed = v is not None and v <= 1.3
                measured = f'p50 {fmt(v, "{:.3f}")}x floor'
            elif s in ('b', 'c'):
                v = ratio(results, s, t, 'req_s')
                passed = v is not None and v >= 0.9
                measured = f'req/s {fmt(v, "{:.3f}")}x floor'
                if s == 'c':
                    tail = ratio(results, s, t, 'p99')
                    passed = passed and tail is not None and tail <= 1.0
                    measured += f'; p99 {fmt(tail, "{:.2f}")}x floor'
            elif s == 'e':
                worst = min((metric(r, 'completed') or 0) for r in rs)
                v = ratio(results, s, t, 'req_s')
                tail = ratio(results, s, t, 'p99')
                rss = median([metric(r, 'rss') for r in rs])
                per = median([metric(r, 'kib_per_instance') for r in rs])
                passed = (worst == scens[s]['n'] and v is not None and v >= 1.0
                          and tail is not None and tail <= 1.0 and rss is not None
                          and rss <= 1024)
                measured = (f'{worst}/{scens[s]["n"]}, req/s {fmt(v, "{:.3f}")}x, p99 '
                            f'{fmt(tail, "{:.2f}")}x floor, RSS {fmt(rss, "{:.0f}")} MB '
                            f'({fmt(per, "{:.0f}")} KiB per instance)')
            else:
                worst = min((metric(r, 'completed') or 0) for r in rs)
                p99 = median([metric(r, 'p99') for r in rs])
                rss = median([metric(r, 'rss') for r in rs])
                passed = (worst == scens[s]['n'] and p99 is not None and p99 <= 10
                          and rss is not None and rss <= 150)
                settled = median([metric(r, 'p99_settled') for r in rs])
                measured = (f'{worst}/{scens[s]["n"]}, p99 {fmt(p99)} ms (once all have '
                            f'started: {fmt(settled)} ms), RSS {fmt(rss, "{:.0f}")} MB')
            rows.append([s, t, GOALS[s], measured, 'pass' if passed else '**FAIL**'])
        # after the run: threads back to the ready count; RSS keeps no more of its
        # growth than the floor's does (no Python process hands everything back)
        for t in names:
            rs = [r for r in results if r['scenario'] == s and r['target'] == t]
            if t == REF or not rs:
                continue
            extra = [(metric(r, 'thr_after') or 0) - (metric(r, 'thr_ready') or 0) for r in rs]
            kept = median([retained(r) for r in rs])
            floor_kept = median([retained(r) for r in results
                                 if r['scenario'] == s and r['target'] == REF])
            passed = (bool(extra) and max(extra) <= 1 and kept is not None
                      and kept <= max(10.0, floor_kept or 0.0))
            goal = ('after the run: threads back to ready (+1); RSS keeps <= '
                    'max(10 MB, what the floor keeps)')
            measured = (f'threads +{max(extra) if extra else "-"}; RSS keeps '
                        f'{fmt(kept, "{:.0f}")} MB (floor {fmt(floor_kept, "{:.0f}")} MB)')
            rows.append([s, t, goal, measured, 'pass' if passed else '**FAIL**'])
    text = table(rows)
    if quick:
        text += '\n\n(--quick: the goals are defined for the full scenarios; indicative only.)'
    return text


def print_report(results, names, scens, scen_names, reps, reps_d, quick, elapsed):
    print()
    for s in scen_names:
        n = reps_d if s in LONG else reps
        print(f'- {s}: {scens[s]["desc"]} ({n} rep{"s" if n > 1 else ""})')
    print()
    print(report(results, names, scens, scen_names))
    if len(names) > 1:
        print()
        print(goals(results, names, scens, scen_names, quick))
    hot = [r for r in results if (metric(r, 'drv_cpu') or 0) > 85]
    if hot:
        print(f'\nWARNING: the driver used more than 85% of a core in {len(hot)} run(s); '
              'those figures may be limited by the driver.')
    busy = [r for r in results if (metric(r, 'other_cpu') or 0) > 20]
    if busy:
        print(f'\nWARNING: other programs used more than 20% of a core during {len(busy)} '
              'run(s) (column "other CPU %"); those figures are disturbed.')
    print(f'\n(total {elapsed:.0f} s)')


def reprint(path):
    """Print the tables of a run saved with --json-out."""
    with open(path) as f:
        saved = json.load(f)
    names = list(saved['targets'])
    scens = saved['scenarios']
    print_report(saved['results'], names, scens, list(scens), saved.get('reps', 1),
                 saved.get('reps_d', 1), saved.get('quick', False), saved.get('elapsed_s', 0))
    return 0


# ------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 1)[1])
    ap.add_argument('--scenarios', default='a,b,c,d,e',
                    help='comma-separated subset of a,b,c,d,e')
    ap.add_argument('--reps', type=int, default=5,
                    help='repetitions of scenarios a, b, c (default 5; each takes seconds)')
    ap.add_argument('--reps-d', type=int, default=3,
                    help='repetitions of scenarios d and e (default 3; each takes 30-60 s)')
    ap.add_argument('--quick', action='store_true', help='smaller variants of every scenario')
    ap.add_argument('--target', action='append', default=[], metavar='NAME=COMMAND',
                    help='add a target, or replace the default of that name (repeatable)')
    ap.add_argument('--gunicorn', action='store_true',
                    help='also run the workflow under gunicorn with 2 workers ("gunicorn2")')
    ap.add_argument('--only', default=None, metavar='NAMES',
                    help='comma-separated targets to run (the floor always runs)')
    ap.add_argument('--client', choices=('sansio', 'asyncio'), default='sansio',
                    help="driver's WebSocket client (see driver.py)")
    ap.add_argument('--driver-python', default=sys.executable,
                    help='interpreter for driver.py (default: this one)')
    ap.add_argument('--quiet-wait', type=float, default=10.0, metavar='SECONDS',
                    help='before each run, wait up to this long for other programs to '
                         'leave the CPU idle (default 10, at most 120 s in all; 0: do not '
                         'wait)')
    ap.add_argument('--start-timeout', type=float, default=30.0)
    ap.add_argument('--log-dir', default=None, help='server logs (default: a new temp folder)')
    ap.add_argument('--json-out', default=None, help='write every run\'s raw result here')
    ap.add_argument('--report', default=None, metavar='JSON',
                    help='run nothing: print the tables of a file written by --json-out')
    args = ap.parse_args(argv)
    if args.report:
        return reprint(args.report)
    args.quiet_budget = 120.0

    targets = dict(TARGETS)
    if args.gunicorn:
        targets['gunicorn2'] = GUNICORN_TARGET
    for spec in args.target:
        name, sep, command = spec.partition('=')
        if not sep or not name.strip() or not command.strip():
            ap.error(f'--target wants NAME=COMMAND, got {spec!r}')
        targets[name.strip()] = command
    if args.only:
        keep = {n.strip() for n in args.only.split(',') if n.strip()}
        unknown = keep - set(targets)
        if unknown:
            ap.error(f'--only: unknown target(s) {sorted(unknown)}')
        targets = {n: c for n, c in targets.items() if n in keep or n == REF}
    names = [REF] + [n for n in targets if n != REF]
    scens = QUICK if args.quick else SCENARIOS
    scen_names = [s.strip() for s in args.scenarios.split(',') if s.strip()]
    for s in scen_names:
        if s not in scens:
            ap.error(f'unknown scenario {s!r} (choose from a,b,c,d,e)')
    if args.reps < 1 or args.reps_d < 1:
        ap.error('--reps and --reps-d must be >= 1')

    # Servers and the driver inherit it: e holds 10,000 connections on each side.
    want = 16384 if 'e' in scen_names else 8192
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
    log_dir = args.log_dir or tempfile.mkdtemp(prefix='relaysync-bench-')
    os.makedirs(log_dir, exist_ok=True)
    print(f'# {platform.python_implementation()} {platform.python_version()}, '
          f'{os.cpu_count()} CPUs, {platform.machine()}; driver client {args.client}; '
          f'logs in {log_dir}', file=sys.stderr)
    for n in names:
        print(f'#   target {n}: {targets[n]}', file=sys.stderr)

    results = []
    started = time.monotonic()
    most = max(args.reps_d if s in LONG else args.reps for s in scen_names)
    for rep in range(1, most + 1):
        for s in scen_names:
            if rep > (args.reps_d if s in LONG else args.reps):
                continue
            shift = (rep - 1) % len(names)
            for name in names[shift:] + names[:shift]:
                r = run_one(name, targets[name], s, scens[s], rep, args, log_dir)
                results.append(r)
                d, srv = r.get('driver') or {}, r.get('server') or {}
                ta = d.get('turnaround_ms') or {}
                line = (f'rep {rep} {s} {name:>12}: ok {d.get("completed")}/{scens[s]["n"]} '
                        f'req/s {d.get("req_per_s")} turn p50/p99 {ta.get("p50")}/{ta.get("p99")}'
                        f' ms, CPU {srv.get("cpu_us_per_req")} us/req, RSS '
                        f'{srv.get("peak_rss_mb")} MB, threads {srv.get("peak_threads")}, '
                        f'driver CPU {d.get("driver_cpu_pct")}%, others '
                        f'{r.get("host_other_cpu_pct")}%')
                if r.get('error'):
                    line += f'  ERROR: {r["error"]}'
                if d.get('failed'):
                    line += f'  failures {d.get("failures")} {d.get("failure_samples")[:2]}'
                print(line, file=sys.stderr, flush=True)
                if r.get('log_tail'):
                    print('    server log: ' + r['log_tail'].replace('\n', '\n    '),
                          file=sys.stderr, flush=True)
    elapsed = time.monotonic() - started

    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump({'scenarios': {s: scens[s] for s in scen_names},
                       'targets': {n: targets[n] for n in names}, 'elapsed_s': round(elapsed, 1),
                       'quick': args.quick, 'reps': args.reps, 'reps_d': args.reps_d,
                       'host': {'cpus': os.cpu_count(), 'python': platform.python_version(),
                                'date_utc': time.strftime('%Y-%m-%d %H:%M', time.gmtime())},
                       'results': results}, f, indent=1)
    print_report(results, names, scens, scen_names, args.reps, args.reps_d, args.quick, elapsed)
    bad = [r for r in results if r.get('error') or (r.get('driver') or {}).get('failed')]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
