"""Incidents: open an incident for the triggering device, then resolve it.

An incident shows up in Relay Dash until it is resolved.  Here the workflow
resolves it itself right away; in a real workflow that would happen once help
has arrived, or an operator resolves it in Dash (reported by on_incident).

Run it:  PORT=8080 python samples/incident_wf.py
"""
import logging
import os

import relaysync

port = os.getenv('PORT', 8080)
server = relaysync.Server('0.0.0.0', port, log_level=logging.INFO)

wf = relaysync.Workflow('incident workflow')
server.register(wf, '/incident')

log = logging.getLogger('samples.incident')


@wf.on_start
def start(relay, trigger):
    # The incident is raised on behalf of the device that fired the trigger.
    originator = relay.get_source_uri_from_trigger(trigger)
    incident_id = relay.create_incident(originator, 'incident')
    # Keep the id for the lifecycle handler (a separate event, a separate call).
    relay.set_var('incident_id', incident_id)
    relay.start_interaction(relay.make_target_uris(trigger), 'incident interaction')


@wf.on_interaction_lifecycle
def lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        incident_id = relay.get_var('incident_id')
        relay.say_and_wait(interaction_uri, f'created incident {incident_id}')
        relay.resolve_incident(incident_id, 'resolved by the sample workflow')
        relay.say_and_wait(interaction_uri, 'the incident is resolved')
        relay.end_interaction(interaction_uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


@wf.on_incident
def incident(relay, incident_type, incident_id, reason):
    # Sent when an incident is resolved or cancelled elsewhere (e.g. in Dash).
    log.info('incident %s was %s: %s', incident_id, incident_type, reason)


if __name__ == '__main__':
    logging.basicConfig(format='%(asctime)s %(levelname)s %(name)s: %(message)s',
                        level=logging.INFO)
    server.start()
