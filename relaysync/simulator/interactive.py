"""Interactive mode: a person plays the devices by typing commands while the
workflow runs (``relaysync simulate PROGRAM --interactive``).

Commands (one per line; the current device is the triggering one until
``use`` changes it) are listed in :data:`HELP`.  Commands can also come from
a file or a here-document: ``wait heard TEXT``, ``wait listening`` and
``sleep N`` keep such a script in step with the workflow::

    relaysync simulate samples/listen_wf.py --interactive <<'EOF'
    wait listening
    say Bob
    wait heard hello Bob
    EOF
"""

import threading
import time
from typing import Any, Callable, Dict, List, Optional, TextIO

from .devices import BUTTONS, TAPS

#: The command list printed by ``help``.
HELP = '''\
press [DEVICE] [BUTTON] [TAPS]  press a button (default: action single),
                                e.g. "press", "press double", "press Bob action long"
say TEXT                        speak: answers the listen in progress (or the next one)
silence                         answer the listen in progress with silence
ack [NAME]                      acknowledge the latest alert (named NAME)
answer | hangup                 answer / hang up the current device's call
call URI                        ask the assistant to call URI
use DEVICE                      make DEVICE the current device
devices                         show the devices and what they are doing
wait heard TEXT                 wait until the current device hears TEXT (later than
                                what the previous "wait heard" matched)
wait listening                  wait until a listen is in progress on the current device
wait interaction [NAME]         wait until an interaction (named NAME) is on the device
wait alert [NAME]               wait until the device has an active alert (named NAME)
wait call                       wait until the device has a call ringing or connected
sleep SECONDS                   pause before the next command
help                            this list
quit                            stop the workflow and leave'''

#: What ``wait`` can wait for.
WAITS = ('heard', 'listening', 'interaction', 'alert', 'call')


class Interactive:
    """Runs typed commands against a simulator.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator`.
        device: the initial current device.
        write: prints one line of feedback.
        wait_limit: real seconds a ``wait`` or ``sleep`` lasts at most (default
            None: until it is met, the user quits or every run has ended).

    Attributes:
        quit_requested: set once the user typed ``quit``.
        eof: set once the input has ended.
    """

    def __init__(self, sim: Any, device: Any, write: Callable[[str], Any],
                 wait_limit: Optional[float] = None) -> None:
        self.sim = sim
        self.device = device
        self.write = write
        self.wait_limit = wait_limit
        self.quit_requested = threading.Event()
        self.eof = threading.Event()
        self._heard_from: Dict[str, int] = {}  # device name -> heard index "wait heard" looks from

    def handle(self, line: str) -> None:
        """Carry out one command line; errors are reported through ``write``."""
        words = line.strip().split()
        if not words or words[0].startswith('#'):
            return
        command, args = words[0].lower(), words[1:]
        method = getattr(self, f'_cmd_{command}', None)
        if method is None:
            self.write(f'unknown command {command!r}; type "help" for the list')
            return
        try:
            method(args, line.strip()[len(words[0]):].strip())
        except ValueError as exc:
            self.write(str(exc))

    def read_from(self, stream: TextIO, announce_end: bool = True) -> threading.Thread:
        """Read commands from ``stream`` on a daemon thread until ``quit`` or end of input.

        Args:
            stream: where the commands come from.
            announce_end: say so when the input ends (a person pressed Ctrl-D;
                a script's end goes without saying).

        Returns:
            The (started) reading thread.
        """
        def loop() -> None:
            try:
                for line in iter(stream.readline, ''):
                    self.handle(line)
                    if self.quit_requested.is_set():
                        return
            except (OSError, ValueError):  # the stream was closed under us
                pass
            finally:
                self.eof.set()
                if announce_end and not self.quit_requested.is_set():
                    self.write('(end of input: waiting for the workflow to finish; '
                               'Ctrl-C stops it)')
        thread = threading.Thread(target=loop, daemon=True, name='relaysync-sim-stdin')
        thread.start()
        return thread

    # --------------------------------------------------------- commands
    def _cmd_help(self, args: List[str], rest: str) -> None:
        self.write(HELP)

    def _cmd_quit(self, args: List[str], rest: str) -> None:
        self.quit_requested.set()

    _cmd_exit = _cmd_quit

    def _cmd_use(self, args: List[str], rest: str) -> None:
        if not rest:
            raise ValueError('use DEVICE: which device?')
        self.device = self._known(rest)
        self.write(f'now acting as {self.device.name}')

    def _cmd_press(self, args: List[str], rest: str) -> None:
        device = self.device
        if args and args[0] not in BUTTONS + TAPS:
            device = self._known(args[0])
            args = args[1:]
        button = args[0] if args and args[0] in BUTTONS else 'action'
        taps_args = args[1:] if args and args[0] in BUTTONS else args
        taps = taps_args[0] if taps_args else 'single'
        if taps not in TAPS or len(taps_args) > 1:
            raise ValueError(f'press [DEVICE] [BUTTON] [TAPS]: BUTTON is {"/".join(BUTTONS)}, '
                             f'TAPS is {"/".join(TAPS)}')
        device.press(button, taps)

    def _cmd_say(self, args: List[str], rest: str) -> None:
        if not rest:
            raise ValueError('say TEXT: what should be said?')
        if not self.device.say(rest):
            self.write(f'({self.device.name} will say that at the next listen)')

    def _cmd_silence(self, args: List[str], rest: str) -> None:
        if not self.device.say(None):
            self.write(f'({self.device.name} will stay silent at the next listen)')

    def _cmd_ack(self, args: List[str], rest: str) -> None:
        if not self.device.acknowledge(rest or None):
            self.write(f'{self.device.name} has no active alert{" " + rest if rest else ""}')

    def _cmd_answer(self, args: List[str], rest: str) -> None:
        if not self.device.answer():
            self.write(f'{self.device.name} has no ringing call')

    def _cmd_hangup(self, args: List[str], rest: str) -> None:
        if not self.device.hang_up():
            self.write(f'{self.device.name} has no call')

    def _cmd_call(self, args: List[str], rest: str) -> None:
        if not rest:
            raise ValueError('call URI: whom to call?')
        if not self.device.request_call(rest):
            self.write('no workflow is running to ask')

    def _cmd_wait(self, args: List[str], rest: str) -> None:
        what = args[0].lower() if args else ''
        text = rest[len(args[0]):].strip() if args else ''
        if what not in WAITS or (what == 'heard' and not text):
            raise ValueError(f'wait heard TEXT | wait {" | wait ".join(WAITS[1:])}')
        device, wanted = self.device, text.lower()

        def heard() -> bool:
            start = self._heard_from.get(device.name, 0)
            for index, said in enumerate(device.heard[start:], start):
                if wanted in said.lower():
                    self._heard_from[device.name] = index + 1
                    return True
            return False

        def alert() -> bool:
            return any(n.type == 'alert' and n.state == 'active' and wanted in n.name.lower()
                       for n in device.notifications)

        def interaction() -> bool:
            return any(wanted in i.name.lower() for i in device.interactions)

        def call() -> bool:
            return any(c.state != 'ended' and device in c.parties()
                       for c in self.sim.calls.calls.values())
        check = {'heard': heard, 'listening': lambda: device.listening is not None,
                 'interaction': interaction, 'alert': alert, 'call': call}[what]
        met = self._wait_until(lambda: self.sim.clock.run_sync(check))
        if met is not True:
            self.write(f'wait {rest}: {met}')

    def _cmd_sleep(self, args: List[str], rest: str) -> None:
        try:
            seconds = float(rest)
        except ValueError:
            raise ValueError('sleep SECONDS: how long?') from None
        if not seconds >= 0:
            raise ValueError('sleep SECONDS: how long?')
        end = time.monotonic() + seconds
        self._wait_until(lambda: time.monotonic() >= end, seconds)

    def _wait_until(self, check: Callable[[], bool], limit: Optional[float] = None) -> Any:
        """True once ``check()`` is; else why it stopped waiting (a text)."""
        limit = self.wait_limit if limit is None else limit
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            if check():
                return True
            if self.quit_requested.is_set():
                return 'stopped (quit)'
            if self.sim.runs and all(run.done for run in self.sim.runs):
                return 'the workflow has ended'
            if deadline is not None and time.monotonic() >= deadline:
                return f'not met within {limit:g} s'
            self.sim.clock.wait_for(lambda: False, 0.05)

    def _cmd_devices(self, args: List[str], rest: str) -> None:
        for device in list(self.sim.devices.values()):
            state = []
            if device.foreground is not None:
                state.append(f'in interaction "{device.foreground.name}"')
            if device.listening is not None:
                state.append('listening')
            active = [n.name for n in device.notifications if n.state == 'active']
            if active:
                state.append(f'alerts: {", ".join(active)}')
            mark = '*' if device is self.device else ' '
            self.write(f'{mark} {device.name} ({device.type}, battery {device.battery}%)'
                       f'{": " + "; ".join(state) if state else ""}')

    def _known(self, name: str) -> Any:
        device: Optional[Any] = self.sim.devices.get(name)
        if device is None:
            raise ValueError(f'no device named {name!r} (devices: {", ".join(self.sim.devices)})')
        return device
