"""Coroutine handlers (``async def``, as relay-py writes them) run to completion
on the instance's worker, with the blocking actions behind ``await``; over
real sockets against the simulator and a raw peer."""

import asyncio
import logging
import threading

import pytest

import relaysync
from relaysync.coroutines import AsyncRelay, Done
from relaysync.simulator import Simulator
from conftest import wait_until
from peer import DEVICE, INTERACTION


def test_async_handlers_run_relay_py_code_unchanged():
    wf = relaysync.Workflow('async hello')
    seen = {}

    @wf.on_start
    async def start(workflow, trigger):
        target = workflow.make_target_uris(trigger)          # a helper: no await
        seen['target'] = target
        seen['options'] = workflow.interaction_options(color='ff0000')
        await workflow.start_interaction(target, 'hello interaction', seen['options'])

    @wf.on_interaction_lifecycle
    async def lifecycle(workflow, itype, interaction_uri, reason):
        if itype == relaysync.TYPE_STARTED:
            seen['thread'] = threading.current_thread().name
            await asyncio.sleep(0.05)
            seen['id'] = await workflow.say_and_wait(interaction_uri, 'hello world')
            seen['name'] = await workflow.listen(interaction_uri, timeout=5)
            await workflow.set_var('name', seen['name'])
            seen['var'] = await workflow.get_var('name')
            await workflow.end_interaction(interaction_uri)
        if itype == relaysync.TYPE_ENDED:
            await workflow.terminate()

    with Simulator(wf, time_scale=0.01) as sim:
        alice = sim.device('Alice', says=['Ada'])
        run = sim.trigger(alice)
        run.wait_until_done(timeout=10)
    assert run.terminated and not run.errors and not run.crashes
    assert alice.heard == ['hello world']
    assert seen['target'] == {'uris': [alice.urn]}
    assert seen['options']['color'] == 'ff0000'
    assert isinstance(seen['id'], str) and seen['id']
    assert seen['name'] == seen['var'] == 'Ada'
    assert seen['thread'].startswith('relaysync-worker-')


def test_handlers_of_one_instance_still_run_one_at_a_time_in_order(runner):
    """An async handler blocks its instance until it has finished, like a plain one."""
    order = []
    wf = runner.workflow

    @wf.on_timer_fired
    async def fired(relay, name):
        order.append(f'{name} begins')
        await asyncio.sleep(0.1)
        order.append(f'{name} ends')

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='one')
        peer.event('wf_api_timer_fired_event', name='two')
        wait_until(lambda: len(order) == 4)
    assert order == ['one begins', 'one ends', 'two begins', 'two ends']


def test_two_instances_await_independently():
    """Each worker has its own event loop: one instance awaiting a listen does
    not hold up another."""
    wf = relaysync.Workflow('echo')

    @wf.on_start
    async def start(relay, trigger):
        await relay.start_interaction(relay.make_target_uris(trigger), 'echo')

    @wf.on_interaction_started
    async def started(relay, interaction_uri, reason):
        said = await relay.listen(interaction_uri, timeout=30)
        await relay.say_and_wait(interaction_uri, f'you said {said}')
        await relay.terminate()

    with Simulator(wf, time_scale=0.01) as sim:
        alice, bob = sim.device('Alice'), sim.device('Bob')
        run_a, run_b = sim.trigger(alice), sim.trigger(bob)
        assert alice.wait_until_listening() and bob.wait_until_listening()
        bob.say('second')
        run_b.wait_until_done(timeout=5)
        assert not run_a.done
        alice.say('first')
        run_a.wait_until_done(timeout=5)
    assert alice.heard == ['you said first'] and bob.heard == ['you said second']


def test_an_async_handler_that_raises_is_logged_and_the_instance_goes_on(runner, caplog):
    caplog.set_level(logging.ERROR, logger='relaysync.connection')
    wf = runner.workflow
    done = threading.Event()

    @wf.on_timer_fired
    async def fired(relay, name):
        if name == 'boom':
            await asyncio.sleep(0)
            raise KeyError('async boom')
        done.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='boom')
        peer.event('wf_api_timer_fired_event', name='fine')
        assert done.wait(5)
    record = [r for r in caplog.records if 'on_timer_fired handler raised' in r.getMessage()]
    assert record and "KeyError: 'async boom'" in record[0].exc_text


def test_actions_raise_inside_the_coroutine_as_relay_py_exceptions(runner):
    result = {}

    async def body(relay):
        try:
            await relay.say(DEVICE, 'x')
        except relaysync.WorkflowException as e:
            result['message'] = e.message
        return 'done'

    wf = runner.workflow
    finished = threading.Event()

    @wf.on_timer_fired
    async def fired(relay, name):
        result['returned'] = await body(relay)
        finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='go')
        peer.error(peer.expect('wf_api_say_request'), 'not now')
        assert finished.wait(5)
    assert result == {'message': 'not now', 'returned': 'done'}


def test_tasks_left_running_are_cancelled_with_a_warning(runner, caplog):
    caplog.set_level(logging.WARNING, logger='relaysync.connection')
    wf = runner.workflow
    state = {'cancelled': False}
    finished = threading.Event()

    async def forever():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            state['cancelled'] = True
            raise

    @wf.on_timer_fired
    async def fired(relay, name):
        if name == 'spawn':
            asyncio.get_running_loop().create_task(forever())
            await asyncio.sleep(0)
        else:
            finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='spawn')
        peer.event('wf_api_timer_fired_event', name='next')
        assert finished.wait(5)
    assert state['cancelled']
    assert any('1 task(s) still running; they were cancelled' in r.getMessage()
               for r in caplog.records)


def test_plain_and_async_handlers_share_the_instance(runner):
    wf = runner.workflow
    seen = []
    finished = threading.Event()

    @wf.on_timer_fired
    def plain(relay, name):
        relay.note = name                    # an attribute set by a plain handler

    @wf.on_timer
    async def coroutine(relay):
        seen.append(relay.note)              # read by a coroutine handler
        relay.note = 'from async'
        seen.append(relay.relay.note)
        finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='from plain')
        peer.event('wf_api_timer_event')
        assert finished.wait(5)
    assert seen == ['from plain', 'from async']


def test_async_relay_facade():
    class Fake:
        value = 7

        def action(self, x, y=1):
            return x + y

        @staticmethod
        def helper(x):
            return x * 2

    facade = AsyncRelay(Fake())
    done = facade.action(1, y=2)          # runs at once
    assert isinstance(done, Done) and done.value == 3
    assert asyncio.run(_await(done)) == 3
    assert facade.helper(4) == 8          # helpers are not awaitable, as in relay-py
    assert facade.value == 7
    facade.value = 9
    assert facade.relay.value == 9
    assert 'action' in dir(facade)
    with pytest.raises(AttributeError):
        facade.missing  # noqa: B018 - the attribute access is the test


async def _await(awaitable):
    return await awaitable


def test_gather_of_actions_returns_each_result(runner):
    wf = runner.workflow
    out = {}
    finished = threading.Event()

    @wf.on_timer_fired
    async def fired(relay, name):
        out['values'] = await asyncio.gather(relay.get_var('a'), relay.get_var('b'))
        finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='go')
        peer.respond(peer.expect('wf_api_get_var_request'), value='1')
        peer.respond(peer.expect('wf_api_get_var_request'), value='2')
        assert finished.wait(5)
    assert out['values'] == ['1', '2']


def test_callable_object_with_async_call_and_error_handler(runner):
    wf = runner.workflow
    got = []
    finished = threading.Event()

    class Handler:
        async def __call__(self, relay, interaction_uri, reason):
            await relay.say(interaction_uri, 'hi')
            raise ValueError('after saying hi')

    wf.on_interaction_started(Handler())

    @wf.on_error
    async def errors(relay, error):
        got.append(repr(error))
        await relay.say(INTERACTION, 'sorry')
        finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_interaction_lifecycle_event', type='started', source_uri=INTERACTION)
        say = peer.expect('wf_api_say_request')
        peer.respond(say, id='p1')
        sorry = peer.expect('wf_api_say_request')
        assert sorry['text'] == 'sorry'
        peer.respond(sorry, id='p2')
        assert finished.wait(5)
    assert got == ["ValueError('after saying hi')"]


def test_fire_and_forget_tasks_of_actions_run_and_warn_nothing(runner, caplog):
    """relay-py code often wraps an action in create_task without awaiting it."""
    caplog.set_level(logging.WARNING, logger='relaysync.connection')
    wf = runner.workflow
    finished = threading.Event()

    @wf.on_timer_fired
    async def fired(relay, name):
        asyncio.create_task(relay.say(INTERACTION, 'in the background'))
        relay.logger.info('said it')
        finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='go')
        say = peer.expect('wf_api_say_request')
        peer.respond(say, id='p')
        assert finished.wait(5)
        wait_until(lambda: runner.server.total_connections() == 1)
    assert say['text'] == 'in the background'
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_relay_logger_prefixes_the_connection_id(runner, caplog):
    caplog.set_level(logging.INFO, logger='relaysync.workflow')
    with runner.start(lambda relay: relay.logger.info('checked %s', 'in')) as job:
        job.result()
    assert [r.getMessage() for r in caplog.records if r.name == 'relaysync.workflow'] == \
        ['[c1] checked in']
