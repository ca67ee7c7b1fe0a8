"""``relaysync simulate PROGRAM --ui``: the run on the simulator page, for a person.

The page is served on 127.0.0.1 (``--ui-port``, default a free port), its
address printed and opened in the default browser (unless ``--no-browser``).
The workflow is triggered once the page has opened, so nothing happens
unseen, and speech is paced (``--pace``) so that effects can be watched.
The simulator then runs until the person presses Quit on the page, or
Ctrl-C (or ``--timeout`` seconds pass): each run's result is printed as it
ends, and Restart on the page restarts PROGRAM (so edits to it take effect)
and triggers the workflow again.
"""

import functools
import threading
import time
from typing import Any, Dict, List, Optional

from ..command import DIED, FAILED, OK, TIMEOUT, Printer, outcome, report, start_program
from ..explain import explain, unplayed
from ..program import Program
from ..scenario import Scenario
from ..simulator import Simulator
from ..transcript import RELAY, quote
from ..wsclient import HandshakeFailed


class _PageSession:
    """The state of one ``--ui`` session: the program, the runs reported, quitting."""

    def __init__(self, opts: Any, printer: Printer, scenario: Scenario, sim: Simulator,
                 program: Optional[Program]) -> None:
        self.opts = opts
        self.printer = printer
        self.scenario = scenario
        self.sim = sim
        self.program = program
        self.quit = threading.Event()
        self.reported: Dict[int, int] = {}  # run number -> exit code
        self.program_death_reported = False
        self.restarting = threading.Lock()

    def restart(self, start_vars: Dict[str, str]) -> None:
        """Restart from the page: stop the runs, restart PROGRAM, trigger again."""
        with self.restarting:
            self._restart(start_vars)

    def _restart(self, start_vars: Dict[str, str]) -> None:
        sim, printer = self.sim, self.printer
        for run in [r for r in sim.runs if not r.done]:
            sim.stop_run(run, 'restarted from the simulator page')
        sim.wait_for(lambda: all(r.done for r in sim.runs), 5.0)
        old = self.program
        if old is not None:
            old.stop()
            self.program = Program(old.path, old.port, python=old.python, on_line=old.on_line,
                                   on_traceback=old.on_traceback)
            printer.line(f'relaysync simulate: restarting {old.path} (PORT={old.port})')
            self.program_death_reported = False
            if start_program(self.program, printer, self.opts) is not None:
                tail = self.program.tail(1)
                why = f': {quote(tail[-1])}' if tail else ''
                sim.clock.call_soon(lambda: sim.note(
                    RELAY, 'error', f'the program did not start{why}; fix it and press Restart'))
                return
        self.scenario.trigger['vars'] = dict(start_vars)
        self.scenario.trigger_again(sim)

    def report_ended_runs(self) -> None:
        """Print the result of each run that has ended since the last call."""
        for run in list(self.sim.runs):
            if not run.done or run.number in self.reported:
                continue
            code, reason = outcome(run, self.program, self.opts.allow_errors)
            self.reported[run.number] = code
            label = f'result (run {run.number})'
            runner = self.scenario.runner
            for line in self.sim.clock.run_sync(functools.partial(unplayed, run, runner)):
                self.printer.line(line)  # told, though a person may have done it instead
            if code == OK:
                self.printer.line(f'{label}: OK - {reason} ({len(run.requests)} requests, '
                                  f'{len(run.errors)} refused)')
            else:
                findings = self.sim.clock.run_sync(functools.partial(explain, run))
                report(self.printer, code, reason, None, findings, run.device.name, label)

    def report_program_death(self) -> None:
        if not self.restarting.acquire(blocking=False):
            return  # the old program is being stopped on purpose
        try:
            program = self.program
            if program is None or program.returncode is None or self.program_death_reported:
                return
            self.program_death_reported = True
        finally:
            self.restarting.release()
        self.program_death_reported = True
        text = f'the program exited with code {program.returncode}; fix it and press Restart'
        report(self.printer, DIED, text, program, label='program')
        self.sim.clock.call_soon(lambda: self.sim.note(RELAY, 'error', text))


def serve_page(opts: Any, printer: Printer, scenario: Scenario, sim: Simulator,
               program: Optional[Program], timeout: Optional[float]) -> int:
    """Serve the simulator page and run the workflow from it until the person quits.

    Args:
        opts: the options of ``relaysync simulate`` (``ui_port``, ``no_browser``,
            ``allow_errors``, ``program``...).
        printer: where the transcript and the results are printed.
        scenario: the scenario (devices, trigger, steps) built from the options.
        sim: the simulator, connected to the workflow server.
        program: the workflow program it started, if any (restarted by Restart).
        timeout: real seconds after which the session ends by itself (None: never).

    Returns:
        The exit code of the latest run: 0 when it terminated cleanly; 1 when it
        failed or was still running when the person quit; 3 when ``timeout``
        passed with it still running; 4 when the program could not be reached.
    """
    session = _PageSession(opts, printer, scenario, sim, program)
    try:
        return _serve(session, timeout)
    finally:
        with session.restarting:  # a restart under way finishes first
            latest = session.program
        if latest is not None and latest is not program:
            latest.stop()  # the caller stops the program it started, not its successors


def _serve(session: _PageSession, timeout: Optional[float]) -> int:
    opts, printer, scenario, sim = session.opts, session.printer, session.scenario, session.sim
    title = opts.program or sim.url
    try:
        page = sim.serve_ui(opts.ui_port or 0, title=title, restart=session.restart,
                            quit=session.quit.set, start_vars=scenario.trigger.get('vars', {}),
                            runner=lambda: scenario.runner)
    except OSError as exc:
        printer.line(f'relaysync simulate: cannot serve the page on port {opts.ui_port}: {exc}')
        return DIED
    printer.line(f'relaysync simulate: the simulator page is {page.url} '
                 f'(Quit on the page or Ctrl-C stops)')
    if not opts.no_browser and not page.open_browser():
        printer.line('relaysync simulate: no browser to open here: open that address in one')
    deadline = None if timeout is None else time.monotonic() + timeout
    scenario.setup(sim)
    try:
        printer.line('relaysync simulate: the workflow starts when the page opens')
        while not page.wait_for_page(0.2):
            if _past(deadline):
                return _ending(session, TIMEOUT, f'--timeout ({timeout:g} s) passed with no '
                                                 f'page open')
            if session.quit.is_set():
                return _ending(session, FAILED, 'stopped')
        try:
            scenario.trigger_again(sim)
        except HandshakeFailed as exc:
            report(printer, DIED, str(exc), session.program)
            return DIED
        while not session.quit.is_set():
            sim.wait_for(lambda: session.quit.is_set() or any(
                r.done and r.number not in session.reported for r in sim.runs), 0.2)
            session.report_ended_runs()
            session.report_program_death()
            if _past(deadline):
                return _ending(session, TIMEOUT, f'--timeout ({timeout:g} s) passed')
        return _ending(session, FAILED, 'stopped from the page')
    except KeyboardInterrupt:
        return _ending(session, FAILED, 'interrupted (Ctrl-C)')


def _past(deadline: Optional[float]) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _ending(session: _PageSession, code: int, why: str) -> int:
    """The exit code when the session ends: the latest run's, or ``code`` when it
    is still running (or there was none)."""
    runs: List[Any] = session.sim.runs
    session.report_ended_runs()
    if runs and runs[-1].done:
        return session.reported.get(runs[-1].number, FAILED)
    what = 'before the workflow terminated' if runs else 'before the workflow was triggered'
    session.printer.line(f'result: FAILED (exit {code}) - {why} {what}')
    return code
