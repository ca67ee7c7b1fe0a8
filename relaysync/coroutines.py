"""Coroutine handlers: ``async def`` handlers, as relay-py programs write them.

A handler may be a coroutine function.  Its first argument is an
:class:`AsyncRelay`: the instance's :class:`~relaysync.Relay` whose actions do
their work when called (blocking, exactly as the plain actions do) and return
an awaitable of the result.  So relay-py code such as::

    @wf.on_interaction_lifecycle
    async def lifecycle(workflow, itype, interaction_uri, reason):
        await workflow.say_and_wait(interaction_uri, 'hello world')
        await asyncio.sleep(1)
        await workflow.end_interaction(interaction_uri)

runs unchanged.  Helpers that send nothing (``make_target_uris``,
``interaction_options``...) return their value directly, as in relay-py.

An instance whose workflow has a coroutine handler runs an event loop on its
worker thread, and each event's handler becomes a task on it, started in
arrival order, as relay-py runs them.  While a handler waits on asyncio itself
(``asyncio.sleep``, an ``asyncio.Event`` that another handler sets, a task it
created), the instance's next events start their handlers; a relay action, on
the other hand, blocks the loop until it has finished.  Tasks a handler leaves
running go on; when the connection closes, the ones still running after the
queued events have started are cancelled.  Plain handlers of such a workflow run
on the same loop, each to completion.

Because an action has finished by the time it returns, awaiting it only hands
over the result: ``asyncio.wait_for`` cannot cut an action short (use the
:class:`~relaysync.Timeouts`), and ``asyncio.gather`` of several actions runs
them one after the other.  Using an action's result without ``await``
(comparing it, testing it, formatting it) warns, as does never awaiting it.
Deleting ``async`` and ``await`` remains the simplest port.
"""

import asyncio
import collections.abc
import functools
import inspect
import logging
import sys
import traceback
import warnings
from typing import Any, Callable, Coroutine, Dict, Generator, NoReturn, Optional, Sequence

logger = logging.getLogger('relaysync.connection')


class Done(collections.abc.Coroutine):  # type: ignore[type-arg]
    """A coroutine that is already complete: what :class:`AsyncRelay` actions return.

    ``await`` gives back the value at once; ``asyncio.create_task``,
    ``ensure_future``, ``gather`` and ``wait_for`` accept it like any coroutine.
    The action has run either way, but code that forgets ``await`` is wrong
    under relay-py, so a ``RuntimeWarning`` points at the line: when the result
    is tested, compared or formatted instead of awaited, and when it is never
    awaited at all.

    An action that failed gives a ``Done`` carrying the exception, raised where
    it is awaited, so ``asyncio.gather(..., return_exceptions=True)`` collects
    it as it would under relay-py.

    Args:
        value: the action's result.
        name: the action, for the warnings (``'relay.get_var'``).
        where: ``(filename, lineno)`` of the call, for the warnings.
        error: the exception the action raised, if it failed.

    Attributes:
        value: the result.
    """

    __slots__ = ('value', 'error', '_name', '_where', '_awaited')

    def __init__(self, value: Any, name: str = 'the action',
                 where: Optional[Any] = None, error: Optional[BaseException] = None) -> None:
        self.value = value
        self.error = error
        self._name = name
        self._where = where
        self._awaited = False

    def _result(self) -> Any:
        self._awaited = True
        if self.error is not None:
            raise self.error
        return self.value

    def __await__(self) -> Generator[Any, None, Any]:
        return self._result()
        yield  # pragma: no cover - makes __await__ a generator

    def _warn(self, text: str, stacklevel: int = 3) -> None:
        self._awaited = True      # one warning is enough
        message = f'{self._name}(...) {text}'
        if self._where is not None and stacklevel == 0:
            warnings.warn_explicit(message, RuntimeWarning, self._where[0], self._where[1])
        else:
            warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)

    def _misused(self, how: str) -> None:
        if not self._awaited:
            self._warn(f'was {how} without await: write "await {self._name}(...)" '
                       f'(under relay-py this is a coroutine, not its result)', stacklevel=4)

    def __bool__(self) -> bool:
        self._misused('tested as true or false')
        return True

    def __eq__(self, other: object) -> bool:
        self._misused('compared')
        return self is other

    def __ne__(self, other: object) -> bool:
        self._misused('compared')
        return self is not other

    __hash__ = object.__hash__

    def __str__(self) -> str:
        self._misused('turned into text')
        return repr(self)

    def __format__(self, spec: str) -> str:
        self._misused('formatted')
        return format(repr(self), spec)

    def __del__(self) -> None:
        if not self._awaited:
            failed = f' and failed: {self.error!r}' if self.error is not None else ''
            try:
                self._warn(f'was never awaited (relaysync ran it{failed}; relay-py would not '
                           f'have sent it)', stacklevel=0)
            except Exception:  # pragma: no cover - interpreter shutting down
                pass

    def send(self, value: Any) -> NoReturn:
        """Finish at once: raise ``StopIteration`` carrying the result.

        Args:
            value: ignored (what the awaiting code sends in).

        Returns:
            Never: it always raises.

        Raises:
            StopIteration: with :attr:`value`, when the action succeeded.
            Exception: what the action raised, when it failed.
        """
        raise StopIteration(self._result())

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> NoReturn:
        """Raise the exception thrown in (nothing is suspended to receive it).

        Args:
            typ: an exception, or its type.
            val: the exception value, with a type.
            tb: a traceback for it.

        Returns:
            Never: it always raises.

        Raises:
            BaseException: the exception given.
        """
        self._awaited = True
        if val is None:
            raise typ
        raise val.with_traceback(tb)

    def close(self) -> None:
        """Nothing to close: the action has finished."""
        self._awaited = True

    def __repr__(self) -> str:
        return f'<Done {self.value!r}>'


class AsyncRelay:
    """The awaitable view of a :class:`~relaysync.Relay` given to coroutine handlers.

    Every action (a method that sends a request) runs when called and returns
    a :class:`Done` holding its result, so both ``await relay.say(...)`` and a
    plain call work.  Static helpers, properties and attributes are those of
    the wrapped ``Relay``; setting an attribute sets it on the ``Relay``, so
    the plain and coroutine handlers of one instance share it.

    Args:
        relay: the instance's blocking :class:`~relaysync.Relay`.

    Attributes:
        relay: the blocking :class:`~relaysync.Relay` (for a thread of your own).
    """

    def __init__(self, relay: Any) -> None:
        object.__setattr__(self, 'relay', relay)

    def __getattr__(self, name: str) -> Any:
        relay = object.__getattribute__(self, 'relay')
        value = getattr(relay, name)
        if name.startswith('_') or not callable(value) or isinstance(
                inspect.getattr_static(type(relay), name, None), staticmethod):
            return value

        label = f'relay.{name}'

        @functools.wraps(value)
        def action(*args: Any, **kwargs: Any) -> Done:
            caller = sys._getframe(1)
            where = (caller.f_code.co_filename, caller.f_lineno)
            try:
                result = value(*args, **kwargs)
            except Exception as exc:   # raised where it is awaited, as relay-py raises it
                return Done(None, label, where, exc)
            return Done(result, label, where)
        return action

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, 'relay'), name, value)

    def __dir__(self) -> Sequence[str]:
        return sorted(set(dir(object.__getattribute__(self, 'relay'))) | {'relay'})

    def __repr__(self) -> str:
        return f'<AsyncRelay {object.__getattribute__(self, "relay")!r}>'


def is_coroutine_handler(func: Callable[..., Any]) -> bool:
    """Whether ``func`` is a coroutine function (or an object whose ``__call__`` is).

    Args:
        func: a handler.

    Returns:
        True for ``async def`` functions, ``functools.partial`` objects of
        them, callable objects with an ``async def __call__``, and plain
        wrappers (made with ``functools.wraps``) of any of these.
    """
    if inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, '__call__', None)):  # noqa: B004 - the method itself
        return True
    try:   # a plain wrapper (functools.wraps) around a coroutine function
        inner = inspect.unwrap(func)
    except ValueError:   # pragma: no cover - a cycle of __wrapped__
        return False
    return inner is not func and inspect.iscoroutinefunction(inner)


async def _await(awaitable: Any) -> Any:
    return await awaitable


#: How long cancelled tasks get to finish before they are left behind (seconds).
CANCEL_GRACE = 1.0


async def _cancel_bounded(tasks: Sequence['asyncio.Task[Any]'], conn_id: str) -> None:
    for task in tasks:
        task.cancel()
    done, pending = await asyncio.wait(tasks, timeout=CANCEL_GRACE)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            logger.debug('[%s] a cancelled task raised %r', conn_id, task.exception())
    if pending:
        logger.warning('[%s] %d task(s) did not stop within %g s of being cancelled; '
                       'left behind', conn_id, len(pending), CANCEL_GRACE)


def wants_loop(workflow: Any) -> bool:
    """Whether a workflow has a coroutine handler, so its instances run an event loop.

    Args:
        workflow: a :class:`~relaysync.Workflow`.

    Returns:
        True when any registered handler (``on_error`` included) is a coroutine function.
    """
    handlers = getattr(workflow, 'handlers', None)
    if handlers is None:
        return False
    return any(is_coroutine_handler(func) for table in handlers().values()
               for func in table.values())


class HandlerRunner:
    """Calls one instance's handlers on its worker thread, plain or coroutine.

    Two modes.  :meth:`call` runs a handler to completion (a coroutine on a
    private event loop), for workflows of plain handlers.  :meth:`serve` makes
    the worker an event loop that runs every event's handler as a task (see
    the module docstring), for workflows with a coroutine handler.

    Args:
        relay: the instance's :class:`~relaysync.Relay`.
        conn_id: the connection id, for log lines.
    """

    def __init__(self, relay: Any, conn_id: str) -> None:
        self.relay = relay
        self.conn_id = conn_id
        self._facade: Optional[AsyncRelay] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._kinds: Dict[Any, bool] = {}  # handler -> is a coroutine function
        self.looping = False
        #: True once the tasks still running at the end are being cancelled.
        self.closing = False

    def _is_coroutine(self, func: Callable[..., Any]) -> bool:
        try:
            coroutine = self._kinds.get(func)
            if coroutine is None:
                coroutine = self._kinds[func] = is_coroutine_handler(func)
        except TypeError:  # an unhashable callable object
            coroutine = is_coroutine_handler(func)
        return coroutine

    def _start(self, func: Callable[..., Any], args: Sequence[Any]) -> Any:
        if self._is_coroutine(func):
            if self._facade is None:
                self._facade = AsyncRelay(self.relay)
            return func(self._facade, *args)
        return func(self.relay, *args)

    def call(self, func: Callable[..., Any], args: Sequence[Any], label: str = 'handler') -> Any:
        """Run ``func(relay, *args)`` to completion and return its result.

        A coroutine function gets the :class:`AsyncRelay` and runs on this
        worker's event loop; a plain function that returns an awaitable has it
        run there too.

        Args:
            func: the handler.
            args: its arguments after ``relay``.
            label: how log lines name it (``'on_start'``).

        Returns:
            What the handler returned.

        Raises:
            Exception: whatever the handler raised.
        """
        result = self._start(func, args)
        if result is not None and inspect.isawaitable(result):
            return self._run(result, label)
        return result

    async def acall(self, func: Callable[..., Any], args: Sequence[Any]) -> Any:
        """Run ``func(relay, *args)`` as part of a task (loop mode); await it if it is a coroutine.

        Args:
            func: the handler.
            args: its arguments after ``relay``.

        Returns:
            What the handler returned.
        """
        result = self._start(func, args)
        if result is not None and inspect.isawaitable(result):
            return await result
        return result

    def serve(self, next_item: Callable[[], Any], set_wake: Callable[[Any], None],
              handle: Callable[[Any], Coroutine[Any, Any, None]], stop: object) -> None:
        """Run this worker as an event loop until ``stop`` is dequeued.

        Args:
            next_item: returns the next queued item, or None when there is none.
            set_wake: receives the callable (thread-safe) that wakes the loop
                after an item is queued; None once the loop has stopped.
            handle: returns the coroutine that runs one item's handler (a task).
            stop: the item that ends the loop.
        """
        self._new_loop()
        assert self._loop is not None
        self.looping = True
        try:
            self._loop.run_until_complete(self._serve(next_item, set_wake, handle, stop))
        finally:
            set_wake(None)

    async def _serve(self, next_item: Callable[[], Any], set_wake: Callable[[Any], None],
                     handle: Callable[[Any], Coroutine[Any, Any, None]],
                     stop: object) -> None:
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(ready.set)
            except RuntimeError:    # the loop has closed
                pass

        set_wake(wake)
        while True:
            ready.clear()
            item = next_item()
            if item is None:
                await ready.wait()
                continue
            if item is stop:
                break
            loop.create_task(handle(item))
            await asyncio.sleep(0)    # let it start before the next event is taken
        await asyncio.sleep(0)        # the last events' handlers take their first step
        me = asyncio.current_task()
        left = [t for t in asyncio.all_tasks(loop) if t is not me and not t.done()]
        if left:
            logger.info('[%s] the connection closed: cancelling %d coroutine(s) still running',
                        self.conn_id, len(left))
            self.closing = True
            await _cancel_bounded(left, self.conn_id)

    def stacks(self) -> str:
        """Where the tasks of a worker in loop mode are (for the stuck-handler report).

        Returns:
            Their stacks, formatted, or ``''`` outside loop mode.
        """
        loop = self._loop
        if not self.looping or loop is None:
            return ''
        out = []
        try:   # read from another thread: the tasks are suspended, or this is a best effort
            for task in list(asyncio.all_tasks(loop)):
                frames = task.get_stack()
                if frames:
                    out.append(''.join(traceback.format_list(
                        traceback.extract_stack(frames[-1]))))
        except RuntimeError:   # pragma: no cover - the set of tasks changed meanwhile
            pass
        return '\n'.join(out)

    def _new_loop(self) -> None:
        if self._loop is not None:
            return
        loop = self._loop = asyncio.new_event_loop()
        conn_id = self.conn_id

        def report(loop: Any, context: Dict[str, Any]) -> None:
            error = context.get('exception')
            logger.error('[%s] %s', conn_id, context.get('message', 'error in a coroutine'),
                         exc_info=(type(error), error, error.__traceback__) if error else None)
        loop.set_exception_handler(report)

    def _run(self, awaitable: Any, label: str) -> Any:
        self._new_loop()
        loop = self._loop
        assert loop is not None
        try:
            return loop.run_until_complete(_await(awaitable))
        finally:
            # Let tasks that are ready finish (a create_task of an action, say).
            loop.run_until_complete(asyncio.sleep(0))
            left = [t for t in asyncio.all_tasks(loop) if not t.done()]
            if left:
                logger.warning('[%s] %s handler returned with %d task(s) still running; '
                               'they were cancelled (this workflow was registered without '
                               'coroutine handlers, so its instances run one handler at a '
                               'time: await them, or use a thread)', self.conn_id, label,
                               len(left))
                self._cancel(left)

    def _cancel(self, tasks: Sequence['asyncio.Task[Any]']) -> None:
        assert self._loop is not None
        self._loop.run_until_complete(_cancel_bounded(tasks, self.conn_id))

    def close(self) -> None:
        """Cancel what is left on the event loop and close it (worker thread, at its end)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            self._loop = loop
            left = [t for t in asyncio.all_tasks(loop) if not t.done()]
            if left:
                self._cancel(left)
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:  # pragma: no cover - closing must not fail the worker
            logger.debug('[%s] closing the event loop failed', self.conn_id, exc_info=True)
        finally:
            self._loop = None
            loop.close()
