"""Hello world: the smallest useful workflow.

When the workflow is triggered, it opens an interaction (a temporary channel)
on the device that triggered it, says "hello world", closes the interaction and
ends the workflow instance.

Run it:  PORT=8080 python samples/hello_world_wf.py
"""
import logging
import os

import relaysync

# Heroku and similar hosts pass the port as a string; Server accepts both.
port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('hello workflow')
server.register(wf, '/hellopath')


@wf.on_start
def start(relay, trigger):
    # Open an interaction on the device that fired the trigger.  Nothing can be
    # said yet: wait for the interaction's 'started' lifecycle event.
    target = relay.make_target_uris(trigger)
    relay.start_interaction(target, 'hello interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        # say_and_wait blocks until the device has finished speaking.
        relay.say_and_wait(interaction_uri, 'hello world')
        relay.end_interaction(interaction_uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        # The interaction is gone (or never came up): end the instance.
        relay.terminate()


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
