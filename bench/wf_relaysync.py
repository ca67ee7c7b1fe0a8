#!/usr/bin/env python3
"""The bench workflow, written with relaysync exactly as a user would write it.

Flow per instance: start → start_interaction → BENCH_ROUNDS × (say_and_wait,
get_var) → end_interaction → terminate.  Serves 127.0.0.1:$PORT at /bench,
logs WARNING and above only, and exits on SIGTERM.  ``floor.py`` sends the
same requests with no SDK; ``run.py`` measures both.

With ``RELAYSYNC_BENCH_GCSTATS`` set, the garbage collector's pauses are
recorded and written to a file at exit (see ``gcstats.py``); unset, nothing
is added to the process.
"""

import logging
import os

import relaysync

if os.environ.get('RELAYSYNC_BENCH_GCSTATS'):
    import gcstats  # bench/gcstats.py, next to this script
    gcstats.install_from_env()

ROUNDS = int(os.environ.get('BENCH_ROUNDS', '10'))

server = relaysync.Server('127.0.0.1', os.environ.get('PORT', 8080), log_level=logging.WARNING,
                          drain_timeout=0)
wf = relaysync.Workflow('bench')
server.register(wf, '/bench')


@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'bench')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        for i in range(ROUNDS):
            relay.say_and_wait(interaction_uri, f'hello {i}')
            relay.get_var('k')
        relay.end_interaction(interaction_uri)
    elif itype == relaysync.TYPE_ENDED:
        relay.terminate()


if __name__ == '__main__':
    server.start()
