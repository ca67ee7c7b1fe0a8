"""relay-py's facade: every public name of relaysync, importable from here too.

A ported ``relay.workflow.X`` becomes ``relaysync.workflow.X`` (or, keeping
every line but the import, ``import relaysync as relay``).  This module only
re-exports: :class:`~relaysync.Workflow` lives in :mod:`relaysync.registry`.
It also offers relay-py's helper ``remove_null`` (what every request goes
through here).
"""

import logging

# relay-py's import path for every public name of relaysync.
from .registry import Workflow  # noqa: F401
from .codec import strip_none as remove_null  # noqa: F401
from .constants import *  # noqa: F401,F403
from .enums import *  # noqa: F401,F403
from .exceptions import (ConnectionClosed, ErrorResponse, InvalidArgument,  # noqa: F401
                         PlaybackFailed, RelaysyncError, RelayTimeout, ServerException,
                         TokenRefreshFailed, WorkflowException)
from .http_api import fetch_device, refresh_access_token, trigger_workflow  # noqa: F401
from .relay import Relay, make_target  # noqa: F401
from .server import Server  # noqa: F401
from .timeouts import Timeouts  # noqa: F401
from .version import __version__  # noqa: F401
from .urns import (all_devices, construct, device_id, device_name,  # noqa: F401
                   generic_originator, group_id, group_member, group_name, interaction_name,
                   is_interaction_uri, is_relay_uri, parse_device_id, parse_device_name,
                   parse_group_id, parse_group_name, parse_interaction)

#: relay-py's module logger: the workflow's own lines (``relay.logger`` too).
logger = logging.getLogger('relaysync.workflow')
