"""Interactions and speech: start/end_interaction, say, play, stop_playback, listen.

Behaviour modelled:

* ``start_interaction`` answers, then sends lifecycle ``started`` and
  ``resumed`` per device.  The new interaction comes to the foreground; the
  one it covers is ``suspended`` and is ``resumed`` when the new one ends.
* ``end_interaction`` answers, then sends lifecycle ``ended``.
* ``say``/``play`` answer with ``id`` (the request ``_id``), then the device
  hears it and prompt ``started`` and ``stopped`` follow, at once or, with
  pacing, after a time that grows with the text length.
* ``listen`` answers, then the device's next scripted answer (or a person
  typing/calling ``device.say``) produces the speech event; with no answer by
  the listen's ``timeout`` the device reports silence (empty text).
"""

import base64
from typing import Any, Dict, List, Optional
from urllib.parse import quote

from ..context import Refused, RequestContext, Target
from ..devices import INPUT_TYPES, Interaction
from ..transcript import quote as q
from .table import handles

HOME_CHANNEL = ('suspend', 'normal')


def interaction_urn(name: str, device: Any) -> str:
    """The URN the simulated server gives an interaction named ``name`` on ``device``:
    ``urn:relay-resource:name:interaction:<name>?device=<encoded device URN>``."""
    return (f'urn:relay-resource:name:interaction:{quote(name)}'
            f'?device={quote(device.urn, safe="")}')


# ------------------------------------------------------------ interactions
@handles('start_interaction')
def start_interaction(ctx: RequestContext) -> None:
    """``wf_api_start_interaction_request {_target, name, options}``."""
    devices = ctx.device_targets()
    name = ctx.field('name')
    if not name:
        raise Refused('start_interaction: field "name" must not be empty')
    options = ctx.field('options', default={})
    _check_options(options)
    run = ctx.run
    for device in devices:
        uri = interaction_urn(name, device)
        ctx.then(lambda d=device, u=uri: begin(run, d, u, name, options))


def _check_options(options: Dict[str, Any]) -> None:
    if 'color' in options and not isinstance(options['color'], str):
        raise Refused(f'start_interaction: options.color must be a string, '
                      f'got {options["color"]!r}')
    inputs = options.get('input_types', [])
    known = set(INPUT_TYPES.values())
    if not isinstance(inputs, list) or not all(i in known for i in inputs):
        raise Refused(f'start_interaction: options.input_types must be a list drawn from '
                      f'{", ".join(sorted(known))}; got {inputs!r}')
    home = options.get('home_channel', 'suspend')
    if home not in HOME_CHANNEL:
        raise Refused(f'start_interaction: options.home_channel must be suspend or normal, '
                      f'got {home!r}')


def begin(run: Any, device: Any, uri: str, name: str, options: Dict[str, Any]) -> None:
    """Create the interaction, bring it to the foreground and send its events."""
    sim = run.sim
    old = run.interactions.get(uri)
    if old is not None and old.active:
        finish(old, send_event=False)
    interaction = Interaction(uri, name, device, run, options)
    run.interactions[uri] = interaction
    covered = device.foreground
    if covered is not None and covered.state == 'started':
        covered.state = 'suspended'
        covered.run.emit('interaction_lifecycle', type='suspended', source_uri=covered.uri)
        sim.note(device.name, 'interaction', f'interaction {q(covered.name)} suspended',
                 covered.run.number)
    device.interactions.append(interaction)
    sim.note(device.name, 'interaction', f'interaction {q(name)} started', run.number)
    run.emit('interaction_lifecycle', type='started', source_uri=uri)
    run.emit('interaction_lifecycle', type='resumed', source_uri=uri)


@handles('end_interaction')
def end_interaction(ctx: RequestContext) -> None:
    """``wf_api_end_interaction_request {_target}`` (interaction URNs only)."""
    targets = ctx.targets(expand=False)
    for t in targets:
        if t.interaction is None:
            raise Refused(f'end_interaction: target must be an interaction uri, got {t.uri}')
    for t in targets:
        ctx.then(lambda i=t.interaction: finish(i))


def finish(interaction: Interaction, send_event: bool = True) -> None:
    """End an interaction; the one it covered (if any) comes back and is resumed."""
    if not interaction.active:
        return
    device, run, sim = interaction.device, interaction.run, interaction.run.sim
    was_foreground = device.foreground is interaction
    interaction.state = 'ended'
    if interaction in device.interactions:
        device.interactions.remove(interaction)
    listening = device.listening
    if listening is not None and listening.uri == interaction.uri:
        cancel_listen(device)
    for prompts in run.prompts.values():
        for prompt in prompts:
            if prompt.target.uri == interaction.uri and prompt.handle is not None:
                prompt.handle.cancel()
    if send_event:
        run.emit('interaction_lifecycle', type='ended', source_uri=interaction.uri)
        sim.note(device.name, 'interaction', f'interaction {q(interaction.name)} ended',
                 run.number)
    back = device.foreground
    if was_foreground and back is not None and back.state == 'suspended':
        back.state = 'started'
        if back.run.emit('interaction_lifecycle', type='resumed', source_uri=back.uri):
            sim.note(device.name, 'interaction', f'interaction {q(back.name)} resumed',
                     back.run.number)


def end_all(run: Any) -> None:
    """End every interaction of a finished run, without events."""
    for interaction in list(run.interactions.values()):
        finish(interaction, send_event=False)


# ------------------------------------------------------------------ speech
class Prompt:
    """One playback (say or play) on one target."""

    __slots__ = ('id', 'target', 'handle')

    def __init__(self, pid: str, target: Target) -> None:
        self.id = pid
        self.target = target
        self.handle: Any = None


@handles('say')
def say(ctx: RequestContext) -> None:
    """``wf_api_say_request {_target, text, lang}`` → ``{id}``, then prompt events."""
    targets = ctx.targets()
    text = ctx.field('text')
    ctx.field('lang', default='en-US')
    _playback(ctx, targets, text, None)


@handles('play')
def play(ctx: RequestContext) -> None:
    """``wf_api_play_request {_target, filename}`` → ``{id}``, then prompt events."""
    targets = ctx.targets()
    filename = ctx.field('filename')
    if not filename:
        raise Refused('play: field "filename" must not be empty')
    _playback(ctx, targets, None, filename)


def _playback(ctx: RequestContext, targets: List[Target], text: Optional[str],
              filename: Optional[str]) -> None:
    ctx.respond(id=ctx.request_id)
    run, pid = ctx.run, ctx.request_id
    for t in targets:
        ctx.then(lambda t=t: _start_prompt(run, pid, t, text, filename))


def _start_prompt(run: Any, pid: str, target: Target, text: Optional[str],
                  filename: Optional[str]) -> None:
    sim, device = run.sim, target.device
    if text is not None:
        device.heard.append(text)
        sim.note(device.name, 'heard', f'heard {q(text)}', run.number)
    else:
        device.played.append(filename)
        sim.note(device.name, 'played', f'played {q(filename)}', run.number)
    prompt = Prompt(pid, target)
    run.prompts.setdefault(pid, []).append(prompt)
    run.emit('prompt', type='started', id=pid, source_uri=target.uri)
    duration = sim.speech_seconds(text if text is not None else filename)
    if duration > 0:
        prompt.handle = run.later(duration, lambda: _stop_prompt(run, prompt))
    else:
        _stop_prompt(run, prompt)


def _stop_prompt(run: Any, prompt: Prompt) -> None:
    prompts = run.prompts.get(prompt.id, [])
    if prompt not in prompts:
        return
    prompts.remove(prompt)
    if not prompts:
        run.prompts.pop(prompt.id, None)
    if prompt.handle is not None:
        prompt.handle.cancel()
    run.emit('prompt', type='stopped', id=prompt.id, source_uri=prompt.target.uri)


@handles('stop_playback')
def stop_playback(ctx: RequestContext) -> None:
    """``wf_api_stop_playback_request {_target, ids}``: stop the named (or all)
    playbacks on the targets; each stopped one gets its prompt ``stopped``."""
    devices = ctx.device_targets()
    ids = ctx.field('ids', default=None)
    if ids is not None and not all(isinstance(i, str) for i in ids):
        raise Refused(f'stop_playback: ids must be strings, got {ids!r}')
    run = ctx.run
    chosen = [p for pid, prompts in run.prompts.items() if ids is None or pid in ids
              for p in prompts if p.target.device in devices]
    if chosen:
        ctx.note = f'stopped {len(chosen)} playback(s)'
    for prompt in chosen:
        ctx.then(lambda p=prompt: _stop_prompt(run, p))


# ------------------------------------------------------------------ listen
class Listen:
    """A listen in progress on a device."""

    __slots__ = ('run', 'request_id', 'uri', 'transcribe', 'lang', 'handle')

    def __init__(self, run: Any, request_id: str, uri: str, transcribe: bool, lang: str) -> None:
        self.run = run
        self.request_id = request_id
        self.uri = uri
        self.transcribe = transcribe
        self.lang = lang
        self.handle: Any = None


@handles('listen')
def listen(ctx: RequestContext) -> None:
    """``wf_api_listen_request {_target, phrases, transcribe, timeout, alt_lang}``;
    the answer comes later as ``wf_api_speech_event`` (``request_id`` = the ``_id``)."""
    targets = ctx.targets()
    if len(targets) != 1:
        raise Refused(f'listen: needs exactly one device to listen on, got {len(targets)}')
    phrases = ctx.field('phrases', default=[])
    if not all(isinstance(p, str) for p in phrases):
        raise Refused(f'listen: phrases must be strings, got {phrases!r}')
    transcribe = ctx.field('transcribe', default=True)
    timeout = ctx.field('timeout', default=60)
    if timeout <= 0:
        raise Refused(f'listen: timeout must be positive, got {timeout!r}')
    lang = ctx.field('alt_lang', default='en-US')
    run, target, rid = ctx.run, targets[0], ctx.request_id
    ctx.then(lambda: _start_listen(run, target, Listen(run, rid, target.uri, transcribe, lang),
                                   timeout))


def _start_listen(run: Any, target: Target, listening: Listen, timeout: float) -> None:
    sim, device = run.sim, target.device
    if device.listening is not None:
        cancel_listen(device)
    device.listening = listening
    sim.note(device.name, 'listen', f'listening (up to {timeout:g} s)', run.number)
    if device.answers:
        text = device.answers.pop(0)
        delay = sim.speech_seconds(text)
        listening.handle = run.later(delay, lambda: answer(device, text))
    else:
        listening.handle = run.later(timeout, lambda: answer(device, None, timed_out=True))


def answer(device: Any, text: Optional[str], timed_out: bool = False) -> bool:
    """Answer the listen in progress on ``device`` with ``text`` (None: silence).
    Returns False when nothing was listening."""
    listening = device.listening
    if listening is None:
        return False
    device.listening = None
    if listening.handle is not None:
        listening.handle.cancel()
    run, sim = listening.run, listening.run.sim
    device.said.append(text)
    if text is None:
        why = 'the listen timed out' if timed_out else 'silence'
        sim.note(device.name, 'speech', f'said nothing ({why})', run.number)
    else:
        sim.note(device.name, 'speech', f'said {q(text)}', run.number)
    fields: Dict[str, Any] = {'request_id': listening.request_id, 'source_uri': listening.uri}
    if listening.transcribe:
        fields['text'] = text or ''
        fields['lang'] = listening.lang
    else:
        fields['audio'] = base64.b64encode((text or '').encode('utf-8')).decode('ascii')
    run.emit('speech', **fields)
    return True


def cancel_listen(device: Any) -> None:
    """Drop the listen in progress on ``device`` without answering it."""
    listening = device.listening
    if listening is not None:
        device.listening = None
        if listening.handle is not None:
            listening.handle.cancel()
