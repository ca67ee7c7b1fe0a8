"""Why a run has not finished: what the workflow is waiting for, and what would move it on.

:func:`explain` reads a run from the simulator's side of the wire, so it works
for any workflow server: a listen with no answer yet, a call ringing, an alert
nobody acknowledged, an interaction that takes button presses, a timer still
to fire, a scripted step still waiting, the last event the workflow did not
react to; and, for refused requests, the groups and devices the account lacks.
:func:`hint` says, for each finding, what would move the run on: an option of
``relaysync simulate`` (``'cli'``), a call of the Python API (``'api'``) or a
control of the simulator page (``'page'``).
"""

import time
from typing import Any, Dict, List, NamedTuple, Optional

from .. import urns
from .devices import INPUT_TYPES
from .stacks import Busy
from .transcript import quote

#: Findings about something the run waits for (the others are about refused requests).
WAITING = ('handler', 'listen', 'call', 'alert', 'buttons', 'subscription', 'incident',
           'request', 'step', 'timer', 'event', 'busy')
#: The findings a person or a script must act on (nothing else would move the run on).
NEEDS_INPUT = ('listen', 'call', 'alert', 'buttons', 'subscription', 'incident')
#: An example value of ``--event KIND=VALUE`` for each device event.
_EVENT_EXAMPLES = {'nfc_tap': 'nfc_tap=04A2B3', 'position': 'position=\'{"floor": "2"}\'',
                   'geofence': 'geofence=dock', 'http_post': 'http_post=\'{"door": "open"}\''}

_TAPS_BY_INPUT = {value: key for key, value in INPUT_TYPES.items()}


class Finding(NamedTuple):
    """One reason a run is not finishing (a named tuple).

    Attributes:
        kind: ``handler``, ``listen``, ``call``, ``alert``, ``buttons``,
            ``subscription`` (a device event it subscribed to), ``incident`` (an
            open incident an operator may resolve), ``request``,
            ``step``, ``timer``, ``event``, ``busy`` (it waits for that), or
            ``unknown_group``, ``unknown_device`` (a request was refused for it).
        text: what it is, in words.
        device: the device concerned, if any.
        name: the group, device, alert or timer name, the event, the incident
            id or the step's label, if any.
        detail: kind-specific: ``(button, taps)`` for ``buttons``, the names
            of the devices that can acknowledge for ``alert``.
    """
    kind: str
    text: str
    device: Optional[str] = None
    name: Optional[str] = None
    detail: Any = None


def explain(run: Any, runner: Any = None, running: Optional[List[Busy]] = None
            ) -> List[Finding]:
    """What ``run`` is waiting for (when live) and what its refused requests lacked.

    Call it on the simulator's clock thread (``sim.clock.run_sync(lambda:
    explain(run))`` from elsewhere).

    Args:
        run: the :class:`~relaysync.simulator.Run`.
        runner: the scenario step runner playing steps for it, if any.
        running: the workflow's handlers still running (see
            :mod:`relaysync.simulator.stacks`): an empty list when none is,
            None when that is not known.

    Returns:
        The findings, the most telling first; empty when there is nothing to say.
    """
    found: List[Finding] = []
    if not run.done:
        found += [Finding('handler', f'the handler {b.describe()}', name=b.function)
                  for b in running or []]
        found += _listens(run) + _calls(run) + _alerts(run)
        if not any(f.kind == 'listen' for f in found):
            found += _buttons(run)
        found += _subscriptions(run) + _incidents(run)
        found += _unanswered(run) + _steps(run, runner) + _timers(run)
        if not found:
            found += _last_message(run, running)
    return found + _unknown_targets(run)


def hint(finding: Finding, style: str, trigger: Optional[str] = None) -> Optional[str]:
    """What would move the run on, for one finding.

    Args:
        finding: a :class:`Finding` of :func:`explain`.
        style: ``'cli'`` (options of ``relaysync simulate``), ``'api'`` (Python
            calls) or ``'page'`` (controls of the simulator page).
        trigger: the name of the device that triggered the run (``--say`` and
            ``--press`` act on it by default).

    Returns:
        One line of advice, or None when there is none to give.
    """
    kind, name = finding.kind, finding.name or finding.device or ''
    button, taps = finding.detail if kind == 'buttons' and finding.detail else ('action', 'single')
    if style == 'cli':
        if kind == 'listen':
            if finding.device == trigger:
                return ('--say TEXT answers it (--say "" for silence); --interactive or --ui '
                        'let you answer yourself')
            return (f'--say only answers for {trigger}: script {finding.device}\'s answer in a '
                    f'--scenario file ("says"), or answer yourself with --interactive or --ui')
        prefix = '' if finding.device == trigger else f'{finding.device}:'
        return {
            'subscription': f'--event {prefix}{_EVENT_EXAMPLES.get(name, name)} sends one',
            'call': f'--answer-calls {finding.device} answers it (or --interactive, --ui)',
            'alert': f'--ack {finding.device} acknowledges it (or --interactive, --ui)',
            'buttons': f'--press {prefix}{button}:{taps} presses (add @heard=TEXT to press after '
                       f'a prompt), or press yourself with --interactive or --ui',
            'incident': '--resolve-incident REASON resolves it, as an operator in Relay Dash '
                        'would (or --ui)',
            'step': 'check its condition, and that the steps before it ran (they run in '
                    'the order given)',
            'timer': 'give it more time with --timeout S, or a faster clock with --time-scale 0.1',
            'request': 'give it more time with --timeout S',
            'busy': 'give it more time with --timeout S',
            'unknown_group': f'--group {name}=DEVICE,DEVICE adds it (e.g. --group '
                             f'{name}=Bob,Carol)',
            'unknown_device': f'--device {name} adds it',
        }.get(kind)
    if style == 'api':
        return {
            'subscription': f'sim.devices[{finding.device!r}].{name}(...) sends one',
            'incident': f'sim.resolve_incident({name!r}, REASON) resolves it, as an operator '
                        f'would',
            'listen': f'sim.devices[{name!r}].say(TEXT) answers it (or says=[...] when '
                      f'making the device)',
            'call': f'sim.devices[{name!r}].answer() answers it (or answer_calls=SECONDS)',
            'alert': f'sim.devices[{name!r}].acknowledge() acknowledges it (or '
                     f'ack_alerts=SECONDS)',
            'buttons': f'sim.devices[{name!r}].press({button!r}, {taps!r}) presses',
            'timer': 'wait longer, or use a smaller time_scale',
            'request': 'wait longer, or use a smaller time_scale',
            'busy': 'wait longer',
            'unknown_group': f'sim.group({name!r}, [DEVICE, ...]) adds it',
            'unknown_device': f'sim.device({name!r}) adds it',
        }.get(kind)
    return {
        'listen': f'type what {name} says in the Say box on {name}\'s card',
        'call': f'press Answer on {name}\'s card',
        'alert': f'press Acknowledge on {name}\'s card',
        'buttons': f'press {name}\'s {button} button ({taps})',
        'subscription': f'send one under Device events on {finding.device}\'s card',
        'incident': f'press Resolve by incident {name} under Incidents',
        'unknown_group': f'add the group {name} under Groups, then Restart',
        'unknown_device': f'add the device {name} under Devices, then Restart',
    }.get(kind)


def report(findings: List[Finding], style: str, trigger: Optional[str] = None) -> List[str]:
    """The findings as text lines, each followed by its hint (``  try: ...``).

    Args:
        findings: what :func:`explain` returned.
        style: as for :func:`hint`.
        trigger: as for :func:`hint`.

    Returns:
        The lines (``waiting for: ...`` or ``refused: ...``), empty for no findings.
    """
    lines = []
    for finding in findings:
        head = 'waiting for' if finding.kind in WAITING else 'refused'
        lines.append(f'{head}: {finding.text}')
        advice = hint(finding, style, trigger)
        if advice:
            lines.append(f'  try: {advice}')
    return lines


# ------------------------------------------------------------ findings
def _seconds_left(run: Any, handle: Any) -> Optional[float]:
    if handle is None or handle.cancelled:
        return None
    left: float = max(0.0, (handle.due - time.monotonic()) / run.sim.clock.time_scale)
    return left


def event_name(msg: Dict[str, Any]) -> str:
    """A short description of an event message: ``'button button=action taps=double'``.

    Args:
        msg: the message (``_type`` ``wf_api_<name>_event``).

    Returns:
        The event name without ``wf_api_`` and ``_event``, with its short
        scalar fields (``source_uri`` and ids left out).
    """
    mtype = str(msg.get('_type', '?'))
    name = mtype[len('wf_api_'):] if mtype.startswith('wf_api_') else mtype
    name = name[:-len('_event')] if name.endswith('_event') else name
    fields = [f'{k}={v}' for k, v in msg.items()
              if not k.startswith('_') and k not in ('source_uri', 'id', 'request_id')
              and isinstance(v, (str, int, float, bool)) and len(str(v)) <= 40]
    return ' '.join([name] + fields[:3])


def _received_at(run: Any, request_id: str) -> Optional[float]:
    """When the request ``request_id`` was received."""
    for at, direction, msg in run.messages:
        if direction == 'received' and msg.get('_id') == request_id:
            return float(at)
    return None


def _subscriptions(run: Any) -> List[Finding]:
    from .device_events import EVENT_TYPES
    found = []
    for device in list(run.sim.devices.values()):
        for kind, runs in list(device.subscribers.items()):
            if run in runs:
                event = EVENT_TYPES.get(kind, kind)
                article = 'an' if event[:1] in 'aeiou' else 'a'
                found.append(Finding('subscription', f'{device.name} to send {article} {event} '
                                                     f'event (the workflow subscribed to {kind})',
                                     device=device.name, name=event))
    return found


def _incidents(run: Any) -> List[Finding]:
    return [Finding('incident', f'an operator to resolve the incident {incident_id} '
                                f'({quote(incident["type"])}), which the workflow opened and '
                                f'has not resolved', name=incident_id)
            for incident_id, incident in list(run.sim.incidents.items())
            if incident['run'] is run and incident['state'] == 'open']


def _listens(run: Any) -> List[Finding]:
    found = []
    for device in list(run.sim.devices.values()):
        listening = device.listening
        if listening is None or listening.run is not run:
            continue
        at = _received_at(run, listening.request_id)
        sent = f' (sent at {at:.3f} s)' if at is not None else ''
        left = _seconds_left(run, listening.handle)
        ending = (f'; unanswered, it ends in silence in {left:.0f} s' if left is not None
                  else '')
        found.append(Finding('listen', f'{device.name} to speak: the workflow\'s listen{sent} '
                                       f'has no answer yet{ending}', device.name, device.name))
    return found


def _calls(run: Any) -> List[Finding]:
    return [Finding('call', f'{call.callee.name} to answer the call from {call.caller.name}',
                    call.callee.name, call.callee.name)
            for call in list(run.sim.calls.calls.values())
            if call.run is run and call.state == 'ringing' and call.callee is not None]


def _alerts(run: Any) -> List[Finding]:
    found, seen = [], []
    for device in list(run.sim.devices.values()):
        for copy in device.notifications:
            sent = copy.sent
            if copy.type != 'alert' or sent.run is not run or sent in seen:
                continue
            seen.append(sent)
            if any(c.state == 'acknowledged' for c in sent.copies):
                continue
            waiting = [c.device.name for c in sent.copies if c.state == 'active']
            if waiting:
                found.append(Finding('alert', f'{" or ".join(waiting)} to acknowledge the alert '
                                              f'{sent.name!r} ("{sent.text}")', waiting[0],
                                     waiting[0], tuple(waiting)))
    return found


def _buttons(run: Any) -> List[Finding]:
    found = []
    for device in list(run.sim.devices.values()):
        fg = device.foreground
        if fg is None or fg.run is not run or fg.state != 'started':
            continue
        presses = [_TAPS_BY_INPUT[i] for i in fg.options.get('input_types', [])
                   if i in _TAPS_BY_INPUT]
        if presses:
            names = ', '.join(f'{b} {t}' for b, t in presses)
            found.append(Finding('buttons', f'a button press on {device.name}: the interaction '
                                            f'"{fg.name}" takes {names}', device.name,
                                 device.name, presses[0]))
    return found


def _unanswered(run: Any) -> List[Finding]:
    answered = {m.get('_id') for _, way, m in run.messages if way == 'sent' and '_id' in m}
    found = []
    for at, way, msg in run.messages:
        rid, mtype = msg.get('_id'), str(msg.get('_type', ''))
        if way == 'received' and rid and rid not in answered and mtype.endswith('_request') \
                and mtype != 'wf_api_terminate_request':
            name = mtype[len('wf_api_'):-len('_request')]
            found.append(Finding('request', f'the simulator to answer {name} (received at '
                                            f'{at:.3f} s; it is answered slowly)', name=name))
    return found


def _steps(run: Any, runner: Any) -> List[Finding]:
    if runner is None or runner.run is not run or runner.index >= len(runner.steps):
        return []
    step, label = runner.steps[runner.index], runner.labels[runner.index]
    more = len(runner.steps) - runner.index - 1
    after = f'; {more} more after it' if more else ''
    return [Finding('step', f'the scripted step {label} (step {runner.index + 1} of '
                            f'{len(runner.steps)}), which waits for {runner.awaiting()}{after}',
                    step.get('device'), label)]


def unplayed(run: Any, runner: Any = None) -> List[str]:
    """What was scripted for a run and never happened: its steps not run, and the
    answers queued for listens that never came.  Call it on the clock thread.

    Args:
        run: the :class:`~relaysync.simulator.Run`.
        runner: the scenario step runner that played steps for it, if any.

    Returns:
        Text lines, ``not run: <step> ...`` and ``not used: ...``; empty when
        everything scripted happened.
    """
    lines = []
    if runner is not None and runner.run is run and runner.index < len(runner.steps):
        waits = runner.awaiting()
        for n, label in enumerate(runner.pending()):
            lines.append(f'not run: {label}' + (f' (it waited for {waits})' if n == 0 else ''))
    for device in list(run.sim.devices.values()):
        for answer in device.answers:
            said = 'silence' if answer is None else quote(answer)
            lines.append(f'not used: the answer {said} queued on {device.name} (no listen '
                         f'took it)')
    return lines


def _timers(run: Any) -> List[Finding]:
    found = []
    timers = [('the timer', run.timer)] + [(f'the timer "{n}"', h) for n, h in run.timers.items()]
    for label, handle in timers:
        left = _seconds_left(run, handle)
        if left is not None:
            found.append(Finding('timer', f'{label} to fire in {left:.1f} s'))
    return found


def _last_message(run: Any, running: Optional[List[Busy]]) -> List[Finding]:
    if not run.messages:
        return [Finding('busy', 'the workflow to send its first request')]
    at, way, msg = run.messages[-1]
    if way == 'sent' and '_id' not in msg:
        events: List[str] = []  # the events sent since the workflow's last message
        for when, direction, earlier in reversed(run.messages):
            if direction != 'sent' or '_id' in earlier:
                break
            at, events = when, [event_name(earlier)] + events
        what = (f'the {events[0]} event' if len(events) == 1 else
                f'the events {", ".join(events[:-1])} and {events[-1]}')
        why = ('no handler is running, so it has none for them' if running == []
               else 'it has sent nothing since; does it handle them?')
        return [Finding('event', f'the workflow to react to {what} (sent from {at:.3f} s): '
                                 f'{why}')]
    mtype = str(msg.get('_type', '?'))
    if way == 'sent':
        mtype = mtype.replace('_response', '_request')
    name = mtype[len('wf_api_'):] if mtype.startswith('wf_api_') else mtype
    name = name[:-len('_request')] if name.endswith('_request') else name
    return [Finding('busy', f'the workflow, which has sent nothing since its {name} request at '
                            f'{at:.3f} s (is a handler still busy?)')]


def _uris(msg: Dict[str, Any]) -> List[str]:
    target = msg.get('_target')
    found = list(target.get('uris', [])) if isinstance(target, dict) else []
    found += [v for k, v in msg.items() if not k.startswith('_') and isinstance(v, str)]
    return [u for u in found if isinstance(u, str) and urns.is_relay_uri(u)]


def _unknown_targets(run: Any) -> List[Finding]:
    sim, found, seen = run.sim, [], set()
    for msg, _error in run.errors:
        for uri in _uris(msg):
            base = uri.partition('?')[0]
            group = urns.parse_group_name(base)
            if group is not None and sim.find_group(base) is None and group not in seen:
                seen.add(group)
                found.append(Finding('unknown_group', f'{msg.get("_type")} named the group '
                                                      f'"{group}", which the simulated account '
                                                      f'does not have', name=group))
            device = urns.parse_device_name(base)
            if group is None and device is not None and sim.find_device(base) is None \
                    and device not in seen and not urns.is_interaction_uri(base):
                seen.add(device)
                found.append(Finding('unknown_device', f'{msg.get("_type")} named the device '
                                                       f'"{device}", which the simulated account '
                                                       f'does not have', name=device))
    return found
