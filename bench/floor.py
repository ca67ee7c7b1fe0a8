#!/usr/bin/env python3
"""The transport floor: the bench flow from a bare asyncio WebSocket server.

Every figure of the benchmark is a ratio to this program, measured in the same
invocation on the same machine.  It serves ``127.0.0.1:$PORT`` at ``/bench``
and sends, for each connection, exactly the requests the relaysync bench
workflow (``wf_relaysync.py``) sends, with the same JSON shapes and the same
kind of ``_id`` (32 hex digits), but with no SDK behind them: one small state
machine per connection turns each inbound message into at most one outbound
request, right away.  No futures per call, no threads, no handler registry, no
logging on the hot path.  It is the cheapest correct Python workflow server for
this flow, so the gap between it and a real SDK is the cost of the SDK.

The state machine, per connection::

    wf_api_start_event              -> start_interaction {_target: trigger device, name: 'bench'}
    lifecycle 'started'             -> say {_target: interaction, text: 'hello 0', lang: 'en-US'}
    say response (_id = the say's)  \\
    + prompt 'stopped' (id = same)  -> get_var {name: 'k'}   (both needed, in any order)
    get_var response                -> the next say, or after $BENCH_ROUNDS rounds
                                       end_interaction {_target: interaction}
    lifecycle 'ended'               -> terminate
    anything else                   -> nothing (lifecycle 'resumed', prompt 'started',
                                       the start_interaction / end_interaction responses,
                                       the stop event)

Environment: ``PORT`` (default 8080), ``BENCH_ROUNDS`` (default 10),
``RELAYSYNC_BENCH_GCSTATS`` (see ``gcstats.py``).  Exits cleanly on SIGTERM or
SIGINT.  Needs ``websockets`` >= 10.1; its newer asyncio API (13+) is used when
present.  Runs on the standard asyncio event loop on purpose: it is the floor
for an asyncio Python program, not for the fastest event loop available.
"""

import asyncio
import itertools
import json
import logging
import os
import signal
import sys

import websockets

try:  # websockets >= 13
    from websockets.asyncio.server import serve
except ImportError:  # websockets 10.1 - 12: the legacy implementation
    from websockets import serve  # type: ignore[no-redef,attr-defined]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gcstats  # bench/gcstats.py; does nothing unless asked to

PATH = '/bench'
ROUNDS = int(os.environ.get('BENCH_ROUNDS', '10'))

_encode = json.JSONEncoder(ensure_ascii=False, separators=(',', ':')).encode
_decode = json.loads
_id_prefix = os.urandom(8).hex()
_id_counter = itertools.count(1)


def _new_id():
    return f'{_id_prefix}{next(_id_counter):016x}'


class BenchFlow:
    """One connection's position in the bench flow.

    ``feed(message)`` takes one decoded inbound message and returns the text of
    the request to send next, or None when the message asks for nothing.
    """

    __slots__ = ('target', 'done_rounds', 'say_id', 'say_answered', 'say_stopped')

    def __init__(self):
        self.target = None          # {'uris': [interaction URN]} once started
        self.done_rounds = 0
        self.say_id = None          # _id of the say awaiting its answer
        self.say_answered = False   # its response arrived
        self.say_stopped = False    # its prompt 'stopped' arrived

    @staticmethod
    def _request(rtype, **fields):
        message = {'_id': _new_id(), '_type': rtype}
        message.update(fields)
        return message

    def _say(self):
        message = self._request('wf_api_say_request', _target=self.target,
                                text=f'hello {self.done_rounds}', lang='en-US')
        self.say_id = message['_id']
        self.say_answered = self.say_stopped = False
        return _encode(message)

    def _round_or_end(self):
        if self.done_rounds < ROUNDS:
            return self._say()
        return _encode(self._request('wf_api_end_interaction_request', _target=self.target))

    def _say_progress(self):
        if self.say_answered and self.say_stopped:
            self.say_id = None
            return _encode(self._request('wf_api_get_var_request', name='k'))
        return None

    def feed(self, message):
        mtype = message.get('_type')
        if mtype == 'wf_api_say_response':
            if self.say_id is not None and message.get('_id') == self.say_id:
                self.say_answered = True
                return self._say_progress()
        elif mtype == 'wf_api_prompt_event':
            if (message.get('type') == 'stopped' and self.say_id is not None
                    and message.get('id') == self.say_id):
                self.say_stopped = True
                return self._say_progress()
        elif mtype == 'wf_api_get_var_response':
            self.done_rounds += 1
            return self._round_or_end()
        elif mtype == 'wf_api_interaction_lifecycle_event':
            kind = message.get('type')
            if kind == 'started':
                self.target = {'uris': [message['source_uri']]}
                self.done_rounds = 0
                return self._round_or_end()
            if kind == 'ended':
                return _encode(self._request('wf_api_terminate_request'))
        elif mtype == 'wf_api_start_event':
            device = message['trigger']['args']['source_uri']
            return _encode(self._request('wf_api_start_interaction_request',
                                         _target={'uris': [device]}, name='bench'))
        return None


def _request_path(ws):
    request = getattr(ws, 'request', None)  # websockets >= 13
    return request.path if request is not None else ws.path


async def serve_connection(ws):
    if _request_path(ws) != PATH:
        await ws.close(1008, 'unknown path')
        return
    flow = BenchFlow()
    try:
        async for text in ws:
            out = flow.feed(_decode(text))
            if out is not None:
                await ws.send(out)
    except websockets.ConnectionClosed:
        pass


async def main():
    port = int(os.environ.get('PORT', '8080'))
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)
    # compression off and no keepalive pings: the floor measures the transport only
    async with serve(serve_connection, '127.0.0.1', port, compression=None,
                     ping_interval=None, max_size=8 * 1024 * 1024):
        try:
            await stop
        except asyncio.CancelledError:
            pass


if __name__ == '__main__':
    logging.getLogger('websockets').setLevel(logging.WARNING)
    gcstats.install_from_env()
    asyncio.run(main())
