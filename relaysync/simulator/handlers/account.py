"""Account-wide requests: notifications, groups and incidents.

* ``notification`` (``broadcast``, ``alert``, ``notify``) is delivered to every
  device named by ``_target`` (groups expand to their members).  A device with
  ``ack_alerts`` set acknowledges alerts by itself after that many seconds;
  any device can :meth:`~relaysync.simulator.VirtualDevice.acknowledge`.  Each
  acknowledgement sends ``wf_api_notification_event {event: "ack_event", name,
  notification_state, source_uri}`` to the workflow that sent the alert.
  ``cancel`` marks the named notification cancelled on the targeted devices.
* Groups are the simulator's groups (``Simulator.group``); the js-only
  create/delete/add/remove requests change them.
* Incidents are recorded in ``Simulator.incidents``; resolving one from
  outside (``Simulator.resolve_incident``, as an operator in Dash would)
  sends ``wf_api_incident_event`` to the workflow that created it.
"""

from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs

from ... import urns
from ..context import Refused, RequestContext
from ..devices import Notification
from ..transcript import RELAY
from ..transcript import quote as q
from .table import handles

NOTIFICATION_TYPES = ('broadcast', 'alert', 'notify', 'cancel')


class SentNotification:
    """One notification request, shared by the copies its recipients hold."""

    def __init__(self, run: Any, ntype: str, name: str, text: Optional[str],
                 originator: Optional[str], push_opts: Dict[str, Any]) -> None:
        self.run = run
        self.type = ntype
        self.name = name
        self.text = text
        self.originator = originator
        self.push_opts = push_opts
        self.copies: List[Notification] = []

    def state(self) -> Dict[str, List[str]]:
        """The ``notification_state`` object: device URNs by state."""
        def having(state: str) -> List[str]:
            return [c.device.urn for c in self.copies if c.state == state]
        return {'acknowledged': having('acknowledged'),
                'created': [c.device.urn for c in self.copies],
                'cancelled': having('cancelled'), 'timed_out': []}


@handles('notification')
def notification(ctx: RequestContext) -> None:
    """``wf_api_notification_request {_target, originator, type, name, text, push_opts}``."""
    devices = ctx.device_targets()
    ntype = ctx.field('type', choices=NOTIFICATION_TYPES)
    name = ctx.field('name')
    if not name:
        raise Refused('notification: field "name" must not be empty')
    push_opts = ctx.field('push_opts', default={})
    if ntype == 'cancel':
        _cancel(ctx, devices, name)
        return
    text = ctx.field('text')
    originator = ctx.field('originator', default=None)
    if originator is not None and not urns.is_relay_uri(originator):
        raise Refused(f'notification: invalid originator uri {originator!r}')
    sent = SentNotification(ctx.run, ntype, name, text, originator, push_opts)
    for device in devices:
        ctx.then(lambda d=device: _deliver(sent, d))


def _deliver(sent: SentNotification, device: Any) -> None:
    sim, run = sent.run.sim, sent.run
    copy = Notification(sent, device)
    sent.copies.append(copy)
    device.notifications.append(copy)
    who = sim.label(sent.originator) if sent.originator else 'the workflow'
    sim.note(device.name, 'notification', f'{sent.type} {q(sent.text)} from {who} '
                                          f'({q(sent.name)})', run.number)
    if sent.type == 'alert' and device.ack_alerts is not None:
        sim.clock.call_later(device.ack_alerts, lambda: acknowledge(device, copy))


def _cancel(ctx: RequestContext, devices: List[Any], name: str) -> None:
    sim, run = ctx.sim, ctx.run
    copies = [n for d in devices for n in d.notifications
              if n.name == name and n.sent.run is run and n.state == 'active']
    if not copies:
        ctx.note = 'nothing active to cancel'

    def cancel(copy: Notification) -> None:
        if copy.state == 'active':
            copy.state = 'cancelled'
            sim.note(copy.device.name, 'notification', f'{copy.type} {q(name)} cancelled',
                     run.number)
    for copy in copies:
        ctx.then(lambda c=copy: cancel(c))


def acknowledge(device: Any, copy: Optional[Notification] = None,
                name: Optional[str] = None) -> bool:
    """Acknowledge an active alert on ``device`` (the given copy, or the latest
    one named ``name``/any).  Returns False when there is none."""
    if copy is None:
        active = [n for n in device.notifications
                  if n.type == 'alert' and n.state == 'active' and name in (None, n.name)]
        if not active:
            return False
        copy = active[-1]
    if copy.state != 'active':
        return False
    copy.state = 'acknowledged'
    sent = copy.sent
    sent.run.sim.note(device.name, 'ack', f'acknowledged {sent.type} {q(sent.name)}',
                      sent.run.number)
    sent.run.emit('notification', event='ack_event', name=sent.name,
                  notification_state=sent.state(), source_uri=device.urn)
    return True


# ---------------------------------------------------------------- groups
def _group(ctx: RequestContext, uri: Any, field: str = 'group_uri') -> Any:
    if not isinstance(uri, str) or not urns.is_relay_uri(uri):
        raise Refused(f'{ctx.name}: invalid {field} {uri!r}')
    group = ctx.sim.find_group(uri)
    if group is None:
        raise Refused(f'{ctx.name}: unknown group {uri}')
    return group


@handles('group_query')
def group_query(ctx: RequestContext) -> None:
    """``wf_api_group_query_request {query, group_uri}``: ``list_members`` →
    ``{member_uris}``; ``is_member`` with a group-member URN → ``{is_member}``."""
    query = ctx.field('query', choices=('list_members', 'is_member'))
    uri = ctx.field('group_uri')
    group = _group(ctx, uri)
    if query == 'list_members':
        ctx.respond(member_uris=[m.urn for m in group.members])
        return
    members = parse_qs(uri.partition('?')[2]).get('device')
    if not members:
        raise Refused(f'is_member: group_uri must name a device '
                      f'(…:group:<name>?device=<device urn>), got {uri}')
    device = ctx.sim.find_device(members[0])
    ctx.respond(is_member=device is not None and device in group.members)


@handles('list_group_members')
def list_group_members(ctx: RequestContext) -> None:
    """``wf_api_list_group_members_request {group_name}`` → ``{device_names}``."""
    name = ctx.field('group_name', str)
    group = ctx.sim.groups.get(name)
    if group is None:
        raise Refused(f'list_group_members: unknown group {name!r}')
    ctx.respond(device_names=[m.name for m in group.members])


@handles('create_group')
def create_group(ctx: RequestContext) -> None:
    """``wf_api_create_group_request {name}`` → ``{uri}``."""
    name = ctx.field('name')
    if not name:
        raise Refused('create_group: field "name" must not be empty')
    if name in ctx.sim.groups:
        raise Refused(f'create_group: a group named {name!r} already exists')
    group = ctx.sim.group(name, [])
    ctx.respond(uri=group.urn)


@handles('delete_group')
def delete_group(ctx: RequestContext) -> None:
    """``wf_api_delete_group_request {uri}``."""
    group = _group(ctx, ctx.field('uri'), 'uri')
    ctx.sim.groups.pop(group.name, None)


@handles('add_group_members', 'remove_group_members')
def change_group_members(ctx: RequestContext) -> None:
    """``wf_api_add_group_members_request`` / ``wf_api_remove_group_members_request``
    ``{_target: devices, group_uri}``."""
    group = _group(ctx, ctx.field('group_uri'))
    devices = ctx.device_targets()
    for device in devices:
        if ctx.name.startswith('add'):
            if device not in group.members:
                group.members.append(device)
        elif device in group.members:
            group.members.remove(device)


# ------------------------------------------------------------- incidents
@handles('create_incident')
def create_incident(ctx: RequestContext) -> None:
    """``wf_api_create_incident_request {type, originator_uri}`` → ``{incident_id}``."""
    itype = ctx.field('type')
    originator = ctx.field('originator_uri')
    if ctx.sim.find_device(originator) is None:
        raise Refused(f'create_incident: unknown originator {originator}')
    incident_id = str(1000 + ctx.sim.next_number('incident'))
    ctx.sim.incidents[incident_id] = {'incident_id': incident_id, 'type': itype,
                                      'originator_uri': originator, 'state': 'open',
                                      'reason': None, 'run': ctx.run}
    ctx.respond(incident_id=incident_id)
    sim, run = ctx.sim, ctx.run
    ctx.then(lambda: sim.note(RELAY, 'incident', f'incident {incident_id} ({q(itype)}) opened for '
                                                 f'{sim.label(originator)}', run.number))


@handles('resolve_incident')
def resolve_incident(ctx: RequestContext) -> None:
    """``wf_api_resolve_incident_request {incident_id, reason}``."""
    incident_id = ctx.field('incident_id')
    reason = ctx.field('reason', default='')
    incident = ctx.sim.incidents.get(incident_id)
    if incident is None:
        raise Refused(f'resolve_incident: unknown incident {incident_id!r}')
    if incident['state'] != 'open':
        raise Refused(f'resolve_incident: incident {incident_id} is already {incident["state"]}')
    incident['state'], incident['reason'] = 'resolved', reason
    sim, run = ctx.sim, ctx.run
    ctx.then(lambda: sim.note(RELAY, 'incident', f'incident {incident_id} resolved: '
                                                 f'{q(reason)}', run.number))
