"""Coroutine handlers (``async def``, as relay-py writes them) run to completion
on the instance's worker, with the blocking actions behind ``await``; over
real sockets against the simulator and a raw peer."""

import asyncio
import logging
import threading
import time

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


def test_handlers_interleave_where_they_wait_on_asyncio_as_in_relay_py(runner):
    """Each event's coroutine handler is a task: while one awaits asyncio itself,
    the next event's handler starts."""
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
    assert order == ['one begins', 'two begins', 'one ends', 'two ends']


def test_a_handler_can_wait_for_another_handler(served):
    """relay-py's idiom: on_start awaits an asyncio.Event that the button handler sets."""
    wf = served.workflow
    pressed = {}
    heard = []

    @wf.on_start
    async def start(workflow, trigger):
        pressed['event'] = asyncio.Event()
        try:
            await asyncio.wait_for(pressed['event'].wait(), 5)
            heard.append('pressed')
        except asyncio.TimeoutError:
            heard.append('timed out')

    @wf.on_button
    async def button(workflow, button, taps, source_uri):
        pressed['event'].set()

    with served.peer() as peer:
        peer.start()
        wait_until(lambda: 'event' in pressed)
        peer.event('wf_api_button_event', button='action', taps='single', source_uri=DEVICE)
        wait_until(lambda: heard)
    assert heard == ['pressed']


def test_a_relay_action_blocks_the_other_handlers_until_it_returns(served):
    wf = served.workflow
    order = []

    @wf.on_start
    async def start(workflow, trigger):
        order.append('start calls get_var')
        order.append(f"got {await workflow.get_var('x')}")

    @wf.on_timer_fired
    async def fired(workflow, name):
        order.append('timer handler')

    with served.peer() as peer:
        peer.start()
        request = peer.expect('wf_api_get_var_request')
        peer.event('wf_api_timer_fired_event', name='t')
        time.sleep(0.3)
        assert order == ['start calls get_var']
        peer.respond(request, value='v')
        wait_until(lambda: len(order) == 3)
    assert order == ['start calls get_var', 'got v', 'timer handler']


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


def test_tasks_left_running_go_on_until_the_connection_closes(runner, caplog):
    caplog.set_level(logging.INFO, logger='relaysync.connection')
    wf = runner.workflow
    state = {'ticks': 0, 'cancelled': False}
    finished = threading.Event()

    async def heartbeat():
        try:
            for _ in range(10_000):
                state['ticks'] += 1
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            state['cancelled'] = True
            raise

    @wf.on_timer_fired
    async def fired(relay, name):
        if name == 'spawn':
            asyncio.get_running_loop().create_task(heartbeat())
        else:
            finished.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='spawn')
        peer.event('wf_api_timer_fired_event', name='next')
        assert finished.wait(5)
        ticks = state['ticks']
        wait_until(lambda: state['ticks'] > ticks + 3)    # it runs on after its handler
    wait_until(lambda: state['cancelled'])
    assert any('cancelling 1 coroutine(s) still running' in r.getMessage()
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


# ------------------------------------------------------- mistakes and edges
def test_a_cancelled_error_from_a_handler_is_a_handler_error_not_the_end(served, caplog):
    """``task.cancel(); await task`` left uncaught: logged, on_error runs, the
    instance goes on (the worker does not die)."""
    wf = served.workflow
    errors, later = [], threading.Event()

    @wf.on_start
    async def start(workflow, trigger):
        task = asyncio.get_running_loop().create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
        task.cancel()
        await task

    @wf.on_error
    async def on_error(workflow, error):
        errors.append(type(error).__name__)

    @wf.on_timer_fired
    def fired(workflow, name):
        later.set()

    with served.peer() as peer:
        peer.start()
        peer.event('wf_api_timer_fired_event', name='after')
        assert later.wait(5)
        wait_until(lambda: errors)
    assert errors == ['CancelledError']
    assert any('on_start handler raised' in r.getMessage() for r in caplog.records)


def test_keyboard_interrupt_from_a_plain_handler_does_not_end_the_worker(runner):
    later = threading.Event()
    wf = runner.workflow

    @wf.on_timer_fired
    def fired(relay, name):
        if name == 'boom':
            raise KeyboardInterrupt
        later.set()

    with runner.served.peer() as peer:
        peer.event('wf_api_timer_fired_event', name='boom')
        peer.event('wf_api_timer_fired_event', name='after')
        assert later.wait(5)


def test_a_task_that_ignores_cancellation_does_not_hold_the_instance(served, caplog):
    wf = served.workflow

    async def stubborn():
        for _ in range(100):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                pass

    @wf.on_start
    async def start(workflow, trigger):
        asyncio.get_running_loop().create_task(stubborn())

    served.server.add_error_listener(lambda *a: None)
    with served.peer() as peer:
        peer.start()
        wait_until(lambda: served.server.total_connections() == 1)
    wait_until(lambda: served.server.total_connections() == 0, 5)
    assert any('did not stop within 1 s of being cancelled' in r.getMessage()
               for r in caplog.records)


def test_a_plain_wrapper_of_an_async_handler_gets_the_awaitable_view(served):
    import functools
    wf = served.workflow
    said = []

    def logged(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        return wrapper

    @wf.on_start
    @logged
    async def start(workflow, trigger):
        said.append(await workflow.get_var('x'))

    with served.peer() as peer:
        peer.start()
        peer.respond(peer.expect('wf_api_get_var_request'), value='ok')
        wait_until(lambda: said)
    assert said == ['ok']


def test_gather_with_return_exceptions_collects_a_failed_action(served):
    wf = served.workflow
    results = []

    @wf.on_start
    async def start(workflow, trigger):
        results.extend(await asyncio.gather(workflow.get_var('a'), workflow.get_var('b'),
                                            workflow.get_var('c'), return_exceptions=True))

    with served.peer() as peer:
        peer.start()
        peer.respond(peer.expect('wf_api_get_var_request'), value='A')
        peer.error(peer.expect('wf_api_get_var_request'), 'no such variable')
        peer.respond(peer.expect('wf_api_get_var_request'), value='C')
        wait_until(lambda: results)
    assert results[0] == 'A' and results[2] == 'C'
    assert isinstance(results[1], relaysync.ErrorResponse)
    assert results[1].message == 'no such variable'


def test_a_forgotten_await_warns_at_the_line(served):
    wf = served.workflow
    caught = []

    @wf.on_start
    async def start(workflow, trigger):
        import warnings
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter('always')
            if workflow.get_var('mode') == 'quiet':       # no await: always False
                pass
        caught.extend(seen)

    with served.peer() as peer:
        peer.start()
        peer.respond(peer.expect('wf_api_get_var_request'), value='quiet')
        wait_until(lambda: caught)
    assert caught[0].category is RuntimeWarning
    assert 'relay.get_var(...) was compared without await' in str(caught[0].message)
    assert caught[0].filename == __file__


def test_an_exception_in_a_fire_and_forget_task_is_logged_with_the_connection(served, caplog):
    wf = served.workflow

    async def fails():
        raise ValueError('background failure')

    @wf.on_start
    async def start(workflow, trigger):
        asyncio.get_running_loop().create_task(fails())

    with served.peer() as peer:
        peer.start()
        wait_until(lambda: served.server.total_connections() == 1)
    wait_until(lambda: [r for r in caplog.records if r.name == 'relaysync.connection'
                        and r.levelno == logging.ERROR and r.getMessage().startswith('[c1]')
                        and r.exc_info and 'background failure' in str(r.exc_info[1])], 5)
