"""Device info: read what the Relay server knows about the device.

Each get_device_* call is one request; the answers are read out on the
device.  Location values can be missing (location turned off, no fix yet),
so the text copes with None.

Run it:  PORT=8080 python samples/device_info_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('device info workflow')
server.register(wf, '/deviceinfo')


@wf.on_start
def start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'device info interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        uri = interaction_uri  # an interaction URN stands for its device
        try:
            name = relay.get_device_name(uri)
            device_id = relay.get_device_id(uri)
            device_type = relay.get_device_type(uri)
            battery = relay.get_device_battery(uri)
            address = relay.get_device_location(uri)  # street address
            coordinates = relay.get_device_coordinates(uri)  # [latitude, longitude]
            location_enabled = relay.get_device_location_enabled(uri)

            relay.say_and_wait(uri, f'this is {name}, a {device_type} device '
                                    f'with id {device_id}')
            relay.say_and_wait(uri, f'the battery is at {battery} percent')
            # location_enabled may come as a bool or as the string 'true'/'false'.
            enabled = 'on' if str(location_enabled).lower() == 'true' else 'off'
            relay.say_and_wait(uri, f'location is turned {enabled}')
            if address:
                relay.say_and_wait(uri, f'you are near {address}')
            if isinstance(coordinates, list) and len(coordinates) == 2:
                latitude, longitude = coordinates
                relay.say_and_wait(uri, f'latitude {latitude}, longitude {longitude}')
        finally:
            relay.end_interaction(uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
