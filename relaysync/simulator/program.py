"""Run a workflow program as a child process for ``relaysync simulate``.

* The program is run as ``python PROGRAM`` would run it, with the environment
  variable ``PORT`` set to a free port of this machine (workflow servers read
  their port from ``PORT``, as on Heroku-like hosts), unbuffered output, and
  its own process group so that everything it starts can be stopped with it.
  On POSIX a two-line launcher first registers ``faulthandler`` on SIGUSR1,
  so that :meth:`Program.stacks` can ask which handlers are running.
* Its stdout and stderr are read line by line; the last lines are kept for
  the failure report, and a Python traceback on stderr is reported as a
  crash of a workflow handler (see :attr:`Program.on_traceback`).
* :meth:`Program.stop` always ends it: SIGTERM, a bounded wait, then SIGKILL.

The workflow path is found by :func:`discover_path`.
"""

import collections
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Deque, List, Optional, Tuple

from .stacks import Frame, is_dump_line, parse_dump

#: Runs ``sys.argv[1]`` as ``python PROGRAM`` does, after registering a thread
#: dump on SIGUSR1 (it needs nothing but the standard library of the interpreter).
LAUNCHER = ('import faulthandler, os, runpy, signal, sys\n'
            'sys.argv = sys.argv[1:]; sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))\n'
            'faulthandler.register(signal.SIGUSR1, all_threads=True)\n'
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")

_REGISTER = re.compile(r"""\.register\(\s*[^,()]+,\s*(?:path\s*=\s*)?['"]([^'"]*)['"]""")


def discover_path(source: str) -> Tuple[Optional[str], List[str]]:
    """Find the workflow path(s) a program registers.

    The rule: every ``<something>.register(<workflow>, '<path>')`` call with a
    string literal path (relaysync's and relay-py's ``Server.register``).

    Returns:
        ``(path, all_paths)``: the first path found (None when there is none)
        and every path found, in source order.
    """
    paths = _REGISTER.findall(source)
    normalised = []
    for path in paths:
        path = '/' + path.strip().strip('/')
        if path not in normalised:
            normalised.append(path)
    return (normalised[0] if normalised else None), normalised


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        port: int = sock.getsockname()[1]
        return port


class Program:
    """A workflow program running as a child process.

    Args:
        path: the Python file to run.
        port: the port passed in ``PORT``.
        python: the interpreter (default: the running one).
        on_line: called with ``(stream, line)`` for each output line
            (``stream`` is ``'stdout'`` or ``'stderr'``), on a reader thread.
        on_traceback: called with the text of each Python traceback seen on
            stderr, on a reader thread.

    Attributes:
        output: the last output lines, as ``(stream, line)`` pairs.
    """

    def __init__(self, path: str, port: int, python: str = sys.executable,
                 on_line: Optional[Callable[[str, str], Any]] = None,
                 on_traceback: Optional[Callable[[str], Any]] = None,
                 keep_lines: int = 200) -> None:
        self.path = path
        self.port = port
        self.python = python
        self.on_line = on_line
        self.on_traceback = on_traceback
        self.output: Deque[Tuple[str, str]] = collections.deque(maxlen=keep_lines)
        self.process: Optional['subprocess.Popen[bytes]'] = None
        self._readers: List[threading.Thread] = []
        self._dump: Optional[List[str]] = None  # collecting a thread dump when not None
        self._dump_changed = threading.Condition()

    def start(self) -> None:
        """Start the program.  Raises OSError if it cannot be started."""
        env = dict(os.environ, PORT=str(self.port), PYTHONUNBUFFERED='1')
        posix = os.name == 'posix'
        command = [self.python, '-c', LAUNCHER, self.path] if posix else [self.python, self.path]
        self.process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=posix)
        for name, stream in (('stdout', self.process.stdout), ('stderr', self.process.stderr)):
            thread = threading.Thread(target=self._read, args=(name, stream), daemon=True,
                                      name=f'relaysync-sim-{name}')
            thread.start()
            self._readers.append(thread)

    @property
    def returncode(self) -> Optional[int]:
        """The exit code once the program has ended, else None."""
        return self.process.poll() if self.process is not None else None

    def wait_listening(self, timeout: float) -> bool:
        """Block until the program accepts TCP connections on its port (True),
        or it exits or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.returncode is not None:
                return False
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self, timeout: float = 5.0) -> Optional[int]:
        """End the program (SIGTERM, up to ``timeout`` s, then SIGKILL) and
        return its exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                process.wait(timeout)
        for thread in self._readers:
            thread.join(1.0)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        return process.returncode

    def stacks(self, timeout: float = 2.0) -> Optional[List[List[Frame]]]:
        """Ask the running program for a dump of its threads (SIGUSR1).

        Args:
            timeout: real seconds to wait for the dump at most.

        Returns:
            Each thread's frames, the most recent call first; None when the
            program is not running, cannot be asked (not POSIX) or did not answer.
        """
        if os.name != 'posix' or self.returncode is not None:
            return None
        with self._dump_changed:
            self._dump = []
        self._signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        seen = -1
        with self._dump_changed:
            # The dump is written at once: it is complete when no line came for a moment.
            while time.monotonic() < deadline:
                lines = self._dump
                if lines and len(lines) == seen:
                    break
                seen = len(lines) if lines else -1
                self._dump_changed.wait(0.2)
            lines, self._dump = self._dump or [], None
        threads = parse_dump(lines)
        return threads or None

    def tail(self, count: int = 20, stream: Optional[str] = None) -> List[str]:
        """The last ``count`` output lines (of one ``stream``, or both)."""
        lines = [line for name, line in list(self.output) if stream in (None, name)]
        return lines[-count:]

    # ----------------------------------------------------------- internals
    def _signal(self, sig: int) -> None:
        process = self.process
        if process is None:
            return
        try:
            if os.name == 'posix':
                os.killpg(process.pid, sig)
            else:  # pragma: no cover - not POSIX
                process.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _read(self, name: str, stream: Any) -> None:
        traceback: Optional[List[str]] = None
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            if name == 'stderr' and self._dump is not None and is_dump_line(line):
                with self._dump_changed:
                    if self._dump is not None:
                        self._dump.append(line)
                        self._dump_changed.notify_all()
                        continue
            self.output.append((name, line))
            if self.on_line is not None:
                self.on_line(name, line)
            if name != 'stderr':
                continue
            if line.startswith('Traceback (most recent call last)'):
                traceback = [line]
            elif traceback is not None:
                traceback.append(line)
                if line and not line[0].isspace():  # the exception line ends it
                    if self.on_traceback is not None:
                        self.on_traceback('\n'.join(traceback))
                    traceback = None
