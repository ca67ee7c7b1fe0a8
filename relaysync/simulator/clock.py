"""The simulator's clock: one thread that runs every piece of simulated work.

Everything the simulated Relay server does (answering a request, firing a
timer, a device pressing a button) is a task run on this single thread, in
time order.  Because only this thread touches the simulated state, no other
locking is needed, and runs are reproducible.

Simulated time runs ``1 / time_scale`` times faster than the wall clock:
with ``time_scale=0.01`` a 60-second timer fires after 0.6 real seconds.
"""

import heapq
import itertools
import logging
import math
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, cast

T = TypeVar('T')

logger = logging.getLogger('relaysync.simulator.clock')

#: The longest the clock thread sleeps at once (real seconds); it then looks
#: again, so a task due far in the future cannot overflow a lock's timeout.
_LONGEST_SLEEP = 3600.0


class Clock:
    """A time-ordered task queue served by one daemon thread.

    Args:
        time_scale: real seconds per simulated second (1.0 = real time;
            0.01 = a hundred times faster).  Must be positive and finite.

    Attributes:
        changed: a Condition notified after every task; waiters use it to
            watch the simulated state (see :meth:`wait_for`).
    """

    def __init__(self, time_scale: float = 1.0) -> None:
        if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) \
                or not math.isfinite(time_scale) or time_scale <= 0:
            raise ValueError(f'time_scale must be a positive number, got {time_scale!r}')
        self.time_scale = float(time_scale)
        self._heap: List[Tuple[float, int, 'Handle']] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self.changed = threading.Condition()
        self._stopped = False
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True, name='relaysync-sim-clock')
        self._thread.start()

    # ------------------------------------------------------------------ time
    def now(self) -> float:
        """Simulated seconds since the clock started."""
        return (time.monotonic() - self._t0) / self.time_scale

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` of simulated time take."""
        return seconds * self.time_scale

    # ---------------------------------------------------------------- tasks
    def call_later(self, delay: float, task: Callable[[], Any]) -> 'Handle':
        """Run ``task`` on the clock thread after ``delay`` simulated seconds.

        Returns a :class:`Handle` whose ``cancel()`` stops it from running.

        Raises:
            ValueError: ``delay`` is not a finite number (NaN, infinite).
        """
        if not math.isfinite(delay):
            raise ValueError(f'a delay must be a finite number of seconds, got {delay!r}')
        due = time.monotonic() + max(0.0, delay) * self.time_scale
        handle = Handle(task, due)
        with self._cond:
            if self._stopped:
                return handle
            heapq.heappush(self._heap, (due, next(self._seq), handle))
            self._cond.notify()
        return handle

    def call_soon(self, task: Callable[[], Any]) -> 'Handle':
        """Run ``task`` on the clock thread as soon as possible (after earlier tasks)."""
        return self.call_later(0.0, task)

    def run_sync(self, task: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``task`` on the clock thread and return its result (or raise its
        exception).  Runs it directly when called from the clock thread.

        Raises:
            TimeoutError: the clock did not run it within ``timeout`` real seconds.
        """
        if threading.current_thread() is self._thread:
            return task()
        box: Dict[str, Any] = {}
        done = threading.Event()

        def wrapper() -> None:
            try:
                box['value'] = task()
            except BaseException as exc:  # handed back to the caller
                box['error'] = exc
            finally:
                done.set()
        self.call_soon(wrapper)
        if not done.wait(timeout):
            raise TimeoutError('the simulator clock did not run the task in time')
        if 'error' in box:
            raise box['error']
        return cast(T, box.get('value'))

    def next_due(self) -> Optional[float]:
        """When the next task not cancelled is due, or None when none is queued.

        Returns:
            A ``time.monotonic()`` value (real time), or None.
        """
        with self._cond:
            dues = [handle.due for _, _, handle in self._heap if not handle.cancelled]
        return min(dues) if dues else None

    def wait_for(self, predicate: Callable[[], Any], timeout: Optional[float]) -> Any:
        """Block until ``predicate()`` is true (checked after every task) or
        ``timeout`` real seconds pass.  Returns the last value of the predicate."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                if deadline is None:
                    self.changed.wait(0.05)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return value
                self.changed.wait(min(remaining, 0.05))

    def stop(self) -> None:
        """Stop the clock thread; pending tasks are dropped.  Idempotent."""
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(min(wait, _LONGEST_SLEEP))
                    else:
                        self._cond.wait()
                if self._stopped:
                    return
                _, _, handle = heapq.heappop(self._heap)
            if handle.cancelled:
                continue
            try:
                handle.task()
            except Exception:
                logger.exception('simulator task failed')
            with self.changed:
                self.changed.notify_all()


class Handle:
    """A scheduled task; :meth:`cancel` stops it from running.

    Attributes:
        task: the function to run.
        due: when it is due, as a ``time.monotonic()`` value.
        cancelled: True once :meth:`cancel` was called.
    """

    __slots__ = ('task', 'due', 'cancelled')

    def __init__(self, task: Callable[[], Any], due: float = 0.0) -> None:
        self.task = task
        self.due = due
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run the task (no effect once it has run)."""
        self.cancelled = True
