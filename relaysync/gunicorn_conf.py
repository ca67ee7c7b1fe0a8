"""gunicorn settings for serving relaysync workflows.

Use it as the configuration module and override anything on the command line::

    gunicorn -c python:relaysync.gunicorn_conf --workers 2 --threads 100 app:app

Or, with a configuration file of your own, import the hook::

    from relaysync.gunicorn_conf import post_worker_init  # noqa: F401

What it sets:

* ``worker_class = 'gthread'``: each workflow instance holds one worker thread
  for its whole life, so capacity is ``workers × threads`` concurrent instances.
* ``threads = 100`` per worker (override with ``--threads``).
* ``graceful_timeout = 30`` seconds, longer than relaysync's default
  ``drain_timeout`` (10 s), so draining finishes before gunicorn kills a worker.
* ``post_worker_init``: on SIGTERM, each worker process stops taking new
  instances, lets running ones finish for up to the server's ``drain_timeout``,
  closes the rest with close code 1001 and logs how many were cut off -- then
  gunicorn's own shutdown proceeds.
"""

import logging
import signal
import threading
from typing import Any

worker_class = 'gthread'
"""gunicorn's threaded worker: each workflow instance holds one thread, so
capacity is workers x threads concurrent instances."""
threads = 100
"""Threads per worker process (override with ``--threads``)."""
graceful_timeout = 30
"""Seconds gunicorn gives a worker to exit on shutdown: longer than the
default ``drain_timeout`` (10 s), so that draining can finish."""

logger = logging.getLogger('relaysync.gunicorn')


def drain_embedded_servers() -> None:
    """Stop (drain) every relaysync Server serving instances in this process.

    Each server's :meth:`~relaysync.Server.stop` runs on a thread of its own;
    returns when all have finished.
    """
    from .server import EMBEDDED_SERVERS
    servers = list(EMBEDDED_SERVERS)
    threads_ = [threading.Thread(target=s.stop, daemon=True, name='relaysync-drain')
                for s in servers]
    for t in threads_:
        t.start()
    for t in threads_:
        t.join()


def post_worker_init(worker: Any) -> None:
    """gunicorn hook: drain relaysync instances when the worker gets SIGTERM.

    Installs a SIGTERM handler that starts :func:`drain_embedded_servers` on a
    thread and then calls the handler that was there before (gunicorn's own
    graceful shutdown).

    Args:
        worker: the gunicorn worker (unused).
    """
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        def drain_then_exit() -> None:
            drain_embedded_servers()
        threading.Thread(target=drain_then_exit, daemon=True, name='relaysync-sigterm').start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
