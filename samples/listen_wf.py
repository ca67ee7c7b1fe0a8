"""Listen: ask a question and use the spoken answer.

listen() blocks until the user has answered by push-to-talk and returns the
transcribed text.  An empty answer (or none at all before the timeout) gets
a polite fallback instead of "hello" to nobody.

Run it:  PORT=8080 python samples/listen_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('listen workflow')
server.register(wf, '/listen')


@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'listen interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.say_and_wait(interaction_uri, 'what is your name?')
        try:
            # timeout: how many seconds the device waits for speech.
            name = relay.listen(interaction_uri, transcribe=True, timeout=30)
        except relaysync.RelayTimeout:
            name = None  # no speech event arrived at all
        name = (name or '').strip()
        if name:
            relay.say_and_wait(interaction_uri, f'hello {name}')
        else:
            relay.say_and_wait(interaction_uri, "sorry, I didn't catch your name")
        relay.end_interaction(interaction_uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
