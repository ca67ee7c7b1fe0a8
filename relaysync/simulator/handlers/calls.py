"""Calls between virtual devices: ``call``, ``answer``, ``hangup``.

Event sequence (both sides' events go to the run that placed the call, each
with the ``source_uri`` of its own device; ``device_id``/``device_name``/``uri``
always describe the *other* party):

1. ``call`` is answered with ``{call_id}``; the caller gets
   ``wf_api_call_progressing_event`` (direction ``outbound``), the callee
   ``wf_api_call_received_event`` (direction ``inbound``), then the caller
   ``wf_api_call_ringing_event``.
2. The callee answers (the workflow's ``answer`` request, the device's
   ``answer_calls`` setting, or ``device.answer()``): both get
   ``wf_api_call_connected_event``.
3. Either side hangs up (``hangup`` request or ``device.hang_up()``): both get
   ``wf_api_call_disconnected_event`` (reason ``hangup``).  A call hung up or
   unanswered (``Simulator.ring_timeout``) before it connected ends with
   ``wf_api_call_failed_event`` (reason ``cancelled``, ``declined`` or
   ``no_answer``).

A callee URI that is not a Relay URN (a phone number, a SIP URI) cannot be
reached from the simulator: the call fails at once with reason ``unreachable``.
"""

import time
from typing import Any, Dict, List, Optional, Tuple

from ... import urns
from ..context import Refused, RequestContext
from ..transcript import quote as q
from .table import handles


class Call:
    """One call.  ``state`` is ``ringing``, ``connected`` or ``ended``."""

    def __init__(self, call_id: str, run: Any, caller: Any, callee: Any, uri: str) -> None:
        self.id = call_id
        self.run = run
        self.caller = caller
        self.callee = callee
        self.uri = uri
        self.state = 'ringing'
        self.start = int(time.time())
        self.connect: Optional[int] = None
        self.end: Optional[int] = None
        self.timer: Any = None

    def fields(self, me: Any, **extra: Any) -> Dict[str, Any]:
        """Event fields as seen from device ``me``."""
        other = self.callee if me is self.caller else self.caller
        fields: Dict[str, Any] = {
            'call_id': self.id,
            'direction': 'outbound' if me is self.caller else 'inbound',
            'device_id': other.id if other is not None else '',
            'device_name': other.name if other is not None else '',
            'uri': other.urn if other is not None else self.uri,
            'onnet': other is not None,
            'start_time_epoch': self.start,
            'source_uri': me.urn,
        }
        if self.connect is not None:
            fields['connect_time_epoch'] = self.connect
        if self.end is not None:
            fields['end_time_epoch'] = self.end
        fields.update(extra)
        return fields

    def parties(self) -> List[Any]:
        """The devices on the call (the callee is None for an outside number)."""
        return [d for d in (self.caller, self.callee) if d is not None]


class CallBook:
    """The calls of one simulator (clock thread only)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.calls: Dict[str, Call] = {}

    def _emit(self, call: Call, device: Any, event: str, **extra: Any) -> None:
        call.run.emit(event, **call.fields(device, **extra))

    def _note(self, device: Any, text: str, call: Call) -> None:
        self.sim.note(device.name, 'call', text, call.run.number)

    def ring(self, call: Call) -> None:
        """Step 1: the callee rings (or the call fails for an outside number)."""
        if call.callee is None:
            self._note(call.caller, f'call to {q(call.uri)} failed (unreachable)', call)
            self.end(call, 'unreachable')
            return
        self._note(call.caller, f'calling {call.callee.name}', call)
        self._note(call.callee, f'incoming call from {call.caller.name}', call)
        self._emit(call, call.caller, 'call_progressing')
        self._emit(call, call.callee, 'call_received')
        self._emit(call, call.caller, 'call_ringing')
        call.timer = call.run.later(self.sim.ring_timeout, lambda: self.end(call, 'no_answer'))
        if call.callee.answer_calls is not None:
            call.run.later(call.callee.answer_calls, lambda: self.connect(call))

    def connect(self, call: Call) -> bool:
        """Step 2: the callee answered."""
        if call.state != 'ringing':
            return False
        call.state, call.connect = 'connected', int(time.time())
        if call.timer is not None:
            call.timer.cancel()
        self._note(call.callee, f'answered the call from {call.caller.name}', call)
        self._emit(call, call.caller, 'call_connected')
        self._emit(call, call.callee, 'call_connected')
        return True

    def end(self, call: Call, reason: str, silent: bool = False) -> bool:
        """Step 3: the call is over (disconnected if it had connected, else failed)."""
        if call.state == 'ended':
            return False
        event = 'call_disconnected' if call.state == 'connected' else 'call_failed'
        call.state, call.end = 'ended', int(time.time())
        if call.timer is not None:
            call.timer.cancel()
        if silent:
            return True
        for device in call.parties():
            if event == 'call_disconnected':
                self._note(device, f'call ended ({reason})', call)
            self._emit(call, device, event, reason=reason)
        if event == 'call_failed' and call.callee is not None:
            self._note(call.caller, f'call to {call.callee.name} failed ({reason})', call)
        return True

    def _find(self, device: Any, call_id: Optional[str]) -> Optional[Call]:
        mine = [c for c in self.calls.values()
                if c.state != 'ended' and device in c.parties() and call_id in (None, c.id)]
        return mine[-1] if mine else None

    def answer_by_device(self, device: Any, call_id: Optional[str]) -> bool:
        """The person holding ``device`` answers its ringing incoming call."""
        call = self._find(device, call_id)
        return call is not None and call.callee is device and self.connect(call)

    def hang_up_by_device(self, device: Any, call_id: Optional[str]) -> bool:
        """The person holding ``device`` hangs up (or declines) its call."""
        call = self._find(device, call_id)
        if call is None:
            return False
        reason = 'hangup' if call.state == 'connected' else (
            'declined' if device is call.callee else 'cancelled')
        return self.end(call, reason)


@handles('call')
def place_call(ctx: RequestContext) -> None:
    """``wf_api_call_request {_target: caller, uri: callee}`` → ``{call_id}``."""
    caller = ctx.device_targets(single=True)[0]
    uri = ctx.field('uri')
    if not uri:
        raise Refused('call: field "uri" must not be empty')
    callee = None
    if urns.is_relay_uri(uri):
        callee = ctx.sim.find_device(uri)
        if callee is None:
            raise Refused(f'call: unknown device {uri}')
        if callee is caller:
            raise Refused('call: a device cannot call itself')
    book: CallBook = ctx.sim.calls
    call = Call(f'call_{ctx.sim.next_number("call")}', ctx.run, caller, callee, uri)
    book.calls[call.id] = call
    ctx.respond(call_id=call.id)
    ctx.then(lambda: book.ring(call))


def _call_for(ctx: RequestContext) -> Tuple[Any, Any]:
    device = ctx.device_targets(single=True)[0]
    call_id = ctx.field('call_id')
    call = ctx.sim.calls.calls.get(call_id)
    if call is None:
        raise Refused(f'{ctx.name}: unknown call {call_id!r}')
    if device not in call.parties():
        raise Refused(f'{ctx.name}: {device.name} is not part of call {call_id}')
    if call.state == 'ended':
        raise Refused(f'{ctx.name}: call {call_id} has already ended')
    return device, call


@handles('answer')
def answer(ctx: RequestContext) -> None:
    """``wf_api_answer_request {_target: callee, call_id}``."""
    device, call = _call_for(ctx)
    if device is not call.callee or call.state != 'ringing':
        raise Refused(f'answer: call {call.id} is not ringing on {device.name}')
    book = ctx.sim.calls
    ctx.then(lambda: book.connect(call))


@handles('hangup')
def hangup(ctx: RequestContext) -> None:
    """``wf_api_hangup_request {_target, call_id}``."""
    device, call = _call_for(ctx)
    book = ctx.sim.calls
    reason = 'hangup' if call.state == 'connected' else (
        'declined' if device is call.callee else 'cancelled')
    ctx.then(lambda: book.end(call, reason))


def end_all(run: Any) -> None:
    """End a finished run's calls without events."""
    for call in list(run.sim.calls.calls.values()):
        if call.run is run:
            run.sim.calls.end(call, 'workflow ended', silent=True)
