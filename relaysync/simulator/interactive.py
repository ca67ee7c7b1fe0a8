"""Interactive mode: a person plays the devices by typing commands while the
workflow runs (``relaysync simulate PROGRAM --interactive``).

Commands (one per line; the current device is the triggering one until
``use`` changes it) are listed in :data:`HELP`.
"""

import threading
from typing import Any, Callable, List, Optional, TextIO

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
help                            this list
quit                            stop the workflow and leave'''


class Interactive:
    """Runs typed commands against a simulator.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator`.
        device: the initial current device.
        write: prints one line of feedback.

    Attributes:
        quit_requested: set once the user typed ``quit``.
    """

    def __init__(self, sim: Any, device: Any, write: Callable[[str], Any]) -> None:
        self.sim = sim
        self.device = device
        self.write = write
        self.quit_requested = threading.Event()
        self.eof = threading.Event()

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

    def read_from(self, stream: TextIO) -> threading.Thread:
        """Read commands from ``stream`` on a daemon thread until ``quit`` or end of input."""
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
                if not self.quit_requested.is_set():
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
