"""The engine's routing and waiting in memory, through the Transport protocol
alone (the socket tests cover the same engine over real sockets).

A :class:`~peer.MemoryPeer` plays the Relay server: what the engine sends comes
out of a queue, what the peer answers goes into ``Connection.receive_text`` on
the test thread (as a transport's reader thread would).  The handlers run on
the engine's real worker thread.
"""

import threading
from typing import Any, Callable, List

import pytest

import relaysync
from peer import DEVICE, INTERACTION, MemoryPeer


class Jobs:
    """Runs functions inside the on_start handler of an in-memory instance."""

    def __init__(self, **engine_options: Any) -> None:
        self.workflow = relaysync.Workflow('memory')
        self.results: List[Any] = []
        self.done = threading.Event()
        self.fn: Callable[[relaysync.Relay], Any] = lambda relay: None

        @self.workflow.on_start
        def start(relay: relaysync.Relay, trigger: Any) -> None:
            try:
                self.results.append(('ok', self.fn(relay)))
            except Exception as exc:
                self.results.append(('error', exc))
            finally:
                self.done.set()

        self.peer = MemoryPeer(self.workflow, **engine_options)

    def run(self, fn: Callable[[relaysync.Relay], Any]) -> MemoryPeer:
        self.fn = fn
        self.peer.start(DEVICE)
        return self.peer

    def result(self) -> Any:
        assert self.done.wait(5), 'the handler is still running'
        return self.results[-1]


@pytest.fixture
def jobs():
    made: List[Jobs] = []

    def make(**options: Any) -> Jobs:
        made.append(Jobs(**options))
        return made[-1]
    yield make
    for job in made:
        job.peer.close(1000)


def test_a_response_completes_its_call(jobs):
    job = jobs()
    peer = job.run(lambda relay: relay.get_var('color'))
    request = peer.expect('wf_api_get_var_request')
    assert request['name'] == 'color'
    peer.respond(request, value='red')
    assert job.result() == ('ok', 'red')


def test_answers_out_of_order_reach_their_callers(jobs):
    """Two calls pending at once (two threads); the answers come back in the
    reverse order and each caller gets its own."""
    job = jobs()
    got = {}

    def body(relay):
        other = threading.Thread(target=lambda: got.setdefault('b', relay.get_var('b')))
        other.start()
        got['a'] = relay.get_var('a')
        other.join(5)
        return got

    peer = job.run(body)
    first, second = peer.expect('wf_api_get_var_request'), peer.expect('wf_api_get_var_request')
    for request in (second, first):
        peer.respond(request, value=request['name'].upper())
    assert job.result() == ('ok', {'a': 'A', 'b': 'B'})


def test_progress_keeps_a_call_waiting(jobs):
    """With a 0.5 s request timeout, progress events keep the call alive past it."""
    job = jobs()

    def body(relay):
        relay.timeouts.request = 0.5
        return relay.get_device_name(DEVICE)

    peer = job.run(body)
    request = peer.expect('wf_api_get_device_info_request')
    for _ in range(4):
        assert not job.done.wait(0.25)
        peer.progress(request)
    peer.respond(request, name='Alice')
    assert job.result() == ('ok', 'Alice')


def test_a_silent_peer_times_the_call_out(jobs):
    job = jobs()

    def body(relay):
        relay.timeouts.request = 0.2
        return relay.get_var('x')

    peer = job.run(body)
    peer.expect('wf_api_get_var_request')
    kind, error = job.result()
    assert kind == 'error' and isinstance(error, relaysync.RelayTimeout)
    assert error.waiting_for == 'response'


def test_say_and_wait_waits_for_the_stopped_prompt(jobs):
    job = jobs()
    peer = job.run(lambda relay: relay.say_and_wait(INTERACTION, 'hello'))
    request = peer.expect('wf_api_say_request')
    peer.respond(request, id='pb-7')          # the playback id names the prompt events
    peer.prompt('pb-7', 'started')
    assert not job.done.wait(0.2)
    peer.prompt('pb-7', 'stopped')
    assert job.result() == ('ok', 'pb-7')


def test_a_failed_playback_raises_playback_failed(jobs):
    job = jobs()
    peer = job.run(lambda relay: relay.play_and_wait(INTERACTION, 'relay-static://x'))
    request = peer.expect('wf_api_play_request')
    peer.respond(request, id=request['_id'])
    peer.prompt(request['_id'], 'failed')
    kind, error = job.result()
    assert kind == 'error' and isinstance(error, relaysync.PlaybackFailed)
    assert isinstance(error, relaysync.WorkflowException) and error.request_id == request['_id']


def test_listen_returns_the_speech_event_of_its_request(jobs):
    job = jobs()
    peer = job.run(lambda relay: relay.listen(INTERACTION, ['yes', 'no']))
    request = peer.expect('wf_api_listen_request')
    peer.respond(request)
    peer.event('speech', request_id='someone-else', text='no')   # not this listen's
    peer.event('speech', request_id=request['_id'], text='yes', lang='en-US')
    assert job.result() == ('ok', 'yes')


def test_an_error_response_raises_error_response(jobs):
    job = jobs()
    peer = job.run(lambda relay: relay.set_var('k', 'v'))
    peer.error(peer.expect('wf_api_set_var_request'), 'not allowed')
    kind, error = job.result()
    assert kind == 'error' and isinstance(error, relaysync.ErrorResponse)
    assert str(error) == 'not allowed' and error.message == 'not allowed'


def test_closing_fails_the_pending_call_at_once(jobs):
    job = jobs()
    peer = job.run(lambda relay: relay.get_var('x'))
    peer.expect('wf_api_get_var_request')
    peer.close(1001, 'going away')
    kind, error = job.result()
    assert kind == 'error' and isinstance(error, relaysync.ConnectionClosed)
    assert error.code == 1001


def test_a_full_queue_pauses_reading_and_a_drained_one_resumes(jobs):
    """Events pile up while the handler is busy: at max_queued_events the engine
    asks the transport to stop reading, and to read again once they drained."""
    job = jobs(max_queued_events=2)
    release = threading.Event()
    ticks: List[str] = []

    @job.workflow.on_timer_fired
    def fired(relay, name):
        ticks.append(name)

    peer = job.run(lambda relay: release.wait(5))
    for i in range(4):
        peer.event('timer_fired', name=f't{i}')
    assert peer.transport.paused and peer.transport.pauses == 1
    release.set()
    assert job.result() == ('ok', True)
    deadline = threading.Event()
    for _ in range(100):
        if len(ticks) == 4:
            break
        deadline.wait(0.05)
    assert ticks == ['t0', 't1', 't2', 't3']
    assert not peer.transport.paused and peer.transport.resumes == 1
