"""The ``relaysync`` command line.

``relaysync simulate PROGRAM`` runs a workflow program against the Relay
simulator and prints what happens on the virtual devices; see
``relaysync simulate --help``.
"""

import argparse
import math
import signal
import sys
import threading
from typing import Any, Callable, List, Optional, Sequence, TextIO, Union

from .version import __version__

_MAX_SECONDS = 86400.0  # the simulator's longest time (relaysync.simulator.scenario.MAX_SECONDS)

DESCRIPTION = '''\
Run a workflow program with no device and no account: relaysync starts
PROGRAM with PORT set to a free port, connects to it as the Relay server,
triggers the workflow from a virtual device and prints what each device
heard and saw, and every request the workflow made.

With --ui the devices are drawn on a web page (LED ring, speech, alerts,
calls) where you press their buttons, answer listens, acknowledge alerts and
send the device events a workflow subscribed to.

exit codes: 0 terminated cleanly, 1 workflow failed (or a scripted step
never ran), 2 usage error, 3 timeout (or waiting for something nothing will
do), 4 the program died or could not be reached.'''

EPILOG = '''\
examples:
  relaysync simulate samples/hello_world_wf.py
  relaysync simulate samples/listen_wf.py --say "Bob"
  relaysync simulate samples/buttons_wf.py --press "action:single@heard=tap" \\
      --press "action:triple@heard=you tapped once"
  relaysync simulate samples/notification_wf.py --group team=Bob,Carol --ack Bob@2
  relaysync simulate samples/nfc_wf.py --event nfc_tap=04A2B3C4 --event nfc_tap=04A2B3C4@2
  relaysync simulate my_wf.py --press action:single --event nfc_tap=04A2 --say yes \\
      --resolve-incident "help arrived@5"
  relaysync simulate my_wf.py --scenario scenario.json --time-scale 0.1
  relaysync simulate my_wf.py --interactive
  relaysync simulate samples/buttons_wf.py --ui

--press, --event, --resolve-incident and --say act in the order given, each
once the one before it is done (a --say given before them all answers the
next listen, whenever it comes).  A step that never ran fails the run (exit
1), and a step for a device no option declares is a usage error.

A scenario file is JSON with "devices", "groups", "trigger", "steps" and
"options"; the module relaysync.simulator.scenario documents the format.'''


class _InOrder(argparse.Action):
    """Appends like ``action='append'``, and also records ``(dest, value)`` in
    ``in_order``, so options that make steps keep their command-line order."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Union[str, Sequence[Any], None], option_string: Optional[str] = None
                 ) -> None:
        setattr(namespace, self.dest, list(getattr(namespace, self.dest, None) or []) + [values])
        order = list(getattr(namespace, 'in_order', None) or [])
        namespace.in_order = order + [(self.dest, values)]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``relaysync`` command.

    Returns:
        The parser, with the ``simulate`` sub-command and all its options.
    """
    parser = argparse.ArgumentParser(prog='relaysync', description='relaysync tools.')
    parser.add_argument('--version', action='version', version=f'relaysync {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    sim = commands.add_parser('simulate', help='run a workflow against the Relay simulator',
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument('program', nargs='?', metavar='PROGRAM',
                     help='the workflow program (a Python file) to run')
    where = sim.add_argument_group('where the workflow is')
    where.add_argument('--path', help='the workflow path (default: the path the program '
                                      'registers in its source, else /)')
    where.add_argument('--url', help='connect to an already running workflow server '
                                     '(ws://host:port/path) instead of starting PROGRAM')
    where.add_argument('--python', default=sys.executable,
                       help='the Python interpreter that runs PROGRAM (default: this one)')
    where.add_argument('--startup-timeout', type=float, default=20.0, metavar='S',
                       help='seconds PROGRAM has to start listening (default 20)')
    who = sim.add_argument_group('devices and what they do')
    who.add_argument('--scenario', metavar='FILE', help='a scenario file (JSON): devices, '
                     'groups, trigger, scripted steps, options; options below override it')
    who.add_argument('--device', action='append', metavar='NAME[,KEY=VALUE...]',
                     help='a virtual device, e.g. "Bob,battery=40,type=relay2,'
                          'latlong=35.7;-78.6" (repeatable; the first one triggers)')
    who.add_argument('--trigger', metavar='DEVICE', help='the device that triggers the workflow')
    who.add_argument('--trigger-type', metavar='TYPE',
                     help='button (default), phrase, http, nfc, emergency, ...')
    who.add_argument('--arg', action='append', metavar='KEY=VALUE',
                     help='a trigger arg, e.g. phrase=hello or spillover=now (repeatable)')
    who.add_argument('--var', action='append', metavar='KEY=VALUE',
                     help='an instance variable the workflow starts with (repeatable)')
    who.add_argument('--say', action=_InOrder, metavar='TEXT',
                     help='what the triggering device says at the next listen (repeatable, '
                          'in order; after a --press or --event, once that is done)')
    who.add_argument('--press', action=_InOrder, metavar='SPEC',
                     help='[DEVICE:]BUTTON:TAPS[@SECONDS|@heard=TEXT], e.g. action:double@2 '
                          'or action:single@heard=press (repeatable, in order)')
    who.add_argument('--ack', action='append', metavar='DEVICE[@S]',
                     help='DEVICE acknowledges every alert S seconds after it arrives '
                          '(default 1)')
    who.add_argument('--answer-calls', action='append', metavar='DEVICE[@S]',
                     help='DEVICE answers incoming calls after S seconds (default 1)')
    who.add_argument('--group', action='append', metavar='NAME=DEV1,DEV2',
                     help='a group of devices (repeatable)')
    who.add_argument('--event', action=_InOrder, metavar='[DEVICE:]KIND[=VALUE][@S]',
                     help='a device event for a workflow that subscribed to it, S seconds '
                          'after it did: KIND is position, geofence, nfc_tap or http_post; '
                          'VALUE its main field or a JSON object of its fields, e.g. '
                          'nfc_tap=04A2B3 or geofence=\'{"geofence_label": "dock", '
                          '"transition": "exit"}\' (repeatable, in order)')
    who.add_argument('--resolve-incident', action=_InOrder, metavar='REASON[@S]',
                     help='an operator resolves the workflow\'s open incident with REASON, S '
                          'seconds after the workflow opened it (the workflow gets an '
                          'incident event; repeatable, in order)')
    who.add_argument('--interactive', action='store_true',
                     help='type commands (press, say, ack, wait, ...) while the workflow runs; '
                          'no timeout unless --timeout is given or stdin is not a terminal')
    page = sim.add_argument_group('the simulator page')
    page.add_argument('--ui', action='store_true',
                      help='show the devices on a web page (served on 127.0.0.1) and use them '
                           'there; runs until Quit on the page or Ctrl-C; implies --pace')
    page.add_argument('--no-browser', action='store_true',
                      help='with --ui: print the page address, do not open a browser')
    page.add_argument('--ui-port', type=int, metavar='PORT', default=0,
                      help='with --ui: the page\'s port (default: a free one); a page left '
                           'open reconnects when the simulator runs again on the same port')
    how = sim.add_argument_group('timing and output')
    how.add_argument('--timeout', type=float, metavar='S',
                     help='give up after S real seconds (default 30; without it, a run '
                          'nothing can move on is reported at once)')
    how.add_argument('--time-scale', type=float, metavar='F',
                     help='real seconds per simulated second (0.1 = ten times faster)')
    how.add_argument('--pace', action='store_true',
                     help='speech takes time in proportion to its length')
    how.add_argument('--slow', action='append', metavar='REQUEST=S',
                     help='answer REQUEST after S simulated seconds, with progress events')
    how.add_argument('--allow-errors', action='store_true',
                     help='exit 0 even if requests were refused, as long as the workflow '
                          'terminated')
    how.add_argument('--no-times', action='store_true', help='print the transcript without times')
    how.add_argument('--no-requests', action='store_true',
                     help='leave the workflow\'s requests out of the transcript')
    how.add_argument('--show-output', action='store_true',
                     help='print the program\'s own output as it comes')
    return parser


def main(argv: Optional[List[str]] = None, stdin: Optional[TextIO] = None,
         stdout: Optional[TextIO] = None) -> int:
    """Run the ``relaysync`` command.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        stdin: where interactive commands are read (default ``sys.stdin``).
        stdout: where the transcript goes (default ``sys.stdout``).

    Returns:
        The exit code: 0 the workflow terminated cleanly, 1 it failed, 2 a
        usage error, 3 a timeout, 4 the program died or could not be reached.
    """
    parser = build_parser()
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if opts.command != 'simulate':
        parser.print_help(stdout or sys.stdout)
        return 2
    problem = _bad_options(opts)
    if problem:
        print(f'relaysync simulate: {problem}', file=stdout or sys.stdout)
        return 2
    from .simulator.command import simulate
    page: Optional[Callable[..., int]] = None
    if getattr(opts, 'ui', False):
        from .simulator.ui.cli import serve_page
        page = serve_page
    restore = _exit_on_sigterm()
    try:
        return simulate(opts, stdin or sys.stdin, stdout or sys.stdout, page)
    finally:
        restore()


def _bad_options(opts: argparse.Namespace) -> Optional[str]:
    """What is wrong with the options of ``relaysync simulate``, or None."""
    for option, value in (('--time-scale', opts.time_scale), ('--timeout', opts.timeout),
                          ('--startup-timeout', opts.startup_timeout)):
        if value is not None and not (math.isfinite(value) and 0 < value <= _MAX_SECONDS):
            return f'{option} must be positive and finite, at most {_MAX_SECONDS:g} (a day)'
    if not 0 <= opts.ui_port <= 65535:
        return '--ui-port must be a port number'
    if (opts.no_browser or opts.ui_port) and not opts.ui:
        return '--no-browser and --ui-port go with --ui'
    if opts.ui and opts.interactive:
        return 'use --ui or --interactive, not both (the page has every command)'
    return None


def _exit_on_sigterm() -> Callable[[], None]:
    """Make SIGTERM raise SystemExit (on the main thread), so the simulator
    still stops the workflow program it started; returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)
    return restore


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
