"""The root of the simulator's own errors, under :class:`~relaysync.RelaysyncError`."""

from ..exceptions import RelaysyncError


class SimulatorError(RelaysyncError):
    """Root of the simulator's own errors (:class:`SimulationTimeout`,
    :class:`WorkflowCrashed`, :class:`~relaysync.simulator.ScenarioError`,
    :class:`~relaysync.simulator.HandshakeFailed`); a
    :class:`~relaysync.RelaysyncError`."""
