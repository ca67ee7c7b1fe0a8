"""Requests about the workflow instance itself: variables, timers, translate,
analytics and SMS (none of them has a ``_target``).

* Variables live as long as the run; they start from the trigger's ``vars``
  (the registration ``args``) and are strings.
* ``start_timer`` starts the one unnamed timer, which sends
  ``wf_api_timer_event`` every ``timeout`` seconds until ``stop_timer``.
* ``set_timer`` starts a named timer: ``timeout`` fires
  ``wf_api_timer_fired_event {name}`` once, ``interval`` repeatedly, until
  ``clear_timer``.  Durations are simulated time (see ``time_scale``).
* ``translate`` answers from the scripted translations, else marks the text
  with the target language (``"[es-ES] hello"``).
"""

from typing import Any

from ..context import Refused, RequestContext
from ..transcript import RELAY
from ..transcript import quote as q
from .table import handles

TIMER_TYPES = ('timeout', 'interval')
UNITS = {'ms': 0.001, 'secs': 1.0, 'mins': 60.0, 'hrs': 3600.0}


# ------------------------------------------------------------------ vars
@handles('get_var')
def get_var(ctx: RequestContext) -> None:
    """``wf_api_get_var_request {name}`` → ``{name, value}``, no ``value`` when unset."""
    name = ctx.field('name')
    ctx.respond(name=name)
    if name in ctx.run.vars:
        ctx.respond(value=ctx.run.vars[name])


@handles('set_var')
def set_var(ctx: RequestContext) -> None:
    """``wf_api_set_var_request {name, value}`` → ``{name, value, type: "string"}``."""
    name = ctx.field('name')
    value = ctx.field('value', str)
    if not name:
        raise Refused('set_var: field "name" must not be empty')
    ctx.run.vars[name] = value
    ctx.respond(name=name, value=value, type='string')


@handles('unset_var')
def unset_var(ctx: RequestContext) -> None:
    """``wf_api_unset_var_request {name}``."""
    name = ctx.field('name')
    ctx.run.vars.pop(name, None)


# ---------------------------------------------------------------- timers
@handles('start_timer')
def start_timer(ctx: RequestContext) -> None:
    """``wf_api_start_timer_request {timeout}`` (seconds; replaces a running one)."""
    timeout = ctx.field('timeout', default=60)
    if timeout <= 0:
        raise Refused(f'start_timer: timeout must be positive, got {timeout!r}')
    run = ctx.run
    if run.timer is not None:
        run.timer.cancel()

    def tick() -> None:
        run.timer = run.later(timeout, tick)
        run.sim.note(RELAY, 'timer', 'timer fired', run.number)
        run.emit('timer')
    run.timer = run.later(timeout, tick)


@handles('stop_timer')
def stop_timer(ctx: RequestContext) -> None:
    """``wf_api_stop_timer_request``: stop the unnamed timer (no error if none)."""
    run = ctx.run
    if run.timer is not None:
        run.timer.cancel()
        run.timer = None
    else:
        ctx.note = 'no timer was running'


@handles('set_timer')
def set_timer(ctx: RequestContext) -> None:
    """``wf_api_set_timer_request {type, name, timeout, timeout_type}``."""
    kind = ctx.field('type', default='timeout', choices=TIMER_TYPES)
    name = ctx.field('name')
    timeout = ctx.field('timeout', default=60)
    unit = ctx.field('timeout_type', default='secs', choices=tuple(UNITS))
    if not name:
        raise Refused('set_timer: field "name" must not be empty')
    if timeout <= 0:
        raise Refused(f'set_timer: timeout must be positive, got {timeout!r}')
    seconds = timeout * UNITS[unit]
    run = ctx.run
    old = run.timers.pop(name, None)
    if old is not None:
        old.cancel()

    def fire() -> None:
        if kind == 'interval':
            run.timers[name] = run.later(seconds, fire)
        else:
            run.timers.pop(name, None)
        run.sim.note(RELAY, 'timer', f'timer {q(name)} fired', run.number)
        run.emit('timer_fired', name=name)
    run.timers[name] = run.later(seconds, fire)


@handles('clear_timer')
def clear_timer(ctx: RequestContext) -> None:
    """``wf_api_clear_timer_request {name}`` (no error if it is not running)."""
    name = ctx.field('name')
    handle = ctx.run.timers.pop(name, None)
    if handle is not None:
        handle.cancel()
    else:
        ctx.note = 'no such timer was running'


def stop_timers(run: Any) -> None:
    """Cancel every timer of a finished run."""
    if run.timer is not None:
        run.timer.cancel()
        run.timer = None
    for handle in run.timers.values():
        handle.cancel()
    run.timers.clear()


# ------------------------------------------------------------ misc
@handles('translate')
def translate(ctx: RequestContext) -> None:
    """``wf_api_translate_request {text, from_lang, to_lang}`` → ``{text}``."""
    text = ctx.field('text')
    ctx.field('from_lang', default='en-US')
    to_lang = ctx.field('to_lang', default='es-ES')
    table = ctx.sim.translations.get(to_lang, {})
    ctx.respond(text=table.get(text, f'[{to_lang}] {text}'))


@handles('log_analytics_event')
def log_analytics_event(ctx: RequestContext) -> None:
    """``wf_api_log_analytics_event_request {content, content_type, category,
    device_uri}``: appended to ``Simulator.analytics``."""
    category = ctx.field('category', default='default')
    ctx.field('content_type', default='text/plain')
    if 'content' not in ctx.msg and 'analytics_content' not in ctx.msg:
        raise Refused('log_analytics_event: missing required field "content"')
    device_uri = ctx.field('device_uri', default=None)
    if device_uri is not None and ctx.sim.find_device(device_uri) is None:
        raise Refused(f'log_analytics_event: unknown device {device_uri}')
    record = {k: v for k, v in ctx.msg.items() if not k.startswith('_')}
    record['category'] = category
    ctx.sim.analytics.append(record)


@handles('sms')
def sms(ctx: RequestContext) -> None:
    """``wf_api_sms_request {type, text, uri}`` → ``{message_id}``; recorded in
    ``Simulator.sms`` (no delivery is simulated, so no sms events follow)."""
    stype = ctx.field('type')
    text = ctx.field('text')
    uri = ctx.field('uri')
    message_id = f'sms_{ctx.sim.next_number("sms")}'
    ctx.sim.sms.append({'message_id': message_id, 'type': stype, 'text': text, 'uri': uri})
    ctx.respond(message_id=message_id)
