#!/usr/bin/env python3
"""Load driver: plays the Relay server for many concurrent workflow instances.

The Relay server opens one WebSocket connection per workflow instance, sends a
start event and answers the workflow's requests.  This driver does that for
``--instances`` connections at once against one workflow server URL, answers
the bench flow's requests the way the Relay server does, and measures how fast
the server turns each answer into its next request.  It prints one JSON line
(keys in :func:`summary`) and exits 0 only when every instance completed.

Per instance::

    open the WebSocket (at most --connect-concurrency handshakes at a time)
    wait until every instance is connected, then after idx/N x --spread seconds
    send  wf_api_start_event {trigger: {type: 'phrase', args: {source_uri: device URN}}}
    answer each request:
      start_interaction -> its response, lifecycle 'started', lifecycle 'resumed'
      say               -> its response {id: the request _id}, prompt 'started';
                           prompt 'stopped' {id: the request _id} at once, or after
                           --think-ms x (1 +- --jitter) (simulated playback)
      get_var           -> its response {name, value} (value from --var NAME=VALUE)
      end_interaction   -> its response, lifecycle 'ended'
      terminate         -> wf_api_stop_event {reason: 'normal'}, then close the WebSocket
      anything else     -> wf_api_error_response (the instance then counts as failed)

An instance is *completed* when the server sent exactly 1 start_interaction,
--rounds say, --rounds get_var, 1 end_interaction and 1 terminate, and nothing
else, within the per-instance --timeout.  Anything else is a failure, counted
by reason: connect, timeout, closed_early, sequence, protocol, deadline, close.

Measurements:

* **turnaround**: for every request, its arrival time (when this driver reads
  it off the socket) minus the time the driver finished writing the last
  message it sent on that connection before it.  That last write is the one
  the request depended on: the start event for start_interaction; the
  response + lifecycle batch for the first say; for get_var, the later of the
  say response and the prompt 'stopped' (with think time that is the delayed
  'stopped'); the get_var response for the next say or end_interaction; the
  end_interaction response + lifecycle 'ended' for terminate.  So it measures
  the server, plus loopback and this driver's own scheduling delay (which the
  floor pays too), and never the simulated playback.  Reported overall, per
  request type (``get_var`` = from the say's last answer to the get_var), and
  for the requests that arrived more than 1 s after the last start event was
  sent (``turnaround_after_starts_ms``: the steady state once no instance is
  starting any more; meaningful with --spread and playback time).
* **requests/s**: requests received / the time from the first start event to
  the last request received.
* **instance time**: start event sent to terminate received.
* **driver CPU**: ``resource.getrusage`` over the whole run, also per request.
  Near 100 % of one core means the driver, not the server, is the limit.

Two WebSocket clients, both from ``websockets`` (>= 13), on uvloop when
importable:

* ``--client sansio`` (default): websockets' sans-I/O ``ClientProtocol`` under
  a plain ``asyncio.Protocol``; every batch of answers goes out in one write.
  About two thirds of the other's CPU per request, so the driver stays well
  below one core even against the floor.
* ``--client asyncio``: websockets' asyncio client (``connect``/``recv``/
  ``send``), one coroutine per instance.  Simpler, costlier; kept as a
  cross-check of the figures.

Every wait is bounded: connecting by --connect-timeout, each instance by
--timeout (from its start event), closing by --close-timeout, the whole run
by --max-seconds.
"""

import argparse
import asyncio
import json
import math
import random
import resource
import sys
import time
from urllib.parse import quote

from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from relaysync.simulator import messages

_clock = time.perf_counter
_encode = json.JSONEncoder(separators=(',', ':')).encode
_decode = json.loads

START_INTERACTION = 'wf_api_start_interaction_request'
SAY = 'wf_api_say_request'
GET_VAR = 'wf_api_get_var_request'
END_INTERACTION = 'wf_api_end_interaction_request'
TERMINATE = 'wf_api_terminate_request'
USER_AGENT = 'relaysync-bench-driver'
MAX_MESSAGE = 16 * 1024 * 1024


def percentile(ordered, q):
    """Nearest-rank percentile ``q`` (0..1) of an ascending list; None if empty."""
    if not ordered:
        return None
    rank = math.ceil(q * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]


def short_name(rtype):
    """``wf_api_say_request`` -> ``say``."""
    if rtype.startswith('wf_api_') and rtype.endswith('_request'):
        return rtype[7:-8]
    return rtype


class InstanceFailed(Exception):
    """Ends one instance; ``kind`` is the failure reason counted in the summary."""

    def __init__(self, kind, detail):
        super().__init__(f'{kind}: {detail}')
        self.kind = kind
        self.detail = detail


class FakeRelay:
    """The Relay server's side of one instance, independent of the WebSocket client.

    :meth:`answer` takes one inbound text message and returns
    ``(now, later, delay)``: the messages to send at once, and one message to
    send after ``delay`` seconds (or None).  It keeps the request counts and
    feeds the shared :class:`Run` statistics.
    """

    def __init__(self, run, idx):
        self.run = run
        self.idx = idx
        self.device = f'urn:relay-resource:name:device:bench-{idx}'
        self.interaction = None
        self.counts = {}
        self.last_write = None     # perf_counter() after our latest write; None once used
        self.terminated = False
        self.started_at = None
        self.ended_at = None

    def start_event(self):
        self.started_at = _clock()
        self.run.last_start_at = self.started_at
        return messages.start_event(self.device)

    def wrote(self):
        """Note that a batch was just written: the next request is timed from now."""
        self.last_write = _clock()

    def answer(self, text, arrived):
        run = self.run
        try:
            message = _decode(text)
            rtype = message['_type']
            rid = message.get('_id')
        except (ValueError, TypeError, KeyError):
            raise InstanceFailed('protocol', f'not a JSON object with _type: {text[:200]!r}')
        if not isinstance(rtype, str):
            raise InstanceFailed('protocol', f'_type is not a string: {text[:200]!r}')
        run.requests += 1
        run.last_request_at = arrived
        self.counts[rtype] = self.counts.get(rtype, 0) + 1
        if self.last_write is not None:
            run.record_turnaround(rtype, arrived - self.last_write, arrived)
            self.last_write = None
        if rtype == SAY:
            response = messages.response(message, id=rid)
            started = messages.event('prompt', type='started', id=rid,
                                     source_uri=self.interaction)
            stopped = messages.event('prompt', type='stopped', id=rid,
                                     source_uri=self.interaction)
            delay = run.think_time()
            if delay > 0:
                return [response, started], stopped, delay
            return [response, started, stopped], None, 0.0
        if rtype == GET_VAR:
            name = message.get('name')
            response = messages.response(message, name=name)
            if name in run.variables:
                response['value'] = run.variables[name]
            return [response], None, 0.0
        if rtype == START_INTERACTION:
            name = message.get('name') or 'interaction'
            self.interaction = (f'urn:relay-resource:name:interaction:{quote(str(name), safe="")}'
                                f'?device={quote(self.device, safe="")}')
            return [messages.response(message),
                    messages.event('interaction_lifecycle', type='started',
                                   source_uri=self.interaction),
                    messages.event('interaction_lifecycle', type='resumed',
                                   source_uri=self.interaction)], None, 0.0
        if rtype == END_INTERACTION:
            return [messages.response(message),
                    messages.event('interaction_lifecycle', type='ended',
                                   source_uri=self.interaction)], None, 0.0
        if rtype == TERMINATE:
            self.ended_at = arrived
            self.terminated = True
            return [messages.event('stop', reason='normal')], None, 0.0
        run.unknown[rtype] = run.unknown.get(rtype, 0) + 1
        return [messages.error_response(
            rid, f'bench driver: {rtype} is not part of the bench flow')], None, 0.0

    def check(self, rounds):
        want = {START_INTERACTION: 1, SAY: rounds, GET_VAR: rounds, END_INTERACTION: 1,
                TERMINATE: 1}
        if rounds == 0:
            del want[SAY], want[GET_VAR]
        if self.counts != want:
            raise InstanceFailed('sequence', f'requests {self.counts}, expected {want}')


# --------------------------------------------------------------------- clients
class SansIOClient(asyncio.Protocol):
    """One WebSocket connection: websockets' sans-I/O protocol on an asyncio transport.

    Inbound text frames go to ``relay.answer`` right in ``data_received``; its
    answers are framed and written in one ``transport.write``.
    """

    def __init__(self, url, relay):
        self.relay = relay
        self.proto = ClientProtocol(parse_uri(url), max_size=MAX_MESSAGE)
        self.transport = None
        self.fragments = None
        self.timers = []
        loop = asyncio.get_running_loop()
        self.opened = loop.create_future()   # handshake finished (or failed)
        self.finished = loop.create_future()  # terminate received, or a failure
        self.lost = loop.create_future()      # TCP connection gone

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport
        request = self.proto.connect()
        request.headers['User-Agent'] = USER_AGENT
        self.proto.send_request(request)
        self._flush()

    def data_received(self, data):
        arrived = _clock()
        proto = self.proto
        proto.receive_data(data)
        for event in proto.events_received():
            if isinstance(event, Response):
                if proto.handshake_exc is not None:
                    self._settle(self.opened, exc=InstanceFailed(
                        'connect', f'handshake failed: {proto.handshake_exc!r}'))
                else:
                    self._settle(self.opened, True)
            elif event.opcode is Opcode.TEXT or event.opcode is Opcode.CONT:
                if not event.fin:
                    self.fragments = (self.fragments or []) + [bytes(event.data)]
                    continue
                if self.fragments is not None:
                    payload = b''.join(self.fragments) + bytes(event.data)
                    self.fragments = None
                else:
                    payload = event.data
                self._message(bytes(payload).decode('utf-8', 'replace'), arrived)
            elif event.opcode is Opcode.CLOSE and not self.relay.terminated:
                self._fail(InstanceFailed('closed_early', f'server closed the WebSocket '
                                          f'before terminate ({proto.close_rcvd!r}); '
                                          f'requests seen {self.relay.counts}'))
        self._flush()

    def eof_received(self):
        self.proto.receive_eof()
        self._flush()

    def connection_lost(self, exc):
        for timer in self.timers:
            timer.cancel()
        self._settle(self.opened, exc=InstanceFailed('connect', f'connection lost during '
                                                                 f'the handshake: {exc!r}'))
        if not self.relay.terminated:
            self._fail(InstanceFailed('closed_early', f'TCP connection lost before terminate '
                                      f'({exc!r}); requests seen {self.relay.counts}'))
        self._settle(self.lost, True)

    # flow
    def _message(self, text, arrived):
        if self.finished.done():
            return
        try:
            now, later, delay = self.relay.answer(text, arrived)
        except InstanceFailed as exc:
            self._fail(exc)
            return
        self.send(now)
        if later is not None:
            self.relay.last_write = None  # the next request waits for the delayed message
            loop = asyncio.get_running_loop()
            self.timers.append(loop.call_later(delay, self.send, [later]))
        if self.relay.terminated:
            self._settle(self.finished, True)

    def send(self, messages):
        proto = self.proto
        if proto.state is not State.OPEN or self.transport.is_closing():
            return
        for message in messages:
            proto.send_text(_encode(message).encode())
        self._flush()
        self.relay.wrote()

    def start(self):
        self.send([self.relay.start_event()])

    def _flush(self):
        data = self.proto.data_to_send()
        if not data:
            return
        transport = self.transport
        if data[-1] == b'':  # the protocol asks to half-close
            data.pop()
            if data:
                transport.write(b''.join(data))
            if transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()
        else:
            transport.write(b''.join(data) if len(data) > 1 else data[0])

    @staticmethod
    def _settle(future, value=None, exc=None):
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
            else:
                future.set_result(value)

    def _fail(self, exc):
        self._settle(self.finished, exc=exc)

    async def close(self, timeout):
        """Closing handshake, then wait for the server to drop TCP; bounded."""
        if self.proto.state is State.OPEN:
            self.proto.send_close(1000)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        except asyncio.TimeoutError:
            self.transport.abort()
            raise InstanceFailed('close', f'no TCP close from the server within {timeout} s')


async def play_sansio(run, relay, idx):
    """Connect, wait for the common start, play one instance; raises InstanceFailed."""
    args = run.args
    loop = asyncio.get_running_loop()
    client = None
    t0 = _clock()
    try:
        async with run.gate:
            budget = min(args.connect_timeout, run.deadline - loop.time())
            if budget <= 0:
                raise InstanceFailed('deadline', 'run deadline reached before connecting')
            try:
                _, client = await asyncio.wait_for(loop.create_connection(
                    lambda: SansIOClient(args.url, relay), run.host, run.port), budget)
                await asyncio.wait_for(asyncio.shield(client.opened),
                                       max(0.001, budget - (_clock() - t0)))
            except (OSError, asyncio.TimeoutError, InstanceFailed) as exc:
                if client is not None:
                    client.transport.abort()
                if isinstance(exc, InstanceFailed):
                    raise
                raise InstanceFailed('connect', repr(exc))
    finally:
        run.arrived()
    run.connected(_clock() - t0)
    try:
        budget = await run.wait_for_start(idx)
        client.start()
        try:
            await asyncio.wait_for(asyncio.shield(client.finished), budget)
        except asyncio.TimeoutError:
            raise InstanceFailed('timeout', f'no terminate within {budget:.1f} s; '
                                            f'requests seen {relay.counts}')
    finally:
        run.disconnected()
        for timer in client.timers:
            timer.cancel()
        close_error = None
        try:
            await client.close(args.close_timeout)
        except InstanceFailed as exc:
            close_error = exc
    if close_error is not None:
        raise close_error


async def play_asyncio(run, relay, idx):
    """The same as :func:`play_sansio` with websockets' asyncio client."""
    from websockets.asyncio.client import connect

    args = run.args
    loop = asyncio.get_running_loop()
    t0 = _clock()
    try:
        async with run.gate:
            budget = min(args.connect_timeout, run.deadline - loop.time())
            if budget <= 0:
                raise InstanceFailed('deadline', 'run deadline reached before connecting')
            try:
                ws = await asyncio.wait_for(connect(
                    args.url, compression=None, ping_interval=None, open_timeout=None,
                    close_timeout=args.close_timeout, max_size=MAX_MESSAGE,
                    user_agent_header=USER_AGENT), budget)
            except (OSError, asyncio.TimeoutError, InvalidHandshake) as exc:
                raise InstanceFailed('connect', repr(exc))
    finally:
        run.arrived()
    run.connected(_clock() - t0)
    pending = set()

    async def send(messages):
        for message in messages:
            await ws.send(_encode(message))
        relay.wrote()

    async def send_later(delay, message):
        await asyncio.sleep(delay)
        try:
            await send([message])
        except ConnectionClosed:
            pass  # the receive loop reports it

    async def converse():
        await send([relay.start_event()])
        try:
            async for text in ws:
                now, later, delay = relay.answer(text, _clock())
                await send(now)
                if later is not None:
                    relay.last_write = None
                    task = asyncio.ensure_future(send_later(delay, later))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                if relay.terminated:
                    return
        except ConnectionClosed as exc:
            raise InstanceFailed('closed_early', f'{exc!r}; requests seen {relay.counts}')
        raise InstanceFailed('closed_early', f'server closed before terminate; '
                                             f'requests seen {relay.counts}')

    try:
        budget = await run.wait_for_start(idx)
        try:
            await asyncio.wait_for(converse(), budget)
        except asyncio.TimeoutError:
            raise InstanceFailed('timeout', f'no terminate within {budget:.1f} s; '
                                            f'requests seen {relay.counts}')
    finally:
        run.disconnected()
        for task in list(pending):
            task.cancel()
        await ws.close()  # bounded by close_timeout


CLIENTS = {'sansio': play_sansio, 'asyncio': play_asyncio}


# ------------------------------------------------------------------------ run
class Run:
    """The whole load run: shared counters, the start barrier, the instances."""

    def __init__(self, args):
        self.args = args
        uri = parse_uri(args.url)
        if uri.secure:
            raise SystemExit('driver: only ws:// URLs are supported')
        self.host, self.port = uri.host, uri.port
        self.variables = dict(item.split('=', 1) for item in args.var)
        self.rng = random.Random(args.seed)
        self.requests = 0
        self.last_request_at = None
        self.turnaround = []
        self.arrivals = []         # arrival time of each turnaround sample, same order
        self.last_start_at = None  # when the last start event was sent
        self.turnaround_by = {}
        self.instance_times = []
        self.connect_times = []
        self.completed = 0
        self.failures = {}
        self.failure_samples = []
        self.unknown = {}
        self.open_now = 0
        self.peak_open = 0
        self.pending_connects = args.instances
        self.t0 = _clock()
        self.all_connected = None  # future -> perf_counter() once every instance tried
        self.deadline = 0.0        # loop.time() bound of the whole run
        self.gate = None

    def think_time(self):
        base = self.args.think_ms / 1000.0
        if base <= 0:
            return 0.0
        jitter = self.args.jitter
        return base * (1.0 + jitter * (2.0 * self.rng.random() - 1.0)) if jitter else base

    def record_turnaround(self, rtype, seconds, arrived):
        self.turnaround.append(seconds)
        self.arrivals.append(arrived)
        key = short_name(rtype)
        bucket = self.turnaround_by.get(key)
        if bucket is None:
            bucket = self.turnaround_by[key] = []
        bucket.append(seconds)

    def fail(self, idx, kind, detail):
        self.failures[kind] = self.failures.get(kind, 0) + 1
        if len(self.failure_samples) < 8:
            self.failure_samples.append(f'#{idx} {kind}: {detail}'[:400])

    def arrived(self):
        self.pending_connects -= 1
        if self.pending_connects == 0 and not self.all_connected.done():
            self.all_connected.set_result(_clock())

    def connected(self, seconds):
        self.connect_times.append(seconds)
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)

    def disconnected(self):
        self.open_now -= 1

    async def wait_for_start(self, idx):
        """Wait for every connection, then this instance's slot in the spread.
        Returns the instance's time budget; raises InstanceFailed past the deadline."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(asyncio.shield(self.all_connected),
                                   max(0.0, self.deadline - loop.time()))
        except asyncio.TimeoutError:
            raise InstanceFailed('deadline', 'not every instance connected before the deadline')
        delay = self.args.spread * idx / self.args.instances
        if delay > 0:
            await asyncio.sleep(min(delay, max(0.0, self.deadline - loop.time())))
        budget = min(self.args.timeout, self.deadline - loop.time())
        if budget <= 0:
            raise InstanceFailed('deadline', 'run deadline reached before the start event')
        return budget

    async def instance(self, idx):
        relay = FakeRelay(self, idx)
        try:
            await CLIENTS[self.args.client](self, relay, idx)
            relay.check(self.args.rounds)
        except InstanceFailed as exc:
            self.fail(idx, exc.kind, exc.detail)
        else:
            self.completed += 1
            self.instance_times.append(relay.ended_at - relay.started_at)

    async def main(self):
        args = self.args
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + args.max_seconds
        self.all_connected = loop.create_future()
        self.gate = asyncio.Semaphore(args.connect_concurrency)
        tasks = [asyncio.ensure_future(self.instance(i)) for i in range(args.instances)]
        # instances are bounded by the deadline; leave room for closing handshakes
        done, pending = await asyncio.wait(tasks, timeout=args.max_seconds
                                           + args.close_timeout + 5)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
            self.failures['abandoned'] = self.failures.get('abandoned', 0) + len(pending)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self.fail(-1, 'driver_error', repr(task.exception()))


def summary(run, args, wall_total, cpu, loop_name):
    """The JSON line: configuration, counts, rates, latency percentiles, own CPU."""
    def ms(seconds):
        return None if seconds is None else round(seconds * 1000.0, 3)

    def dist(values, scale=ms):
        values.sort()
        return {'n': len(values), 'p50': scale(percentile(values, 0.50)),
                'p90': scale(percentile(values, 0.90)), 'p99': scale(percentile(values, 0.99)),
                'max': scale(values[-1] if values else None)}

    started = run.all_connected.result() if run.all_connected.done() else None
    settled = []  # requests that arrived over 1 s after the last start event was sent
    if run.last_start_at is not None:
        settled = [dt for dt, at in zip(run.turnaround, run.arrivals)
                   if at > run.last_start_at + 1.0]
    wall_msg = 0.0
    if started is not None and run.last_request_at is not None:
        wall_msg = run.last_request_at - started
    return {
        'url': args.url, 'client': args.client, 'loop': loop_name,
        'instances': args.instances, 'rounds': args.rounds, 'think_ms': args.think_ms,
        'jitter': args.jitter, 'spread_s': args.spread,
        'completed': run.completed,
        'failed': args.instances - run.completed,
        'failures': run.failures,
        'failure_samples': run.failure_samples,
        'unknown_requests': run.unknown,
        'requests': run.requests,
        'expected_requests': args.instances * (2 * args.rounds + 3),
        'wall_s': round(wall_msg, 3),
        'req_per_s': round(run.requests / wall_msg, 1) if wall_msg > 0 else None,
        'connect_wall_s': None if started is None else round(started - run.t0, 3),
        'turnaround_ms': dist(run.turnaround),
        'turnaround_by_request_ms': {k: dist(v) for k, v in sorted(run.turnaround_by.items())},
        'turnaround_after_starts_ms': dist(settled),
        'instance_s': dist(run.instance_times, lambda s: None if s is None else round(s, 4)),
        'connect_ms': dist(run.connect_times),
        'peak_open': run.peak_open,
        'driver_cpu_s': round(cpu, 3),
        'driver_cpu_pct': round(100.0 * cpu / wall_total, 1) if wall_total > 0 else None,
        'driver_us_per_req': round(1e6 * cpu / run.requests, 1) if run.requests else None,
        'total_wall_s': round(wall_total, 3),
    }


async def _amain(args, loop_name):
    before = resource.getrusage(resource.RUSAGE_SELF)
    run = Run(args)
    await run.main()
    wall = _clock() - run.t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return summary(run, args, wall, cpu, loop_name)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 epilog='Prints one JSON line; exit status 0 only if every '
                                        'instance completed.')
    ap.add_argument('--url', required=True, help='e.g. ws://127.0.0.1:8080/bench')
    ap.add_argument('--instances', '-n', type=int, default=1,
                    help='concurrent workflow instances (one connection each)')
    ap.add_argument('--rounds', '-m', type=int, default=10,
                    help='say_and_wait + get_var rounds the workflow does per instance')
    ap.add_argument('--think-ms', type=float, default=0.0,
                    help='simulated playback: delay before prompt "stopped" (0: at once)')
    ap.add_argument('--jitter', type=float, default=0.0,
                    help='think time varies uniformly in think x (1 +- JITTER), 0..1')
    ap.add_argument('--spread', type=float, default=0.0,
                    help='send the start events evenly over this many seconds (0: all at once)')
    ap.add_argument('--timeout', type=float, default=60.0,
                    help='per-instance limit from its start event to terminate, seconds')
    ap.add_argument('--max-seconds', type=float, default=120.0,
                    help='whole-run limit: nothing connects, starts or runs past it')
    ap.add_argument('--connect-timeout', type=float, default=20.0)
    ap.add_argument('--connect-concurrency', type=int, default=100,
                    help='WebSocket opening handshakes in progress at once')
    ap.add_argument('--close-timeout', type=float, default=5.0,
                    help='how long a closing handshake may take')
    ap.add_argument('--var', action='append', default=['k=1'], metavar='NAME=VALUE',
                    help='variable answered to get_var (repeatable; default k=1)')
    ap.add_argument('--seed', type=int, default=None, help='seed for the think-time jitter')
    ap.add_argument('--client', choices=sorted(CLIENTS), default='sansio',
                    help='WebSocket client implementation (default sansio, the cheaper)')
    ap.add_argument('--loop', choices=('auto', 'asyncio', 'uvloop'), default='auto')
    args = ap.parse_args(argv)
    if args.instances < 1 or args.rounds < 0:
        ap.error('--instances must be >= 1 and --rounds >= 0')
    if not 0.0 <= args.jitter <= 1.0:
        ap.error('--jitter must be within 0..1')
    if any('=' not in v for v in args.var):
        ap.error('--var wants NAME=VALUE')
    try:
        parse_uri(args.url)
    except InvalidURI as exc:
        ap.error(f'bad --url: {exc}')
    return args


def main(argv=None):
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.instances + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
    loop = None
    loop_name = 'asyncio'
    if args.loop != 'asyncio':
        try:
            import uvloop
        except ImportError:
            if args.loop == 'uvloop':
                raise
        else:
            loop = uvloop.new_event_loop()
            loop_name = 'uvloop'
    if loop is None:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(_amain(args, loop_name))
    finally:
        loop.close()
    print(json.dumps(result), flush=True)
    return 0 if result['completed'] == args.instances else 2


if __name__ == '__main__':
    sys.exit(main())
