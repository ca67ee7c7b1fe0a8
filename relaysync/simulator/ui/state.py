"""What the simulator page shows, as JSON-ready dicts.

Everything here runs on the simulator's clock thread (the only thread that
touches the simulated state).  The page renders these dicts without knowing
the event or request types: a transcript entry is ``who``/``kind``/``text``
and a wire message is its ``_type`` and JSON, so new kinds show up as they are.
"""

import json
import time
from typing import Any, Dict

from ...codec import encode, redact
from ..devices import DEVICE_TYPES, INPUT_TYPES, TRIGGER_DEFAULTS
from ..explain import Finding, explain, hint
from ..device_events import EVENT_TYPES
from ..transcript import RELAY, WORKFLOW, Entry

#: Trigger types the page offers (any other can be typed in).
TRIGGER_TYPES = ('button', 'phrase', 'http', 'nfc', 'emergency', 'other', 'calendar',
                 'geofence', 'telephony')
#: How long (real seconds) a run must be silent before the page says what it waits for,
#: unless it certainly waits for a person (a listen, an alert, a call), shown at once.
QUIET = 1.0
_CERTAIN = ('listen', 'alert', 'call')
HEARD_KEPT = 8
NOTIFICATIONS_KEPT = 8
RUNS_KEPT = 20

_INPUT_NAMES = {value: f'{button} {taps}' for (button, taps), value in INPUT_TYPES.items()}


def entry_json(index: int, entry: Entry) -> Dict[str, Any]:
    """One transcript entry for the page.

    Args:
        index: its position in the simulator's transcript.
        entry: the :class:`~relaysync.simulator.Entry`.

    Returns:
        ``{i, time, who, kind, text, run, side, error}``: ``side`` is
        ``workflow`` (a request the workflow made), ``relay`` or ``device``;
        ``error`` is true for a refused request, a crash or an error entry.
    """
    side = 'workflow' if entry.who == WORKFLOW else 'relay' if entry.who == RELAY else 'device'
    # A refused request is noted as 'request ... => error "<text>"' (Run._refuse).
    error = entry.kind in ('error', 'crash') or (side == 'workflow' and ' => error "' in entry.text)
    return {'i': index, 'time': entry.time, 'who': entry.who, 'kind': entry.kind,
            'text': entry.text, 'run': entry.run, 'side': side, 'error': error}


def message_json(run_number: int, item: Any) -> Dict[str, Any]:
    """One wire message for the page: ``{run, time, way, type, json}`` (secrets redacted).

    Args:
        run_number: the run it belongs to.
        item: a ``(time, way, message)`` item of ``Run.messages``.
    """
    at, way, msg = item
    return {'run': run_number, 'time': round(at, 3), 'way': way,
            'type': str(msg.get('_type', '')), 'json': redact(encode(msg))}


def _device(sim: Any, device: Any) -> Dict[str, Any]:
    listening = device.listening
    calls = [c for c in sim.calls.calls.values() if c.state != 'ended' and device in c.parties()]
    return {
        'name': device.name, 'id': device.id, 'type': device.type, 'battery': device.battery,
        'address': device.address, 'latlong': device.latlong,
        'indoor_location': device.indoor_location, 'location_enabled': device.location_enabled,
        'username': device.username, 'channel': device.channel,
        'home_channel_enabled': device.home_channel_enabled,
        'led': ({'seq': len(device.leds), 'effect': device.led.effect, 'args': device.led.args}
                if device.led else None),
        'vibration': ({'seq': len(device.vibrations), 'pattern': device.vibrations[-1]}
                      if device.vibrations else None),
        'heard': [{'seq': i + 1, 'text': text} for i, text in enumerate(device.heard)
                  ][-HEARD_KEPT:],
        'played': device.played[-1] if device.played else None,
        'said': device.said[-1] if device.said else None,
        'listening': ({'run': listening.run.number, 'lang': listening.lang}
                      if listening is not None else None),
        'answers': ['(silence)' if a is None else a for a in device.answers],
        'interactions': [{'name': i.name, 'state': i.state, 'run': i.run.number,
                          'inputs': [_INPUT_NAMES.get(t, t)
                                     for t in i.options.get('input_types', [])]}
                         for i in device.interactions],
        'notifications': [{'index': index, 'type': n.type, 'name': n.name, 'text': n.text,
                           'from': sim.label(n.originator) if n.originator else None,
                           'state': n.state}
                          for index, n in enumerate(device.notifications)
                          ][-NOTIFICATIONS_KEPT:],
        'calls': [{'id': c.id, 'state': c.state,
                   'direction': 'outgoing' if c.caller is device else 'incoming',
                   'other': ((c.callee.name if c.callee is not None else c.uri)
                             if c.caller is device else c.caller.name)}
                  for c in calls],
        'groups': [g.name for g in sim.groups.values() if device in g.members],
        'subscriptions': [{'type': kind, 'event': EVENT_TYPES.get(kind, kind),
                           'runs': [r.number for r in runs if not r.done]}
                          for kind, runs in list(device.subscribers.items())
                          if any(not r.done for r in runs)],
    }


def _finding(finding: Finding) -> Dict[str, Any]:
    devices = list(finding.detail) if finding.kind == 'alert' else \
        [finding.device] if finding.device else []
    return {'kind': finding.kind, 'text': finding.text, 'devices': devices,
            'hint': hint(finding, 'page')}


def _run(run: Any, runner: Any = None) -> Dict[str, Any]:
    quiet = run.done or time.monotonic() - run.last_activity >= QUIET
    findings = [_finding(f) for f in explain(run, runner)
                if quiet or f.kind in _CERTAIN or f.kind.startswith('unknown')]
    return {
        'number': run.number, 'device': run.device.name, 'trigger': run.trigger,
        'outcome': run.outcome, 'done': run.done, 'vars': dict(run.vars),
        'started_at': round(run.started_at, 3),
        'ended_at': round(run.ended_at, 3) if run.ended_at is not None else None,
        'requests': len(run.requests),
        'errors': [error for _, error in run.errors],
        'crashes': list(run.crashes),
        'findings': findings,
    }


def snapshot(sim: Any, page: Dict[str, Any], runner: Any = None) -> Dict[str, Any]:
    """The state of the simulated account, for the page.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator`.
        page: what the page server adds: ``title``, ``controls``, ``start_vars``.
        runner: the step runner of the scenario being played, if any.

    Returns:
        ``{devices, groups, runs, incidents, trigger_types, trigger_defaults,
        device_types, ...page}``.
    """
    runs = sim.runs[-RUNS_KEPT:]
    latest = runs[-1] if runs else None
    return dict(page, **{
        'url': sim.url,
        'time_scale': sim.clock.time_scale,
        'devices': [_device(sim, d) for d in list(sim.devices.values())],
        'groups': [{'name': g.name, 'id': g.id, 'members': [m.name for m in g.members]}
                   for g in list(sim.groups.values())],
        'runs': [_run(r, runner if r is latest else None) for r in runs],
        'incidents': [{'id': i['incident_id'], 'type': i['type'], 'state': i['state'],
                       'reason': i['reason'], 'originator': sim.label(i['originator_uri'])}
                      for i in list(sim.incidents.values())],
        'trigger_types': list(TRIGGER_TYPES),
        'trigger_defaults': {k: v for k, v in TRIGGER_DEFAULTS.items()},
        'device_types': list(DEVICE_TYPES),
    })


def dumps(value: Any) -> str:
    """Compact JSON for the event stream (one line, so it fits one ``data:`` field)."""
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False, default=str)
