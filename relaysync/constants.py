"""Protocol constants: relay-py's names, plus the values of the Relay enumerations.

Every name here can also be imported from ``relaysync`` (and
``relaysync.workflow``), e.g. ``relaysync.TYPE_STARTED``.
"""

from .enums import Button, LedEffect, Taps, TimeoutType, TimerType
from .version import SERVER_NAME

#: relay-py's version constant; here the name relaysync announces itself with.
VERSION = SERVER_NAME
"""The server's name and version, ``'relaysync/<version>'``: sent in the
``Server`` header and the start-up log line (relay-py's ``VERSION``)."""

# URN building blocks (relay-py names).
SCHEME = 'urn'
"""The URN scheme, ``'urn'``."""
ROOT = 'relay-resource'
"""The namespace of every Relay URN, ``'relay-resource'``."""
GROUP = 'group'
"""The resource type of group URNs."""
ID = 'id'
"""The id type of id-based URNs."""
NAME = 'name'
"""The id type of name-based URNs."""
DEVICE = 'device'
"""The resource type of device URNs."""
INTERACTION = 'interaction'
"""The resource type of interaction URNs."""
DEVICE_PATTERN = '?device='
"""The query that puts a device URN in an interaction or group-member URN."""
INTERACTION_URI_NAME = 'urn:relay-resource:name:interaction'
"""The prefix of name-based interaction URNs."""
INTERACTION_URI_ID = 'urn:relay-resource:id:interaction'
"""The prefix of id-based interaction URNs."""

# The Relay servers the HTTP API talks to by default (relay-py names).
SERVER_HOSTNAME = 'all-main-pro-ibot.relaysvr.com'
"""The default API host of ``trigger_workflow`` and ``fetch_device``.  Changing it
has no effect: pass ``api_url`` or set ``RELAYSYNC_API_URL`` instead."""
AUTH_HOSTNAME = 'auth.relaygo.com'
"""The default host that renews access tokens.  Changing it has no effect: pass
``auth_url`` or set ``RELAYSYNC_AUTH_URL`` instead."""

# Interaction lifecycle types (the ``itype`` of on_interaction_lifecycle).
TYPE_STARTED = 'started'
"""Lifecycle type: the interaction started; its URN can now be targeted."""
TYPE_RESUMED = 'resumed'
"""Lifecycle type: the interaction became the active channel (also right after ``started``)."""
TYPE_SUSPENDED = 'suspended'
"""Lifecycle type: the user switched away from the interaction."""
TYPE_ENDED = 'ended'
"""Lifecycle type: the interaction ended."""
TYPE_FAILED = 'failed'
"""Lifecycle type: the interaction could not start or continue (see ``reason``)."""

# Prompt event types (on_prompt).
PROMPT_STARTED = 'started'
"""Prompt event type: playback started."""
PROMPT_STOPPED = 'stopped'
"""Prompt event type: playback finished (what ``say_and_wait`` waits for)."""
PROMPT_FAILED = 'failed'
"""Prompt event type: playback failed (``say_and_wait`` raises ``WorkflowException``)."""

# Buttons and taps (on_button filters); the same as relaysync.enums.Button and Taps.
BUTTON_ACTION = Button.ACTION
"""The action button (``on_button(button=...)``)."""
BUTTON_CHANNEL = Button.CHANNEL
"""The channel button."""
TAPS_SINGLE = Taps.SINGLE
"""One tap (``on_button(taps=...)``)."""
TAPS_DOUBLE = Taps.DOUBLE
"""Two taps."""
TAPS_TRIPLE = Taps.TRIPLE
"""Three taps."""
TAPS_LONG = Taps.LONG
"""A long press."""

# Notification event sent when a device acknowledges an alert.
NOTIFICATION_ACK = 'ack_event'
"""The notification ``event`` of an acknowledged alert (``on_notification(event=...)``)."""

# Named timers (set_timer).
TIMER_TIMEOUT = TimerType.TIMEOUT
"""``set_timer`` type: fire once."""
TIMER_INTERVAL = TimerType.INTERVAL
"""``set_timer`` type: fire repeatedly until cleared."""
TIMEOUT_TYPES = tuple(t.value for t in TimeoutType)
"""The units of ``set_timer``'s ``timeout_type``."""

# LED effects (led_action).
LED_EFFECTS = tuple(e.value for e in LedEffect)
"""The ``effect`` values of ``led_action``."""

#: The vibration pattern sent when vibrate() gets none (milliseconds).
DEFAULT_VIBRATE_PATTERN = [100, 500, 500, 500, 500, 500]
"""The vibration pattern ``vibrate`` sends when it gets none (milliseconds)."""
