"""Buttons: react to taps on the action button.

The interaction asks for the action button's taps to be routed to this
workflow (input_types).  A single tap and a double tap are each answered;
a triple tap or a long press ends the workflow.

Run it:  PORT=8080 python samples/buttons_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('buttons workflow')
server.register(wf, '/buttons')


@wf.on_start
def start(relay, trigger):
    # Without input_types, button presses stay with the device (talk, channel
    # change...); with them, they arrive here as button events.
    options = relay.interaction_options(
        color='00ff00',
        input_types=['action_button_single_tap', 'action_button_double_tap',
                     'action_button_triple_tap', 'action_button_long_press'])
    relay.start_interaction(relay.make_target_uris(trigger), 'buttons', options)


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.say_and_wait(interaction_uri, 'tap the action button once or twice. '
                                            'Triple tap or long press to finish.')
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


# Inside an interaction, a button event's source_uri is the interaction URN,
# so it can be used directly as the target of the reply.
@wf.on_button(button='action', taps='single')
def single_tap(relay, button, taps, source_uri):
    relay.say_and_wait(source_uri, 'you tapped once')


@wf.on_button(button='action', taps='double')
def double_tap(relay, button, taps, source_uri):
    relay.say_and_wait(source_uri, 'you double tapped')


# Decorators return the function unchanged, so one handler can serve two filters.
@wf.on_button(button='action', taps='triple')
@wf.on_button(button='action', taps='long')
def finish(relay, button, taps, source_uri):
    relay.say_and_wait(source_uri, 'goodbye')
    relay.end_interaction(source_uri)


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
