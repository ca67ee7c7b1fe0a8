"""Property-based tests (hypothesis) of message decoding and event routing,
driven through a real server over one real WebSocket connection.

1. Any text or JSON value a peer sends never crashes the router or the worker:
   the connection stays open, nothing is logged at ERROR, and every event
   reaches its handler with exactly the fields it carried (None if missing).
2. While calls are pending, no message that does not answer a call completes
   it; afterwards each call returns its own answer.
"""

import json
import logging
import queue
import threading
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import relaysync
from relaysync.codec import decode
from relaysync.events import EVENTS
from conftest import wait_until
from peer import INTERACTION
from rawws import RawClient, read_json

BOUND = 5.0
FIELDS = sorted({f for spec in EVENTS.values() for f in spec.fields}
                | {'_id', 'id', 'request_id', 'type', 'error', 'value', 'latlong'})
TYPES = sorted(EVENTS) + ['wf_api_get_var_response', 'wf_api_error_response',
                          'wf_api_say_response', 'wf_api_listen_response', 'wf_api_made_up_event']

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=20)
char_codes = st.text(max_size=8).map(lambda s: [ord(c) for c in s])
meaningful = st.sampled_from(['stopped', 'failed', 'started', 'action', 'channel', 'single',
                              'double', 'long', 'ack_event', 'started', 'ended', 'normal'])


def messages(type_strategy, field_values):
    """Dicts shaped like Relay messages: a ``_type`` (usually known) and some fields."""
    return st.builds(
        lambda mtype, fields, extra: {**extra, **fields, **({} if mtype is None
                                                            else {'_type': mtype})},
        st.one_of(st.none(), type_strategy, json_values),
        st.dictionaries(st.sampled_from(FIELDS), field_values, max_size=6),
        st.dictionaries(st.text(max_size=6), json_values, max_size=2))


# The fields the router itself looks at, with values of every JSON type.
anything = json_values | char_codes | meaningful
routing_fields = st.one_of(
    st.fixed_dictionaries({'_type': st.just('wf_api_prompt_event'), 'id': anything,
                           'type': anything}, optional={'source_uri': anything}),
    st.fixed_dictionaries({'_type': st.just('wf_api_speech_event'), 'request_id': anything},
                          optional={'text': anything, 'audio': anything}),
    st.fixed_dictionaries({'_type': st.sampled_from(['wf_api_button_event',
                                                     'wf_api_notification_event']),
                           'button': anything, 'taps': anything, 'name': anything,
                           'event': anything}),
    st.fixed_dictionaries({'_type': st.just('wf_api_interaction_lifecycle_event'),
                           'type': anything}, optional={'source_uri': anything}),
    st.fixed_dictionaries({'_type': st.sampled_from(TYPES), '_id': anything}),
)


class Recorder:
    """A workflow whose every handler only records its arguments."""

    def __init__(self) -> None:
        self.workflow = relaysync.Workflow('properties')
        self.events: 'queue.Queue' = queue.Queue()
        for name in sorted({spec.name for spec in EVENTS.values()}):
            getattr(self.workflow, f'on_{name}')(self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def record(relay: Any, *args: Any) -> None:
            self.events.put((name, args, threading.get_ident()))
        return record


class Probe:
    """Proves that everything sent before has been routed and handled: a
    timer_fired event with a fresh name goes through the same router and
    worker, so once its handler ran, so did every earlier one."""

    def __init__(self, client: RawClient, events: 'queue.Queue') -> None:
        self.client = client
        self.events = events
        self.count = 0

    def drain(self) -> List[Any]:
        self.count += 1
        name = f'probe-{self.count}'
        self.client.send_json({'_type': 'wf_api_timer_fired_event', 'name': name})
        seen = []
        while True:
            item = self.events.get(timeout=BOUND)
            if item[:2] == ('timer_fired', (name,)):
                return seen
            seen.append(item)


def expected_event(message: Any) -> Optional[Any]:
    """What the recorder should receive for ``message``, or None for nothing."""
    if not isinstance(message, dict):
        return None
    value = decode(json.dumps(message))
    mtype = value.get('_type')
    if not isinstance(mtype, str) or mtype not in EVENTS:
        return None
    if value.get('_id') is not None and mtype.endswith('_response'):
        return None
    spec = EVENTS[mtype]
    if spec.whole:
        return spec.name, ({k: v for k, v in value.items() if not k.startswith('_')},)
    return spec.name, tuple(value.get(f) for f in spec.fields)


def errors(caplog) -> List[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith('relaysync') and r.levelno >= logging.ERROR]


# ================================================== 1. nothing crashes the router
@pytest.fixture
def routed(serve, caplog):
    caplog.set_level(logging.INFO, logger='relaysync')
    recorder = Recorder()
    served = serve(recorder.workflow)
    client = RawClient(served.port, '/wf')
    probe = Probe(client, recorder.events)
    assert probe.drain() == []
    yield served, client, probe
    client.close()


SETTINGS = settings(max_examples=300, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(batch=st.lists(st.one_of(
    messages(st.sampled_from(TYPES), json_values | char_codes | meaningful),
    routing_fields,
    json_values,
    st.text(max_size=40).map(lambda text: ('raw', text)),
), min_size=1, max_size=4))
def test_arbitrary_messages_never_crash_and_reach_handlers_intact(routed, caplog, batch):
    served, client, probe = routed
    expected = []
    for message in batch:
        if isinstance(message, tuple):
            client.send_text(message[1])
            continue
        client.send_json(message)
        event = expected_event(message)
        if event is not None:
            expected.append(event)
    seen = probe.drain()
    assert [item[:2] for item in seen] == expected
    assert len({item[2] for item in seen}) <= 1  # one worker thread, still the same
    assert client.is_open(wait=0)
    assert served.server.total_connections() == 1
    assert errors(caplog) == []


# ============================================ 2. nothing completes the wrong call
class PendingCalls:
    """One connection with three calls pending: a get_var awaiting its
    response, a say_and_wait awaiting its prompt ``stopped`` event (response
    given, playback id ``pb-B``) and a listen awaiting its speech event."""

    def __init__(self, serve: Any) -> None:
        self.recorder = Recorder()
        self.done: 'queue.Queue' = queue.Queue()
        self.launched = threading.Event()
        workflow = self.recorder.workflow

        @workflow.on_start
        def start(relay: Any, trigger: Any) -> None:
            if self.launched.is_set():
                self.recorder.events.put(('start', (trigger,), threading.get_ident()))
                return
            self.launched.set()
            for name, call in (('A', lambda: relay.get_var('A')),
                               ('B', lambda: relay.say_and_wait(INTERACTION, 'B')),
                               ('C', lambda: relay.listen(INTERACTION, 'C'))):
                threading.Thread(target=self._run, args=(name, call), daemon=True).start()

        timeouts = relaysync.Timeouts(request=120, prompt=120, listen_margin=120)
        self.served = serve(workflow, timeouts=timeouts)
        self.client = RawClient(self.served.port, '/wf')
        self.client.send_json({'_type': 'wf_api_start_event', 'trigger': {'args': {}}})
        requests = {}
        for _ in range(3):
            request = read_json(self.client)
            requests[request['_type']] = request['_id']
        self.ids = {'A': requests['wf_api_get_var_request'],
                    'B': requests['wf_api_say_request'], 'PB': 'pb-B',
                    'C': requests['wf_api_listen_request']}
        self.client.send_json({'_id': self.ids['B'], '_type': 'wf_api_say_response',
                               'id': 'pb-B'})
        self.client.send_json({'_id': self.ids['C'], '_type': 'wf_api_listen_response'})
        self.probe = Probe(self.client, self.recorder.events)
        self.probe.drain()

    def _run(self, name: str, call: Any) -> None:
        try:
            self.done.put((name, 'returned', call()))
        except Exception as exc:  # handed to the test thread
            self.done.put((name, 'raised', exc))

    def resolve(self, value: Any) -> Any:
        """Replace placeholders ``<A>``, ``<B>``, ``<PB>``, ``<C>`` with real ids."""
        if isinstance(value, str) and value.startswith('<') and value[1:-1] in self.ids:
            return self.ids[value[1:-1]]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def answers_a_call(self, message: Dict[str, Any]) -> bool:
        """True when ``message`` legitimately answers (or re-answers) a pending
        call by the protocol's rules: such messages are out of this property."""
        value = decode(json.dumps(message))
        mtype, request_id = value.get('_type'), value.get('_id')
        ours = {self.ids['A'], self.ids['B'], self.ids['C']}
        if isinstance(mtype, str) and mtype.endswith('_response') \
                and isinstance(request_id, str) and request_id in ours:
            return True
        if mtype == 'wf_api_prompt_event' and value.get('id') in (self.ids['B'], 'pb-B') \
                and value.get('type') in ('stopped', 'failed'):
            return True
        return mtype == 'wf_api_speech_event' and value.get('request_id') == self.ids['C']


@pytest.fixture
def pending(serve, caplog):
    caplog.set_level(logging.INFO, logger='relaysync')
    calls = PendingCalls(serve)
    yield calls
    calls.client.close()


placeholders = st.sampled_from(['<A>', '<B>', '<PB>', '<C>'])
id_like = placeholders | placeholders.map(lambda p: ('codes', p)) | json_values
near_miss_types = st.sampled_from(['wf_api_get_var_response', 'wf_api_error_response',
                                   'wf_api_say_response', 'wf_api_prompt_event',
                                   'wf_api_speech_event', 'wf_api_progress_event',
                                   'wf_api_get_var_event', 'wf_api_listen_response'])


prompt_types = st.sampled_from(['stopped', 'failed', 'started', 'x']) | json_values
near_misses = st.one_of(
    # prompt events for the say's ids that are not its end, or for other ids
    st.fixed_dictionaries({'_type': st.just('wf_api_prompt_event'), 'id': id_like,
                           'type': prompt_types}, optional={'source_uri': json_values}),
    # speech events for other requests
    st.fixed_dictionaries({'_type': st.just('wf_api_speech_event'), 'request_id': id_like},
                          optional={'text': json_values, 'id': id_like}),
    # responses and progress for other ids; events carrying a pending _id
    st.fixed_dictionaries({'_type': near_miss_types, '_id': id_like},
                          optional={'id': id_like, 'value': json_values, 'error': json_values}),
    # anything shaped like a message
    st.builds(lambda mtype, fields: {**fields, '_type': mtype},
              near_miss_types | st.sampled_from(TYPES) | json_values,
              st.dictionaries(st.sampled_from(['_id', 'id', 'request_id', 'type', 'value',
                                               'text', 'error']),
                              id_like | prompt_types, max_size=5)),
)


@SETTINGS
@given(batch=st.lists(near_misses, min_size=1, max_size=4))
def test_no_message_completes_a_call_it_does_not_answer(pending, caplog, batch):
    messages_to_send = []
    for message in batch:
        message = {k: (v if not isinstance(v, tuple) else
                       [ord(c) for c in pending.resolve(v[1])]) for k, v in message.items()}
        message = pending.resolve(message)
        assume(not pending.answers_a_call(message))
        messages_to_send.append(message)
    for message in messages_to_send:
        pending.client.send_json(message)
    pending.probe.drain()
    assert pending.done.empty(), pending.done.get()
    assert errors(caplog) == []


def test_pending_calls_complete_with_their_own_answers_after_the_noise(pending, caplog):
    """The end of property 2: the genuine answers, in an order that tempts
    cross-talk, complete each call with its own data."""
    ids = pending.ids
    pending.client.send_json({'_type': 'wf_api_speech_event', 'request_id': ids['A'],
                              'text': 'speech for A'})
    pending.client.send_json({'_type': 'wf_api_prompt_event', 'id': ids['C'], 'type': 'stopped'})
    pending.client.send_json({'_type': 'wf_api_speech_event', 'request_id': ids['B'],
                              'text': 'speech for B'})
    pending.client.send_json({'_type': 'wf_api_speech_event', 'request_id': ids['C'],
                              'text': 'speech for C'})
    pending.client.send_json({'_type': 'wf_api_prompt_event', 'id': 'pb-B', 'type': 'stopped'})
    pending.client.send_json({'_type': 'wf_api_get_var_response', '_id': ids['A'],
                              'value': 'value for A'})
    results = {}
    for _ in range(3):
        name, how, value = pending.done.get(timeout=BOUND)
        results[name] = (how, value)
    assert results == {'A': ('returned', 'value for A'), 'B': ('returned', 'pb-B'),
                       'C': ('returned', 'speech for C')}
    assert errors(caplog) == []
    wait_until(lambda: pending.served.server.total_connections() == 1)
