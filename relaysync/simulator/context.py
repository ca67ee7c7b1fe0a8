"""What a request handler works with: the request, its targets, its answer.

Each handler in :mod:`relaysync.simulator.handlers` receives a
:class:`RequestContext`.  It reads and validates fields with :meth:`~RequestContext.field`
and :meth:`~RequestContext.targets` (which raise :class:`Refused` like a strict
server: the request is then answered with ``wf_api_error_response``), records
the answer with :meth:`~RequestContext.respond`, and queues what happens
afterwards with :meth:`~RequestContext.then` (events are only sent after the
response).
"""

from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qs

from .. import urns
from ..actions import field_kinds, targeted

_MISSING = object()


class Refused(Exception):
    """The simulated server refuses a request; the text becomes the ``error``
    of the ``wf_api_error_response``."""


class Target(NamedTuple):
    """One resolved ``_target`` entry.

    Attributes:
        uri: the URN as the workflow sent it.
        device: the :class:`~relaysync.simulator.devices.VirtualDevice` it names.
        interaction: the interaction, when the URN is an interaction URN.
    """
    uri: str
    device: Any
    interaction: Any = None


class RequestContext:
    """One request being handled.

    Attributes:
        run: the :class:`~relaysync.simulator.run.Run` (workflow instance).
        sim: the :class:`~relaysync.simulator.Simulator`.
        name: the request name (``say`` for ``wf_api_say_request``).
        msg: the request message.
        request_id: its ``_id``.
        response: the response fields (set by :meth:`respond`).
        delay: simulated seconds before the response is sent (progress
            events are sent meanwhile); set by :meth:`slow`.
    """

    def __init__(self, run: Any, name: str, msg: Dict[str, Any]) -> None:
        self.run = run
        self.sim = run.sim
        self.name = name
        self.msg = msg
        self.request_id: str = msg['_id']
        self.response: Dict[str, Any] = {}
        self.followups: List[Tuple[float, Callable[[], Any]]] = []
        self.delay = 0.0
        self.note: Optional[str] = None

    # ------------------------------------------------------------- answering
    def respond(self, **fields: Any) -> None:
        """Add fields to the response (``wf_api_<name>_response``)."""
        self.response.update(fields)

    def then(self, action: Callable[..., Any], delay: float = 0.0) -> None:
        """Run ``action`` on the clock thread ``delay`` simulated seconds after
        the response has been sent (0: right after it, in the order queued)."""
        self.followups.append((delay, action))

    def slow(self, seconds: float) -> None:
        """Answer only after ``seconds`` of simulated time, sending progress
        events in the meantime."""
        self.delay = max(self.delay, seconds)

    # ---------------------------------------------------------------- fields
    def validate(self) -> None:
        """Check the request against the action table (:mod:`relaysync.actions`)
        before its handler runs: each field the table describes, when present,
        has the JSON type the table gives it, and a request the table sends with
        a ``_target`` has one.

        Raises:
            Refused: a field of the wrong type, or no ``_target``.
        """
        for key in field_kinds(self.name):
            if key in self.msg:
                self.field(key)
        if targeted(self.name) and self.msg.get('_target') is None:
            raise Refused(f'{self.name}: missing _target')

    def field(self, key: str, kind: Any = None, default: Any = _MISSING,
              choices: Optional[Tuple[Any, ...]] = None) -> Any:
        """Read a payload field, checking its JSON type.

        Args:
            key: the field name.
            kind: the expected Python type(s) (``str``, ``int``, ``bool``,
                ``list``, ``dict`` or a tuple of them); default: the type the
                action table gives the field (``str`` for a field it does not
                know).  ``int`` does not accept booleans.
            default: returned when the field is absent; without it the field
                is required.
            choices: allowed values.

        Raises:
            Refused: the field is missing, of the wrong type, or not allowed.
        """
        if key not in self.msg:
            if default is _MISSING:
                raise Refused(f'{self.name}: missing required field "{key}"')
            return default
        value = self.msg[key]
        if kind is None:
            kind = field_kinds(self.name).get(key, str)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds)
        if not ok:
            names = ' or '.join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
            raise Refused(f'{self.name}: field "{key}" must be {names}, got {value!r}')
        if choices is not None and value not in choices:
            raise Refused(f'{self.name}: field "{key}" must be one of '
                          f'{", ".join(map(str, choices))}, got {value!r}')
        return value

    def targets(self, single: bool = False, expand: bool = True) -> List[Target]:
        """Resolve ``_target`` to devices (groups and ``all`` expand to members).

        Args:
            single: the request accepts exactly one URN.
            expand: allow group and ``all`` URNs.

        Raises:
            Refused: no ``_target``, a malformed one, an invalid or unknown URN,
                an interaction that is not active, or several URNs where one is
                allowed.
        """
        target = self.msg.get('_target')
        if target is None:
            raise Refused(f'{self.name}: missing _target')
        if not isinstance(target, dict) or not isinstance(target.get('uris'), list):
            raise Refused(f'{self.name}: _target must be {{"uris": [...]}}, got {target!r}')
        uris = target['uris']
        if not uris:
            raise Refused(f'{self.name}: _target has no uris')
        if single and len(uris) != 1:
            raise Refused(f'{self.name}: _target must hold exactly one uri, got {len(uris)}')
        found: List[Target] = []
        seen = set()
        for uri in uris:
            for t in resolve_uri(self.sim, self.run, uri, expand, self.name):
                key = (id(t.device), t.uri)
                if key not in seen:
                    seen.add(key)
                    found.append(t)
        return found

    def device_targets(self, single: bool = False) -> List[Any]:
        """The distinct devices named by ``_target`` (see :meth:`targets`)."""
        devices: List[Any] = []
        for t in self.targets(single=single):
            if t.device not in devices:
                devices.append(t.device)
        return devices


_JSON_NAMES = {str: 'a string', int: 'an integer', bool: 'a boolean', list: 'an array',
               dict: 'an object', float: 'a number'}


def resolve_uri(sim: Any, run: Any, uri: Any, expand: bool, request: str) -> List[Target]:
    """Resolve one URN from a ``_target`` (see :meth:`RequestContext.targets`)."""
    if not isinstance(uri, str) or not urns.is_relay_uri(uri):
        raise Refused(f'{request}: invalid uri {uri!r}')
    if uri == urns.all_devices():
        if not expand:
            raise Refused(f'{request}: a group target is not allowed here: {uri}')
        return [Target(d.urn, d) for d in sim.devices.values()]
    head, _, query = uri.partition('?')
    parts = head.split(':')
    if len(parts) != 5 or parts[2] not in ('id', 'name') or not parts[4]:
        raise Refused(f'{request}: invalid uri {uri!r}')
    resource = parts[3]
    if resource == 'interaction':
        return _interactions(run, uri, query, request)
    if resource == 'device':
        device = sim.find_device(uri)
        if device is None:
            raise Refused(f'{request}: unknown device {uri}')
        return [Target(uri, device)]
    if resource == 'group':
        if not expand:
            raise Refused(f'{request}: a group target is not allowed here: {uri}')
        group = sim.find_group(uri)
        if group is None:
            raise Refused(f'{request}: unknown group {uri}')
        return [Target(m.urn, m) for m in group.members]
    raise Refused(f'{request}: cannot target a {resource} uri: {uri}')


def _interactions(run: Any, uri: str, query: str, request: str) -> List[Target]:
    interaction = run.interactions.get(uri)
    if interaction is not None:
        if not interaction.active:
            raise Refused(f'{request}: interaction is no longer active: {uri}')
        return [Target(uri, interaction.device, interaction)]
    name = urns.parse_interaction(uri)
    devices = parse_qs(query).get('device')
    if devices:
        # The same interaction spelled differently (other percent-encoding).
        device = run.sim.find_device(devices[0])
        matches = [i for i in run.interactions.values()
                   if i.name == name and i.device is device]
        if not matches:
            raise Refused(f'{request}: unknown interaction {uri}')
        if not matches[-1].active:
            raise Refused(f'{request}: interaction is no longer active: {uri}')
        return [Target(uri, device, matches[-1])]
    # An interaction name without a device: that interaction on every device.
    matches = [i for i in run.interactions.values() if i.active and i.name == name]
    if not matches:
        raise Refused(f'{request}: no active interaction named {name!r}')
    return [Target(i.uri, i.device, i) for i in matches]
