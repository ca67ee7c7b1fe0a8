"""The simulator against a workflow server that is not relaysync: a hand-written
one on the ``websockets`` library, speaking raw JSON.  Shows the simulator
needs nothing but the wire protocol, and how it treats malformed messages."""

import json
import threading

import pytest

from relaysync.simulator import Simulator

sync_server = pytest.importorskip('websockets.sync.server')


class RawWorkflow:
    """A raw workflow: the script below, run on each connection."""

    def __init__(self):
        self.received = []
        self.error = None
        self.close_code = None
        self.server = sync_server.serve(self.handle, '127.0.0.1', 0)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def recv(self, ws):
        msg = json.loads(ws.recv(timeout=5))
        self.received.append(msg)
        return msg

    def handle(self, ws):
        try:
            start = self.recv(ws)
            device = start['trigger']['args']['source_uri']
            ws.send(json.dumps({'_id': 'r1', '_type': 'wf_api_say_request',
                                '_target': {'uris': [device]}, 'text': 'raw hello'}))
            for _ in range(3):  # response, prompt started, prompt stopped
                self.recv(ws)
            ws.send('this is not json')
            ws.send(json.dumps([1, 2, 3]))
            ws.send(json.dumps({'_id': 'r2'}))
            ws.send(json.dumps({'_type': 'wf_api_get_var_request', 'name': 'no id'}))
            ws.send(json.dumps({'_id': 'r3', '_type': 'wf_api_get_var_request', 'name': 'x'}))
            self.recv(ws)
            self.recv(ws)
            ws.send(json.dumps({'_id': 'r4', '_type': 'wf_api_terminate_request'}))
            self.recv(ws)
            try:
                ws.recv(timeout=5)
            except Exception as exc:  # the close that follows the stop event
                self.close_code = getattr(getattr(exc, 'rcvd', None), 'code', None)
        except Exception as exc:  # reported by the test
            self.error = exc

    def close(self):
        self.server.shutdown()
        self.thread.join(5)


def test_a_raw_workflow_server():
    raw = RawWorkflow()
    try:
        with Simulator(f'ws://127.0.0.1:{raw.port}/any/path') as sim:
            run = sim.trigger(sim.device('Alice'), vars={'x': '1'})
            run.wait_until_done(5)
            assert raw.error is None
            assert run.terminated
            assert sim.devices['Alice'].heard == ['raw hello']
            lines = run.lines()
    finally:
        raw.close()
    types = [m['_type'] for m in raw.received]
    assert types == ['wf_api_start_event', 'wf_api_say_response', 'wf_api_prompt_event',
                     'wf_api_prompt_event', 'wf_api_error_response', 'wf_api_get_var_response',
                     'wf_api_stop_event']
    assert raw.received[1] == {'_id': 'r1', '_type': 'wf_api_say_response', 'id': 'r1'}
    assert [m['type'] for m in raw.received[2:4]] == ['started', 'stopped']
    assert raw.received[4] == {'_id': 'r2', '_type': 'wf_api_error_response',
                               'error': 'a message without _type'}
    assert raw.received[5] == {'_id': 'r3', '_type': 'wf_api_get_var_response', 'name': 'x',
                               'value': '1'}
    assert raw.received[6] == {'_type': 'wf_api_stop_event', 'reason': 'normal'}
    assert raw.close_code == 1000
    assert "relay: ignored a message that is not JSON: 'this is not json'" in lines
    assert "relay: ignored a message that is not a JSON object: '[1, 2, 3]'" in lines
    assert "relay: ignored 'wf_api_get_var_request': it has no _id to answer to" in lines
