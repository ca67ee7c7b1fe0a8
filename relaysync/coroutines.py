"""Coroutine handlers: ``async def`` handlers, as relay-py programs write them.

A handler may be a coroutine function.  It runs to completion on its instance's
worker thread, one handler at a time like every other handler, on an event
loop that worker creates the first time it needs one.  Its first argument is an
:class:`AsyncRelay`: the instance's :class:`~relaysync.Relay` whose actions do
their work when called (blocking the worker, exactly as the plain actions do)
and return an awaitable of the result.  So relay-py code such as::

    @wf.on_interaction_lifecycle
    async def lifecycle(workflow, itype, interaction_uri, reason):
        await workflow.say_and_wait(interaction_uri, 'hello world')
        await asyncio.sleep(1)
        await workflow.end_interaction(interaction_uri)

runs unchanged.  Helpers that send nothing (``make_target_uris``,
``interaction_options``...) return their value directly, as in relay-py.

Because an action has finished by the time it returns, awaiting it only hands
over the result: ``asyncio.wait_for`` cannot cut an action short (use the
:class:`~relaysync.Timeouts`), and ``asyncio.gather`` (or ``create_task``) of
several actions runs them one after the other.  Tasks a handler starts and does not await are
cancelled when it returns, with a WARNING: the instance runs one handler at a
time, so nothing would run them.  Deleting ``async`` and ``await`` remains the
simplest port.
"""

import asyncio
import collections.abc
import functools
import inspect
import logging
from typing import Any, Callable, Dict, Generator, NoReturn, Optional, Sequence

logger = logging.getLogger('relaysync.connection')


class Done(collections.abc.Coroutine):  # type: ignore[type-arg]
    """A coroutine that is already complete: what :class:`AsyncRelay` actions return.

    ``await`` gives back the value at once; ``asyncio.create_task``,
    ``ensure_future``, ``gather`` and ``wait_for`` accept it like any coroutine.
    It never warns when left un-awaited: the action has run either way.

    Args:
        value: the action's result.

    Attributes:
        value: the result.
    """

    __slots__ = ('value',)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # pragma: no cover - makes __await__ a generator

    def send(self, value: Any) -> NoReturn:
        """Finish at once: raise ``StopIteration`` carrying the result.

        Args:
            value: ignored (what the awaiting code sends in).

        Returns:
            Never: it always raises.

        Raises:
            StopIteration: always, with :attr:`value`.
        """
        raise StopIteration(self.value)

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
        if val is None:
            raise typ
        raise val.with_traceback(tb)

    def close(self) -> None:
        """Nothing to close: the action has finished."""

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

        @functools.wraps(value)
        def action(*args: Any, **kwargs: Any) -> Done:
            return Done(value(*args, **kwargs))
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
        them, and callable objects with an ``async def __call__``.
    """
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, '__call__', None))  # noqa: B004 - the method itself, not callable()


async def _await(awaitable: Any) -> Any:
    return await awaitable


class HandlerRunner:
    """Calls one instance's handlers on its worker thread, plain or coroutine.

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
        try:
            coroutine = self._kinds.get(func)
            if coroutine is None:
                coroutine = self._kinds[func] = is_coroutine_handler(func)
        except TypeError:  # an unhashable callable object
            coroutine = is_coroutine_handler(func)
        if coroutine:
            if self._facade is None:
                self._facade = AsyncRelay(self.relay)
            result = func(self._facade, *args)
        else:
            result = func(self.relay, *args)
        if result is not None and inspect.isawaitable(result):
            return self._run(result, label)
        return result

    def _run(self, awaitable: Any, label: str) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        loop = self._loop
        try:
            return loop.run_until_complete(_await(awaitable))
        finally:
            # Let tasks that are ready finish (a create_task of an action, say).
            loop.run_until_complete(asyncio.sleep(0))
            left = [t for t in asyncio.all_tasks(loop) if not t.done()]
            if left:
                logger.warning('[%s] %s handler returned with %d task(s) still running; '
                               'they were cancelled (handlers run one at a time: await '
                               'them, or use a thread)', self.conn_id, label, len(left))
                self._cancel(left)

    def _cancel(self, tasks: Sequence['asyncio.Task[Any]']) -> None:
        assert self._loop is not None
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

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
