"""``relaysync simulate``: run a workflow program against the simulator and
print what happens on the devices.

Exit codes: 0 the workflow terminated cleanly; 1 the workflow failed (a
request was refused, a handler raised, it closed the connection without
terminating, a scripted step never ran, or the user quit first); 2 usage
error (bad option, scenario or file, a step for an unknown device, a time
out of range); 3 still running at the timeout, or waiting for something
nothing will do (a listen no ``--say`` answers, an alert no ``--ack``
acknowledges...);
4 the program died, never listened, or refused the connection.  A failure
says what the workflow was waiting for and which option would move it on.

How the workflow path is chosen: ``--path``, else the first path literal of a
``.register(workflow, '/path')`` call in the program's source, else ``/``.
"""

import os
import subprocess
import threading
import time
from typing import Any, Callable, Dict, List, Optional, TextIO, Tuple

from .explain import WAITING, Finding, explain, unplayed
from .explain import report as explain_report
from .interactive import Interactive
from .program import Program, discover_path, free_port
from .run import CLOSED, STOPPED, TERMINATED, Run
from .scenario import (EVENT_ACTIONS, Scenario, ScenarioError, check_seconds,
                       parse_event_value)
from .simulator import Simulator
from .stacks import busy, program_code
from .transcript import WORKFLOW, Entry, format_entry
from .wsclient import HandshakeFailed

OK, FAILED, USAGE, TIMEOUT, DIED = 0, 1, 2, 3, 4
#: The --timeout when none is given (unless a person drives the devices).
DEFAULT_TIMEOUT = 30.0
#: Real seconds a workflow must have been silent before a run that nothing can
#: move on is reported (when no --timeout was given).
STUCK_AFTER = 2.0


class Printer:
    """Thread-safe line output for the transcript and messages.

    Args:
        out: the text stream written to (flushed after each line).
        times: print transcript entries with their simulated time (default True).
        requests: print the workflow's requests (entries of ``workflow``)
            (default True).

    Attributes:
        out: the stream.
        times: as given.
        requests: as given.
    """

    def __init__(self, out: TextIO, times: bool = True, requests: bool = True) -> None:
        self.out = out
        self.times = times
        self.requests = requests
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        """Print a line and flush.

        Args:
            text: the text; a newline is added (it may hold several lines).
        """
        with self._lock:
            self.out.write(text + '\n')
            self.out.flush()

    def entry(self, entry: Entry) -> None:
        """Print a transcript entry (usable as a :attr:`Simulator.listeners` entry).

        Args:
            entry: the entry; one of the workflow's requests is skipped unless
                :attr:`requests` is on.
        """
        if entry.who == WORKFLOW and not self.requests:
            return
        self.line(format_entry(entry, self.times))


# ------------------------------------------------------------ scenario
def _pairs(values: Optional[List[str]], what: str) -> Dict[str, str]:
    result = {}
    for value in values or []:
        key, sep, rest = value.partition('=')
        if not sep or not key:
            raise ScenarioError(f'{what} {value!r}: write KEY=VALUE')
        result[key] = rest
    return result


def _device_spec(spec: str) -> Dict[str, Any]:
    """``'Bob,battery=40,type=relay2,latlong=35.7;-78.6'`` → a scenario device."""
    name, *props = [p.strip() for p in spec.split(',')]
    device: Dict[str, Any] = {'name': name}
    for key, value in _pairs(props, f'--device {name}').items():
        try:
            if key == 'battery':
                device[key] = int(value)
            elif key == 'latlong':
                device[key] = [float(v) for v in value.replace('/', ';').split(';')]
            elif key == 'location_enabled':
                device[key] = value.lower() in ('true', 'yes', '1', 'on')
            elif key in ('ack_alerts', 'answer_calls'):
                device[key] = float(value)
            else:
                device[key] = value
        except ValueError:
            raise ScenarioError(f'--device {name}: bad value for {key}: {value!r}') from None
    return device


def _timed(spec: str, option: str, default: float) -> Tuple[str, float]:
    name, sep, seconds = spec.partition('@')
    try:
        value = float(seconds) if sep else default
    except ValueError:
        raise ScenarioError(f'{option} {spec!r}: write DEVICE or DEVICE@SECONDS') from None
    return name, check_seconds(value, f'{option} {spec!r}')


def _press_step(spec: str) -> Dict[str, Any]:
    """``[DEVICE:]BUTTON:TAPS[@SECONDS|@heard=TEXT]`` → a scenario step."""
    what, sep, when = spec.partition('@')
    parts = what.split(':')
    step: Dict[str, Any] = {}
    if len(parts) == 3 or (len(parts) == 2 and parts[0] not in ('action', 'channel')):
        step['device'] = parts.pop(0)
    step['press'] = ' '.join(parts)
    if sep:
        if when.startswith('heard='):
            step['after_heard'] = when[len('heard='):]
        else:
            try:
                step['at'] = float(when)
            except ValueError:
                raise ScenarioError(f'--press {spec!r}: after @ write seconds or heard=TEXT') \
                    from None
            check_seconds(step['at'], f'--press {spec!r}')
    return step


def _event_step(spec: str) -> Dict[str, Any]:
    """``[DEVICE:]KIND[=VALUE][@SECONDS]`` → a scenario step (a device event)."""
    step: Dict[str, Any] = {}
    base, at, when = spec.rpartition('@')
    text = spec
    if at and '=' not in when:
        try:
            delay = float(when)
        except ValueError:
            delay = None  # an @ inside the value
        if delay is not None:
            step['delay'] = check_seconds(delay, f'--event {spec!r}')
            text = base
    head, sep, value = text.partition('=')
    device, _, kind = head.rpartition(':')
    if kind not in EVENT_ACTIONS:
        raise ScenarioError(f'--event {spec!r}: KIND must be one of '
                            f'{", ".join(EVENT_ACTIONS)}')
    if device:
        step['device'] = device
    step[kind] = parse_event_value(kind, value, f'--event {spec!r}')
    return step


def _say_step(text: str) -> Dict[str, Any]:
    """``--say TEXT`` after a --press/--event/--resolve-incident: speak once that
    step is done (answering the listen in progress, or the next one)."""
    return {'say': text}


def _incident_step(spec: str) -> Dict[str, Any]:
    """``REASON[@SECONDS]`` → resolve the workflow's open incident, S seconds after
    it was opened."""
    reason, at, when = spec.rpartition('@')
    step: Dict[str, Any] = {'resolve_incident': spec}
    if at:
        try:
            delay = float(when)
        except ValueError:
            delay = None  # an @ inside the reason
        if delay is not None:
            step = {'resolve_incident': reason, 'delay': check_seconds(
                delay, f'--resolve-incident {spec!r}')}
    if not step['resolve_incident'].strip():
        raise ScenarioError(f'--resolve-incident {spec!r}: give a REASON')
    return step


#: The options that make scripted steps, played in the order given: dest ->
#: (option, step maker).
STEP_OPTIONS = {'press': ('--press', _press_step), 'event': ('--event', _event_step),
                'say': ('--say', _say_step),
                'resolve_incident': ('--resolve-incident', _incident_step)}


def _ordered(opts: Any) -> List[Tuple[str, str]]:
    """The step options as given, in command-line order: ``[(dest, value)...]``."""
    order = getattr(opts, 'in_order', None)
    if order is not None:
        return list(order)
    return [(dest, value) for dest in STEP_OPTIONS for value in getattr(opts, dest, None) or []]


def build_scenario(opts: Any) -> Scenario:
    """The scenario file (if any) with the command-line options laid over it.

    Devices named by ``--trigger``, ``--ack``, ``--answer-calls`` and
    ``--group`` are added when new; with no device at all, ``Alice`` triggers.
    ``--press``, ``--event``, ``--resolve-incident`` and ``--say`` play in the
    order given, after the scenario file's steps: a ``--say`` before them all
    answers the next listens; one after them is said once the step before it
    is done.  A step naming a device nothing declared is an error.

    Args:
        opts: the parsed options of ``relaysync simulate`` (the namespace made
            by :func:`relaysync.cli.build_parser`).

    Returns:
        The validated :class:`~relaysync.simulator.Scenario`; its ``labels``
        name each step by its option (``--press action:single``).

    Raises:
        ScenarioError: a bad file or option value, or a step for an unknown device.
    """
    data: Dict[str, Any] = {}
    labels: List[str] = []
    if opts.scenario:
        base = Scenario.load(opts.scenario)
        data = {'devices': base.devices, 'groups': base.groups, 'trigger': base.trigger,
                'steps': base.steps, 'options': base.options}
        labels = [f'{label} of {opts.scenario}' for label in base.labels]
    devices: List[Dict[str, Any]] = list(data.get('devices', []))
    by_name = {d['name']: d for d in devices}
    for spec in opts.device or []:
        device = _device_spec(spec)
        if device['name'] in by_name:
            by_name[device['name']].update(device)
        else:
            devices.append(device)
            by_name[device['name']] = device
    trigger = dict(data.get('trigger', {}))
    if opts.trigger:
        trigger['device'] = opts.trigger
    if not devices and not trigger.get('device'):
        devices.append({'name': 'Alice'})
        by_name['Alice'] = devices[0]
    trigger_name = trigger.get('device') or devices[0]['name']
    if trigger_name not in by_name:
        by_name[trigger_name] = {'name': trigger_name}
        devices.append(by_name[trigger_name])
    if opts.trigger_type:
        trigger['type'] = opts.trigger_type
    if opts.arg:
        trigger['args'] = dict(trigger.get('args', {}), **_pairs(opts.arg, '--arg'))
    if opts.var:
        trigger['vars'] = dict(trigger.get('vars', {}), **_pairs(opts.var, '--var'))
    for option, key, specs in (('--ack', 'ack_alerts', opts.ack),
                               ('--answer-calls', 'answer_calls', opts.answer_calls)):
        for spec in specs or []:
            name, seconds = _timed(spec, option, 1.0)
            if name not in by_name:
                by_name[name] = {'name': name}
                devices.append(by_name[name])
            by_name[name][key] = seconds
    groups = dict(data.get('groups', {}))
    for name, members in _pairs(opts.group, '--group').items():
        groups[name] = [m.strip() for m in members.split(',') if m.strip()]
    for members in groups.values():
        for member in members:
            if member not in by_name:
                by_name[member] = {'name': member}
                devices.append(by_name[member])
    steps = list(data.get('steps', []))
    labels = labels[:len(steps)]
    says: List[str] = []
    for dest, value in _ordered(opts):
        option, make = STEP_OPTIONS[dest]
        if dest == 'say' and len(steps) == len(data.get('steps', [])):
            says.append(value)  # before any step: an answer for the next listen
            continue
        steps.append(make(value))
        labels.append(f'{option} {value}')
    if says:
        by_name[trigger_name]['says'] = list(by_name[trigger_name].get('says', [])) + says
    for step, label in zip(steps, labels):
        for key in ('device', 'heard_by'):
            if key in step and step[key] not in by_name:
                known = ', '.join(sorted(by_name))
                raise ScenarioError(f'{label}: no device named {step[key]!r} (the devices are '
                                    f'{known}; add it with --device {step[key]})')
    options = dict(data.get('options', {}))
    for key in ('time_scale', 'timeout'):
        if getattr(opts, key) is not None:
            options[key] = getattr(opts, key)
    if opts.pace:
        options['pace'] = True
    if opts.slow:
        slow: Dict[str, Any] = dict(options.get('slow', {}))
        for name, text in _pairs(opts.slow, '--slow').items():
            try:
                slow[name] = float(text)
            except ValueError:
                raise ScenarioError(f'--slow {name}: seconds must be a number') from None
        options['slow'] = slow
    return Scenario({'devices': devices, 'groups': groups, 'trigger': trigger, 'steps': steps,
                     'options': options}, labels)


# ------------------------------------------------------------- running
def simulate(opts: Any, stdin: TextIO, out: TextIO,
             page: Optional[Callable[..., int]] = None) -> int:
    """Carry out ``relaysync simulate``: start the program (or connect to
    ``--url``), run the scenario, print the transcript and the result.

    With ``--ui`` the run is shown on the simulator page, which a person
    uses until they quit (``page``).  The simulator and the program are
    always stopped before it returns.

    Args:
        opts: the parsed options of ``relaysync simulate`` (the namespace made
            by :func:`relaysync.cli.build_parser`).
        stdin: where ``--interactive`` commands are read.
        out: where the transcript and the result are printed.
        page: what serves the page for ``--ui``:
            :func:`relaysync.simulator.ui.cli.serve_page` (``relaysync.cli``
            passes it; this module does not import the page, which imports it).

    Returns:
        The exit code: 0 the workflow terminated cleanly; 1 it failed; 2 a
        usage error; 3 still running at the timeout, or waiting for what
        nothing will do; 4 the program died, never listened, or refused the
        connection.

    Raises:
        OSError: the program could not be started (e.g. no such ``--python``).
        ValueError: a scenario option the simulator rejects (e.g. a
            ``time_scale`` of 0 in the scenario file).
    """
    printer = Printer(out, times=not opts.no_times, requests=not opts.no_requests)
    try:
        scenario = build_scenario(opts)
    except ScenarioError as exc:
        printer.line(f'relaysync simulate: {exc}')
        return USAGE
    # A person at a terminal or at the page has no time limit unless asked for one;
    # with no --timeout, a run that nothing can move on is reported at once.
    if opts.ui:  # a person watching: speech takes its time, so effects can be seen
        scenario.options.setdefault('pace', True)
    person = bool(opts.ui) or (opts.interactive and _isatty(stdin))
    timeout = scenario.options.get('timeout', None if person else DEFAULT_TIMEOUT)
    watch = 'timeout' not in scenario.options and not opts.ui
    sim_holder: List[Simulator] = []

    def on_traceback(text: str) -> None:
        if sim_holder:
            sim_holder[0].report_crash(text)

    def on_line(stream: str, line: str) -> None:
        if opts.show_output:
            printer.line(f'{"":8}  program   {line}' if printer.times else f'program: {line}')

    program: Optional[Program] = None
    sim: Optional[Simulator] = None
    findings: List[Finding] = []
    leftover: List[str] = []
    program_shown: Optional[Program] = None  # the program whose output a failure shows
    started = time.monotonic()
    try:
        if opts.url:
            url = opts.url
            if opts.path:
                url = url.rstrip('/') + '/' + opts.path.lstrip('/')
            printer.line(f'relaysync simulate: connecting to {url}')
        else:
            if not opts.program:
                printer.line('relaysync simulate: give a PROGRAM to run or --url of a running '
                             'server')
                return USAGE
            if not os.path.isfile(opts.program):
                printer.line(f'relaysync simulate: no such file: {opts.program}')
                return USAGE
            path, note = _choose_path(opts)
            program = Program(opts.program, free_port(), python=opts.python, on_line=on_line,
                              on_traceback=on_traceback)
            printer.line(f'relaysync simulate: {opts.program} (PORT={program.port}, path '
                         f'{path}{note})')
            failed = start_program(program, printer, opts)
            if failed is not None:
                return failed
            url = f'ws://127.0.0.1:{program.port}{path}'
            program_shown = program
        sim = Simulator(url, **scenario.simulator_options())
        sim_holder.append(sim)
        sim.listeners.append(printer.entry)
        if opts.ui:
            if page is None:
                raise ValueError('--ui needs the page: pass page=relaysync.simulator.ui.cli.'
                                 'serve_page')
            return page(opts, printer, scenario, sim, program, timeout)
        started = time.monotonic()
        session = None
        scenario.setup(sim)
        if opts.interactive:
            you = sim.device(scenario.trigger.get('device') or scenario.devices[0]['name'])
            session = Interactive(sim, you, printer.line, wait_limit=timeout)
            printer.line(f'interactive: you are {you.name}; type "help" for the commands')
        try:
            run = scenario.trigger_again(sim)
        except HandshakeFailed as exc:
            hint = ' (is the path right? see --path)' if exc.status == 404 else ''
            report(printer, DIED, f'{exc}{hint}', program)
            return DIED
        if session is not None:
            session.read_from(stdin, announce_end=_isatty(stdin))
        try:
            code, reason = _wait(run, program, session, timeout, opts.allow_errors, watch)
        except KeyboardInterrupt:
            code, reason = FAILED, 'interrupted (Ctrl-C) before the workflow terminated'
        elapsed = time.monotonic() - started
        leftover = sim.clock.run_sync(lambda: unplayed(run, scenario.runner))
        if code == OK and leftover:  # the workflow is fine: its output would not help
            code, reason = FAILED, f'the workflow terminated, but {_not_done(leftover)}'
            program_shown = None
        if code != OK:
            running = None
            if code == TIMEOUT and program is not None:
                threads = program.stacks()
                running = busy(threads, program_code(program.path)) if threads else None
            findings = sim.clock.run_sync(lambda: explain(run, scenario.runner, running))
            if run.crashes and code == FAILED:  # the handler died: only what it lacked helps
                findings = [f for f in findings if f.kind not in WAITING]
    finally:
        if sim is not None:
            sim.close('stopped')
        if program is not None:
            program.stop()
    if code == OK:
        printer.line(f'result: OK - {reason} after {elapsed:.2f} s ({len(run.requests)} '
                     f'requests, {len(run.errors)} refused)')
    else:
        if run.crashes and program is None:
            printer.line(run.crashes[-1])
        report(printer, code, reason, program_shown, findings, run.device.name,
               leftover=leftover)
    return code


def _not_done(leftover: List[str]) -> str:
    """``'2 scripted steps never ran'`` (and/or answers never used), from the
    lines of :func:`~relaysync.simulator.explain.unplayed`."""
    steps = sum(line.startswith('not run:') for line in leftover)
    answers = len(leftover) - steps
    parts = []
    if steps:
        parts.append(f'{steps} scripted step{"s" if steps > 1 else ""} never ran')
    if answers:
        parts.append(f'{answers} answer{"s" if answers > 1 else ""} for a listen '
                     f'{"were" if answers > 1 else "was"} never used')
    return ' and '.join(parts)


def start_program(program: Program, printer: Printer, opts: Any) -> Optional[int]:
    """Start the workflow program and wait until it listens.

    Args:
        program: the :class:`~relaysync.simulator.program.Program`, not started.
        printer: where a failure is reported (with the program's last output).
        opts: the options (``python``, ``startup_timeout``).

    Returns:
        None once it listens; else the exit code (4), the failure reported
        and the program stopped.
    """
    try:
        program.start()
    except OSError as exc:
        printer.line(f'result: the program could not be started with {opts.python}: {exc}')
        return DIED
    if not program.wait_listening(opts.startup_timeout):
        code = program.returncode
        program.stop()
        why = (f'the program exited with code {code} before listening'
               if code is not None else
               f'the program did not listen on port {program.port} within '
               f'{opts.startup_timeout:g} s')
        report(printer, DIED, why, program)
        return DIED
    return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _choose_path(opts: Any) -> Tuple[str, str]:
    if opts.path:
        return '/' + opts.path.strip('/'), ''
    try:
        with open(opts.program, encoding='utf-8', errors='replace') as f:
            path, paths = discover_path(f.read())
    except OSError:
        path, paths = None, []
    if path is None:
        return '/', '; none found in the source, use --path'
    if len(paths) > 1:
        return path, f'; the source also registers {", ".join(paths[1:])}, choose with --path'
    return path, ''


def _stuck(run: Run, deadline: Optional[float]) -> bool:
    """Nothing will move the run on: the workflow has been silent a while and the
    simulator has nothing to do (no timer, listen timeout, scripted step...)
    before the deadline."""
    if time.monotonic() - run.last_activity < STUCK_AFTER:
        return False
    due = run.sim.clock.next_due()
    return due is None or (deadline is not None and due > deadline)


def _wait(run: Run, program: Optional[Program], session: Optional[Interactive],
          timeout: Optional[float], allow_errors: bool, watch: bool = False) -> Tuple[int, str]:
    deadline = None if timeout is None else time.monotonic() + timeout
    sim = run.sim
    quit_requested = session.quit_requested if session is not None else threading.Event()
    while True:
        sim.wait_for(lambda: run.done or quit_requested.is_set(), 0.1)
        if run.done:
            break
        if quit_requested.is_set():
            return FAILED, 'stopped by the user (quit) before the workflow terminated'
        if program is not None and program.returncode is not None:
            sim.wait_for(lambda: run.done, 1.0)
            return DIED, f'the program exited with code {program.returncode} while the ' \
                         f'workflow was running'
        if run.crashes and time.monotonic() - run.last_activity >= 1.0:
            last = run.crashes[-1].strip().splitlines()[-1]
            return FAILED, f'a workflow handler raised ({last}) and the workflow stopped ' \
                           f'making progress'
        if deadline is not None and time.monotonic() >= deadline:
            return TIMEOUT, f'the workflow was still running after {timeout:g} s (--timeout)'
        if watch and (session is None or session.eof.is_set()) and _stuck(run, deadline):
            limit = f' within the {timeout:g} s timeout' if timeout is not None else ''
            return TIMEOUT, (f'the workflow is waiting, and nothing will move it on{limit} '
                             f'(--timeout S waits anyway)')
    return outcome(run, program, allow_errors)


def outcome(run: Run, program: Optional[Program], allow_errors: bool) -> Tuple[int, str]:
    """The exit code and reason for a run that has ended.

    Args:
        run: the finished :class:`~relaysync.simulator.Run`.
        program: the workflow program, if the simulator started one.
        allow_errors: a run whose requests were refused still counts as OK.

    Returns:
        ``(code, reason)``: OK when it terminated cleanly; FAILED when it
        terminated with refused requests or closed without terminating;
        DIED when the program died.
    """
    if run.outcome == TERMINATED:
        if run.errors and not allow_errors:
            return FAILED, (f'the workflow terminated, but {len(run.errors)} request(s) were '
                            f'refused; first: {run.errors[0][1]}')
        return OK, 'the workflow terminated'
    if program is not None and program.process is not None and run.close_code == 1006:
        try:  # an abnormal close: did the program die?
            program.process.wait(1.0)
        except subprocess.TimeoutExpired:
            pass
        if program.returncode is not None:
            return DIED, f'the program exited with code {program.returncode}'
    if run.outcome == CLOSED:
        return FAILED, (f'the workflow closed the connection without terminating '
                        f'(code {run.close_code})')
    if run.outcome == STOPPED:
        return FAILED, f'the simulator stopped the workflow ({run.stop_reason})'
    return FAILED, f'the run ended: {run.outcome}'


def report(printer: Printer, code: int, reason: str, program: Optional[Program],
           findings: Optional[List[Finding]] = None, trigger: Optional[str] = None,
           label: str = 'result', leftover: Optional[List[str]] = None) -> None:
    """Print a failure: the program's last output, what the run waited for, what
    was scripted and did not happen, the result.

    Args:
        printer: where to print.
        code: the exit code.
        reason: why it failed.
        program: the workflow program, if any (its last output is shown).
        findings: what :func:`~relaysync.simulator.explain.explain` found.
        trigger: the name of the triggering device (for the hints).
        label: how the result line starts (default ``result``).
        leftover: the ``not run`` / ``not used`` lines of
            :func:`~relaysync.simulator.explain.unplayed`.
    """
    if program is not None:
        tail = program.tail(20)
        if tail:
            printer.line('last lines of the program output:')
            for line in tail:
                printer.line(f'  | {line}')
    for line in explain_report(findings or [], 'cli', trigger) + list(leftover or []):
        printer.line(line)
    printer.line(f'{label}: FAILED (exit {code}) - {reason}')
