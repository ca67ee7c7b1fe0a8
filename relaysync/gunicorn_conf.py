"""gunicorn settings for serving relaysync workflows.

Use it as the configuration module and override anything on the command line::

    gunicorn -c python:relaysync.gunicorn_conf --workers 2 --threads 100 app:app

Or, with a configuration file of your own, take all of its settings::

    from relaysync.gunicorn_conf import *  # noqa: F401,F403

What it sets:

* ``worker_class = 'gthread'``: each workflow instance holds one worker thread
  for its whole life, so capacity is ``workers × threads`` concurrent instances,
  less ``max(1, threads // 10)`` threads per worker kept free for your app's
  pages and the health checks (further upgrades get ``503``).  gunicorn's
  ``sync`` worker runs one request at a time: one instance would block the
  worker, so the hook warns about it.
* ``threads = 100`` per worker (override with ``--threads``).
* ``graceful_timeout = 30`` seconds, longer than relaysync's default
  ``drain_timeout`` (10 s) plus the closing handshake, so draining finishes
  before gunicorn kills a worker; a server whose drain does not fit is warned
  about.
* ``post_worker_init``: tells relaysync the worker's threads and graceful
  timeout (:func:`relaysync.wsgi.configure_host`); on SIGTERM, each worker
  process stops taking new instances, lets running ones finish for up to the
  server's ``drain_timeout``, closes the rest with close code 1001 and logs how
  many were cut off -- then gunicorn's own shutdown proceeds.
"""

import logging
import signal
import threading
from typing import Any

__all__ = ['worker_class', 'threads', 'graceful_timeout', 'post_worker_init']

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
    """gunicorn hook: size and drain relaysync instances in this worker.

    Passes the worker's threads and graceful timeout to
    :func:`relaysync.wsgi.configure_host` (warning about a ``sync`` worker),
    and installs a SIGTERM handler that starts :func:`drain_embedded_servers`
    on a thread and then calls the handler that was there before (gunicorn's
    own graceful shutdown).

    Args:
        worker: the gunicorn worker.
    """
    from .wsgi import configure_host
    cfg = getattr(worker, 'cfg', None)
    threaded = type(worker).__name__ == 'ThreadWorker'
    if cfg is not None:
        configure_host(threads=int(cfg.threads) if threaded else 1,
                       graceful_timeout=float(cfg.graceful_timeout))
    if not threaded:
        logger.warning('gunicorn\'s %s runs one request at a time, and a workflow instance '
                       'holds its request for its whole life: use the gthread worker '
                       '(worker_class = "gthread", as relaysync.gunicorn_conf sets)',
                       type(worker).__name__)
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: Any) -> None:
        def drain_then_exit() -> None:
            drain_embedded_servers()
        threading.Thread(target=drain_then_exit, daemon=True, name='relaysync-sigterm').start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
