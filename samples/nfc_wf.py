"""NFC check-in: subscribe to a device's NFC taps and react to each one.

The workflow subscribes to the triggering device's ``nfc_tap`` events, asks
the user to tap two tags, says which tag each tap read, writes each one to the
workflow's debug log (``relay workflow debug`` shows it), and ends after the
second tap.

Subscriptions (``subscribe``, the position, geofence, NFC and HTTP POST
events) and ``debug_log`` follow Relay server features that no released
official SDK has yet.

Run it:  PORT=8080 python samples/nfc_wf.py
See it:  relaysync simulate samples/nfc_wf.py --event nfc_tap=04A2B3C4 --event nfc_tap=04D5E6F7
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('nfc workflow')
server.register(wf, '/nfc')

TAGS_WANTED = 2


@wf.on_start
def start(relay, trigger):
    device = relay.get_source_uri_from_trigger(trigger)
    relay.set_var('device', device)
    relay.set_var('taps', '0')
    relay.start_interaction(device, 'nfc interaction')


@wf.on_interaction_started
def started(relay, interaction_uri, reason):
    relay.set_var('interaction', interaction_uri)
    relay.subscribe(relay.get_var('device'), relaysync.SubscribableEvent.NFC_TAP)
    relay.say_and_wait(interaction_uri, f'tap {TAGS_WANTED} tags to check in')


@wf.on_nfc_tap
def tapped(relay, uid, counter, tag_content, source_uri):
    taps = relay.get_number_var('taps') + 1
    relay.set_var('taps', str(taps))
    relay.debug_log(f'tap {taps}: tag {uid}')
    interaction_uri = relay.get_var('interaction')
    relay.say_and_wait(interaction_uri, f'checked in at tag {uid}')
    if taps >= TAGS_WANTED:
        relay.unsubscribe(source_uri, relaysync.SubscribableEvent.NFC_TAP)
        relay.end_interaction(interaction_uri)


@wf.on_interaction_ended
def ended(relay, interaction_uri, reason):
    relay.terminate()


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
