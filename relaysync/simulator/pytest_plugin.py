"""pytest plugin: the ``relay_simulator`` fixture (registered through the
``pytest11`` entry point, so installing relaysync makes it available).

::

    def test_hello(relay_simulator):
        sim = relay_simulator(wf, time_scale=0.01)
        run = sim.trigger(sim.device('Alice'))
        run.wait_until_done(timeout=5)
        assert sim.devices['Alice'].heard == ['hello world']

Every simulator the factory made is closed when the test ends (its runs are
stopped, its in-process server is shut down).
"""

from typing import Any, Callable, Iterator, List

import pytest


@pytest.fixture
def relay_simulator() -> Iterator[Callable[..., Any]]:
    """A factory of simulators, each closed automatically at the end of the test.

    ``relay_simulator(target, path=None, **options)`` takes the arguments of
    :class:`relaysync.simulator.Simulator` (see it for ``target``, ``path``
    and the options) and raises what the constructor raises.

    Yields:
        The factory; each call returns a new
        :class:`~relaysync.simulator.Simulator`.
    """
    from . import Simulator

    made: List[Any] = []

    def factory(target: Any, path: Any = None, **options: Any) -> Any:
        sim = Simulator(target, path, **options)
        made.append(sim)
        return sim

    yield factory
    for sim in made:
        sim.close()
