"""Notifications: alert a group and wait for someone to acknowledge.

The alert repeats on every device of the group until one of them
acknowledges it.  The acknowledgement arrives as a notification event
('ack_event'); the workflow then cancels the alert for everyone else, tells
the person who asked who is coming, and ends.

The group comes from the instance variable 'group' (default 'team'), which
can be set when the workflow is registered or triggered.

Run it:  PORT=8080 python samples/notification_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('notification workflow')
server.register(wf, '/alert')

ALERT_NAME = 'help_alert'


def alert_group(relay):
    # The 'group' variable, or 'team' when it is unset (or set but empty).
    return relay.get_var('group', 'team') or 'team'


@wf.on_start
def start(relay, trigger):
    # Remember who asked: the alert is sent on behalf of this device.
    relay.set_var('originator', relay.get_source_uri_from_trigger(trigger))
    relay.start_interaction(relay.make_target_uris(trigger), 'alert interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        # Save the interaction before alerting, so an early ack can find it.
        relay.set_var('interaction_uri', interaction_uri)
        group = alert_group(relay)
        relay.alert(relaysync.group_name(group), relay.get_var('originator'), ALERT_NAME,
                    'help is needed', relay.push_options(priority='high', title='Help'))
        relay.say_and_wait(interaction_uri, f'alert sent to {group}. Waiting for an answer.')
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


@wf.on_notification(name=ALERT_NAME, event='ack_event')
def acknowledged(relay, event, name, notification_state, source_uri):
    interaction_uri = relay.get_var('interaction_uri')
    if not interaction_uri:
        return  # a second person acknowledged before the alert was cancelled
    relay.unset_var('interaction_uri')
    # Stop the alert on the devices that have not acknowledged it.
    relay.cancel_alert(relaysync.group_name(alert_group(relay)), ALERT_NAME)
    who = relaysync.parse_device_name(source_uri) or 'someone'
    relay.say_and_wait(interaction_uri, f'{who} acknowledged the alert')
    relay.end_interaction(interaction_uri)


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    server.start()
