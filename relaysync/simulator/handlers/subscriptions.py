"""Event subscriptions and the debug log: server features no released SDK has yet.

* ``subscribe`` / ``unsubscribe {_target, event_type}``: the run receives the
  targeted devices' events of that type from then on, until it unsubscribes
  or ends.  ``event_type`` is one of :data:`EVENT_TYPES`.
* A device makes those events with :meth:`VirtualDevice.position`,
  :meth:`~VirtualDevice.geofence`, :meth:`~VirtualDevice.nfc_tap` and
  :meth:`~VirtualDevice.http_post` (or a scenario step, or ``relaysync
  simulate --event``); each goes to every run subscribed to it on that device.
* ``debug_log {content}``: recorded in ``Run.debug_log`` and shown in the
  transcript, as ``relay workflow debug`` would show it.
"""

from typing import Any, List

from ..context import RequestContext
from ..device_events import EVENT_TYPES
from ..transcript import RELAY
from ..transcript import quote as q
from .table import handles


def _targets(ctx: RequestContext) -> List[Any]:
    devices = ctx.device_targets()
    ctx.field('event_type', choices=tuple(EVENT_TYPES))
    return devices


@handles('subscribe')
def subscribe(ctx: RequestContext) -> None:
    """``wf_api_subscribe_request {_target, event_type}``."""
    devices = _targets(ctx)
    kind = ctx.msg['event_type']
    for device in devices:
        runs = device.subscribers.setdefault(kind, [])
        if ctx.run not in runs:
            runs.append(ctx.run)
        ctx.then(lambda d=device: ctx.sim.note(d.name, 'subscribe', f'subscribed to {kind} '
                                               f'events', ctx.run.number))


@handles('unsubscribe')
def unsubscribe(ctx: RequestContext) -> None:
    """``wf_api_unsubscribe_request {_target, event_type}`` (no error when not subscribed)."""
    devices = _targets(ctx)
    kind = ctx.msg['event_type']
    missing = []
    for device in devices:
        runs = device.subscribers.get(kind, [])
        if ctx.run in runs:
            runs.remove(ctx.run)
            ctx.then(lambda d=device: ctx.sim.note(d.name, 'subscribe', f'unsubscribed from '
                                                   f'{kind} events', ctx.run.number))
        else:
            missing.append(device.name)
    if missing:
        ctx.note = f'{", ".join(missing)} was not subscribed'


@handles('debug_log')
def debug_log(ctx: RequestContext) -> None:
    """``wf_api_debug_log_request {content}``: appended to ``Run.debug_log``."""
    content = ctx.field('content')
    ctx.run.debug_log.append(content)
    ctx.then(lambda: ctx.sim.note(RELAY, 'debug', f'debug log: {q(content)}', ctx.run.number))


def end_all(run: Any) -> None:
    """Drop every subscription of a finished run."""
    for device in run.sim.devices.values():
        for runs in device.subscribers.values():
            if run in runs:
                runs.remove(run)
