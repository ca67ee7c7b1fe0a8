"""Which workflow handlers are running, and the call each one is blocked in.

A failing simulation names the handler still running (``lifecycle`` in
``listen_wf.py`` line 33) and the call it waits in (``listen``).  The stacks
come from the threads of this process (a workflow served in-process) or from a
workflow program's thread dump (:meth:`Program.stacks
<relaysync.simulator.program.Program.stacks>`, Python's ``faulthandler``
format).  A thread counts when it is inside the workflow's own code: not
relaysync, not the standard library or installed packages, and not the
module level (a main thread sitting in ``server.start()``).
"""

import os
import re
import sys
import sysconfig
import threading
from typing import Callable, Iterable, List, NamedTuple, Optional, Tuple

#: One frame: (file, line, function).
Frame = Tuple[str, int, str]

_HEADER = re.compile(r'^(?:Current thread|Thread) 0x[0-9a-fA-F]+.*\(most recent call first\):\s*$')
_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.+?)\s*$')
_RELAYSYNC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARIES = tuple(os.path.abspath(p) for p in {sysconfig.get_paths().get(k) for k in
                                                ('stdlib', 'platstdlib', 'purelib', 'platlib')}
                   if p)


class Busy(NamedTuple):
    """A workflow handler (or any function of the workflow's code) still running.

    Attributes:
        function: its name, e.g. ``lifecycle``.
        file: its source file.
        line: the line it is at.
        call: the function it called and waits in (``listen``), or None when
            it is running its own code.
    """
    function: str
    file: str
    line: int
    call: Optional[str]

    def describe(self) -> str:
        """``'lifecycle (listen_wf.py, line 33) to return from listen()'``."""
        where = f'{self.function} ({os.path.basename(self.file)}, line {self.line})'
        return f'{where} to return from {self.call}()' if self.call else f'{where} to finish'


def parse_dump(lines: Iterable[str]) -> List[List[Frame]]:
    """The threads of a ``faulthandler`` dump.

    Args:
        lines: the dump's lines.

    Returns:
        One list of frames per thread, the most recent call first.
    """
    threads: List[List[Frame]] = []
    for line in lines:
        if _HEADER.match(line):
            threads.append([])
            continue
        frame = _FRAME.match(line)
        if frame and threads:
            threads[-1].append((frame.group(1), int(frame.group(2)), frame.group(3)))
    return threads


def is_dump_line(line: str) -> bool:
    """Whether a line of a program's stderr belongs to a ``faulthandler`` dump."""
    return bool(_HEADER.match(line) or _FRAME.match(line)) or line.strip() in (
        '', '<no Python frame>')


def busy(threads: Iterable[List[Frame]], is_workflow: Callable[[str], bool]) -> List[Busy]:
    """The workflow functions running in ``threads``.

    Args:
        threads: each thread's frames, most recent call first.
        is_workflow: whether a source file is the workflow's own code.

    Returns:
        One :class:`Busy` per thread inside the workflow's code (the innermost
        such frame), module-level code left out.
    """
    found = []
    for frames in threads:
        for index, (file, line, function) in enumerate(frames):
            if not is_workflow(file):
                continue
            if function != '<module>':
                call = frames[index - 1][2] if index > 0 else None
                found.append(Busy(function, file, line, call))
            break
    return found


def _library(path: str) -> bool:
    path = os.path.abspath(path)
    return (path.startswith(_RELAYSYNC + os.sep) or path.startswith(_LIBRARIES)
            or not path.endswith('.py') or f'{os.sep}site-packages{os.sep}' in path
            or f'{os.sep}dist-packages{os.sep}' in path)


def program_code(program: str) -> Callable[[str], bool]:
    """A test for "this file is the workflow program's own code": files in the
    program's directory (and below it) that are not libraries.

    Args:
        program: the program's path.

    Returns:
        A function of a file path.
    """
    home = os.path.dirname(os.path.abspath(program)) + os.sep

    def is_workflow(file: str) -> bool:
        return os.path.abspath(file).startswith(home) and not _library(file)
    return is_workflow


def in_process(prefix: str = 'relaysync-worker-') -> List[Busy]:
    """The workflow functions running on this process's relaysync worker threads.

    Args:
        prefix: the name the threads to look at start with.

    Returns:
        One :class:`Busy` per worker inside workflow code.
    """
    frames = sys._current_frames()
    threads = []
    for thread in threading.enumerate():
        frame = (frames.get(thread.ident) if thread.ident is not None
                 and thread.name.startswith(prefix) else None)
        stack: List[Frame] = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
            frame = frame.f_back
        if stack:
            threads.append(stack)
    return busy(threads, lambda file: not _library(file))
