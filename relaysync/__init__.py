"""relaysync: write Relay workflows as plain, blocking Python.

::

    import relaysync, os
    server = relaysync.Server('0.0.0.0', os.getenv('PORT', 8080))
    wf = relaysync.Workflow('hello workflow')
    server.register(wf, '/hellopath')

    @wf.on_start
    def start(relay, trigger):
        relay.start_interaction(relay.make_target_uris(trigger), 'hello interaction')

    @wf.on_interaction_lifecycle
    def lifecycle(relay, itype, interaction_uri, reason):
        if itype == relaysync.TYPE_STARTED:
            relay.say_and_wait(interaction_uri, 'hello world')
            relay.end_interaction(interaction_uri)
        if itype == relaysync.TYPE_ENDED:
            relay.terminate()

    server.start()
"""

from .constants import *  # noqa: F401,F403
from .constants import TYPE_ENDED, TYPE_STARTED, VERSION  # noqa: F401
from .enums import (Button, CallDirection, DeviceType, IncidentStatus, Language, LedEffect,
                    NotificationPriority, NotificationSound, SubscribableEvent, Taps,
                    TimeoutType, TimerType)
from .exceptions import (ConnectionClosed, ErrorResponse, InvalidArgument, PlaybackFailed,
                         RelaysyncError, RelayTimeout, ServerException, TokenRefreshFailed,
                         WorkflowException)
from .http_api import fetch_device, refresh_access_token, trigger_workflow
from .relay import Relay, make_target
from .server import Server
from .timeouts import Timeouts
from .urns import (all_devices, construct, device_id, device_name, generic_originator,
                   group_id, group_member, group_name, interaction_name, is_interaction_uri,
                   is_relay_uri, parse_device_id, parse_device_name, parse_group_id,
                   parse_group_name, parse_interaction)
from .version import __version__
# relay-py's ``relay.workflow.X`` spelling, with ``import relaysync as relay``.
from . import workflow  # noqa: F401  (isort: skip)
from .registry import Workflow

__all__ = [
    'Server', 'Workflow', 'Relay', 'Timeouts', 'make_target',
    'RelaysyncError', 'WorkflowException', 'ServerException', 'ErrorResponse', 'RelayTimeout',
    'ConnectionClosed', 'PlaybackFailed', 'TokenRefreshFailed', 'InvalidArgument',
    'trigger_workflow', 'fetch_device', 'refresh_access_token',
    'construct', 'group_id', 'group_name', 'device_id', 'device_name', 'interaction_name',
    'group_member', 'all_devices', 'generic_originator', 'parse_group_name', 'parse_group_id',
    'parse_device_name', 'parse_device_id', 'parse_interaction', 'is_interaction_uri',
    'is_relay_uri', 'TYPE_STARTED', 'TYPE_ENDED', 'VERSION', '__version__',
    'Language', 'DeviceType', 'NotificationPriority', 'NotificationSound', 'IncidentStatus',
    'CallDirection', 'LedEffect', 'Button', 'Taps', 'TimerType', 'TimeoutType',
    'SubscribableEvent',
]
