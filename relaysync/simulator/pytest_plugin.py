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

To see a test's devices while debugging it, run ``pytest --relay-ui`` (or pass
``ui=True`` to the factory): each simulator is shown on the simulator page,
opened in the browser, and the test waits at its end until Continue is
pressed on the page (or the page is closed).  One browser tab follows every
test of the session, since each page is served on the same port.
"""

import sys
from typing import Any, Callable, Iterator, List

import pytest

#: Real seconds a test shown with ``--relay-ui`` waits for the page to (re)connect.
PAGE_WAIT = 15.0
_PORT = pytest.StashKey[int]()
_OPENED = pytest.StashKey[bool]()


def pytest_addoption(parser: Any) -> None:
    """Add ``--relay-ui`` and ``--relay-ui-port``.

    Args:
        parser: pytest's option parser.
    """
    group = parser.getgroup('relaysync', 'relaysync simulator')
    group.addoption('--relay-ui', action='store_true', default=False,
                    help='show each relay_simulator on the simulator page (opened in the '
                         'browser); each test waits at its end until Continue is pressed')
    group.addoption('--relay-ui-port', type=int, default=0, metavar='PORT',
                    help='the port of the simulator page with --relay-ui (default: a free '
                         'port, the same for the whole session)')


def _say(request: Any, text: str) -> None:
    """Print past pytest's output capture."""
    capture = request.config.pluginmanager.getplugin('capturemanager')
    if capture is not None:
        with capture.global_and_fixture_disabled():
            sys.stderr.write(text + '\n')
    else:  # pragma: no cover - capture plugin disabled
        sys.stderr.write(text + '\n')


def _page_port(config: Any) -> int:
    """The session's page port (chosen once, so one tab follows every test)."""
    if _PORT not in config.stash:
        from .program import free_port
        config.stash[_PORT] = config.getoption('relay_ui_port') or free_port()
    port: int = config.stash[_PORT]
    return port


@pytest.fixture
def relay_simulator(request: Any) -> Iterator[Callable[..., Any]]:
    """A factory of simulators, each closed automatically at the end of the test.

    ``relay_simulator(target, path=None, ui=None, **options)`` takes the
    arguments of :class:`relaysync.simulator.Simulator` (see it for
    ``target``, ``path`` and the options) and raises what the constructor
    raises.  ``ui=True`` shows the simulator on the simulator page as
    ``pytest --relay-ui`` does (``ui=False``: not even with that option).

    Args:
        request: pytest's request for the test (gives the ``--relay-ui`` option).

    Yields:
        The factory; each call returns a new
        :class:`~relaysync.simulator.Simulator`.
    """
    from . import Simulator

    made: List[Any] = []
    shown: List[Any] = []
    everywhere = bool(request.config.getoption('relay_ui', False))

    def factory(target: Any, path: Any = None, ui: Any = None, **options: Any) -> Any:
        sim = Simulator(target, path, **options)
        made.append(sim)
        if ui if ui is not None else everywhere:
            _show(request, sim, shown)
        return sim

    yield factory
    try:
        for page in shown:
            _say(request, f'relaysync: {request.node.nodeid} has finished; press Continue on '
                          f'{page.url} to go on')
            page.hold()
    finally:
        for sim in made:
            sim.close()


def _show(request: Any, sim: Any, shown: List[Any]) -> None:
    config = request.config
    port = _page_port(config)
    try:
        page = sim.serve_ui(port, title=request.node.nodeid)
    except OSError:  # the session's port is taken (a second simulator in this test)
        page = sim.serve_ui(0, title=request.node.nodeid)
    shown.append(page)
    if not config.stash.get(_OPENED, False):
        config.stash[_OPENED] = True
        if not page.open_browser():
            _say(request, f'relaysync: open {page.url} in a browser to see the devices')
    _say(request, f'relaysync: {request.node.nodeid}: the devices are on {page.url}')
    page.wait_for_page(PAGE_WAIT)
