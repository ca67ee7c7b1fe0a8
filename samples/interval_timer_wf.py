"""Timers: the repeating unnamed timer, then a named one-shot timer.

start_timer(1) makes on_timer fire every second; the workflow says each count
and stops the timer at three.  It then sets a named 'timeout' timer, which
fires once (on_timer_fired) and ends the interaction.

Timer events carry no interaction URN, so the handlers keep it (and the
count) in workflow instance variables with set_var / get_var.

Run it:  PORT=8080 python samples/interval_timer_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('interval timer workflow')
server.register(wf, '/timer')


@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'timer interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.set_var('interaction_uri', interaction_uri)
        relay.set_var('count', '0')
        relay.say_and_wait(interaction_uri, 'counting to three')
        relay.start_timer(1)  # seconds; fires on_timer until stop_timer
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


@wf.on_timer
def tick(relay):
    count = relay.get_number_var('count', 0) + 1
    if count > 3:
        return  # a tick already on its way when the timer was stopped
    relay.set_var('count', str(count))
    # say() returns without waiting for the speech, so a slow device never
    # holds up the next tick.
    relay.say(relay.get_var('interaction_uri'), str(count))
    if count == 3:
        relay.stop_timer()
        # A named timer of type 'timeout' fires once, after 1 second here.
        relay.set_timer('goodbye', timer_type='timeout', timeout=1, timeout_type='secs')


@wf.on_timer_fired
def timer_fired(relay, name):
    interaction_uri = relay.get_var('interaction_uri')
    relay.say_and_wait(interaction_uri, f'the {name} timer fired')
    relay.end_interaction(interaction_uri)


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
