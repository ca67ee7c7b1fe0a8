"""Garbage-collector pause accounting for bench servers (opt-in, standard library only).

A bench server calls :func:`install_from_env` once at start.  Unless the
environment variable ``RELAYSYNC_BENCH_GCSTATS`` is set (and not ``0``), that
does nothing.  When it is set, a ``gc.callbacks`` hook times every collection
and, when the process exits normally (including after SIGTERM handled by the
server), one JSON object is written to a file:

* ``RELAYSYNC_BENCH_GCSTATS=1``: ``$TMPDIR/relaysync-gcstats-<pid>.json``;
* any other value: that path, where ``{pid}`` is replaced by the process id
  (so several worker processes of one server each write their own file).

The object holds, per generation, the number of collections, their total and
their longest pause in milliseconds, plus ``total_ms`` and ``max_ms`` over all
generations.  ``bench/run.py`` sets the variable to a per-run path and reads the
file(s) back after stopping the server.
"""

import atexit
import gc
import json
import os
import tempfile
import time

ENV = 'RELAYSYNC_BENCH_GCSTATS'

_clock = time.perf_counter
_started = [0.0]
_count = [0, 0, 0]
_total = [0.0, 0.0, 0.0]
_longest = [0.0, 0.0, 0.0]


def _on_gc(phase, info):
    if phase == 'start':
        _started[0] = _clock()
        return
    pause = _clock() - _started[0]
    gen = info.get('generation', 2)
    if not 0 <= gen <= 2:
        gen = 2
    _count[gen] += 1
    _total[gen] += pause
    _longest[gen] = max(_longest[gen], pause)


def snapshot():
    """Return the pauses recorded so far as a JSON-ready dict (milliseconds)."""
    gens = {f'gen{g}': {'n': _count[g], 'total_ms': round(_total[g] * 1e3, 3),
                        'max_ms': round(_longest[g] * 1e3, 3)} for g in range(3)}
    return {'pid': os.getpid(), 'collections': sum(_count),
            'total_ms': round(sum(_total) * 1e3, 3), 'max_ms': round(max(_longest) * 1e3, 3),
            'generations': gens}


def _write(template):
    path = template.replace('{pid}', str(os.getpid()))  # at exit: right in forked workers too
    data = snapshot()
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, path)  # the reader never sees half a file


def install(path):
    """Start timing collections and write :func:`snapshot` to ``path`` at exit
    (``{pid}`` in ``path`` is replaced by the id of the exiting process)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
    atexit.register(_write, path)
    return path


def install_from_env():
    """:func:`install` if ``RELAYSYNC_BENCH_GCSTATS`` asks for it; returns the
    path that will be written, or None."""
    value = os.environ.get(ENV, '').strip()
    if not value or value == '0':
        return None
    if value == '1':
        value = os.path.join(tempfile.gettempdir(), 'relaysync-gcstats-{pid}.json')
    return install(value)
