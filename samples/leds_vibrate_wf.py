"""LEDs and vibration: a short tour of the device's light ring and motor.

Each effect is switched on, then the next narration plays while it runs, so
no sleeps are needed.  Colours are hex strings without '#'.  A count or a
number of rotations of -1 would mean "until changed".

Run it:  PORT=8080 python samples/leds_vibrate_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('leds and vibrate workflow')
server.register(wf, '/leds')


@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'led interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        uri = interaction_uri
        try:
            relay.rainbow(uri, rotations=2)
            relay.say_and_wait(uri, 'rainbow')
            relay.flash(uri, color='ff0000', count=3)
            relay.say_and_wait(uri, 'flashing red')
            relay.switch_led_on(uri, 1, color='00ff00')  # LEDs are numbered 1 to 12
            relay.say_and_wait(uri, 'one green light')
            relay.rotate(uri, color='ffff00', rotations=2)
            relay.say_and_wait(uri, 'rotating yellow')
            relay.breathe(uri, color='00ffff', count=2)
            relay.say_and_wait(uri, 'breathing cyan')
            # Vibration pattern in milliseconds: a delay, then buzz/pause pairs.
            relay.vibrate(uri, [100, 500, 500, 500])
            relay.say_and_wait(uri, 'vibrate')
            relay.switch_all_led_off(uri)
            relay.say_and_wait(uri, 'lights off. Goodbye.')
        finally:
            # Whatever happened above, leave the device's channel clean.
            relay.end_interaction(uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
