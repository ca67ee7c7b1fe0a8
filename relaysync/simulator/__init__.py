"""The Relay simulator: run and test workflows with no device and no account.

The simulator plays the Relay server ("ibot") and a set of virtual devices.
It connects to a workflow over the wire protocol, as the real server does,
answers every request realistically and records what each device heard, saw
and did.

In tests (the ``relay_simulator`` pytest fixture is registered automatically)::

    def test_hello(relay_simulator):
        sim = relay_simulator(wf)              # a relaysync Workflow, Server or ws:// URL
        alice = sim.device('Alice')
        run = sim.trigger(alice)
        run.wait_until_done(timeout=5)
        assert alice.heard == ['hello world']

From the command line: ``relaysync simulate my_workflow.py`` (see ``relaysync
simulate --help``).

To see the devices and use them in a browser: ``relaysync simulate
my_workflow.py --ui``, :meth:`Simulator.serve_ui`, or ``pytest --relay-ui``.
"""

from .devices import Group, LedChange, Notification, VirtualDevice
from .errors import SimulatorError
from .run import Run, SimulationTimeout, WorkflowCrashed
from .scenario import Scenario, ScenarioError
from .simulator import Simulator
from .transcript import Entry
from .wsclient import HandshakeFailed

__all__ = ['Simulator', 'Run', 'VirtualDevice', 'Group', 'Notification', 'LedChange', 'Entry',
           'Scenario', 'ScenarioError', 'SimulatorError', 'SimulationTimeout',
           'WorkflowCrashed', 'HandshakeFailed']
