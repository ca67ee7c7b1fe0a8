#!/usr/bin/env python3
"""The bench workflow served from a WSGI app, for gunicorn (scale-out across cores).

The same workflow and flow as ``wf_relaysync.py``; gunicorn owns the listening
socket and each worker process runs relaysync's embedded I/O thread::

    gunicorn -c python:relaysync.gunicorn_conf --workers 2 --threads 1100 \\
        --bind 127.0.0.1:$PORT --chdir bench wf_wsgi:app
"""

import relaysync.wsgi

from wf_relaysync import server

app = relaysync.wsgi.mount(None, server)
