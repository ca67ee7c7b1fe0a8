"""Protocol constants: relay-py's names, plus the values of the Relay enumerations.

Every name here can also be imported from ``relaysync`` (and
``relaysync.workflow``), e.g. ``relaysync.TYPE_STARTED``.
"""

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
DEVICE_PATTERN = '?device='
"""The query that puts a device URN in an interaction or group-member URN."""
INTERACTION_URI_NAME = 'urn:relay-resource:name:interaction'
"""The prefix of name-based interaction URNs."""
INTERACTION_URI_ID = 'urn:relay-resource:id:interaction'
"""The prefix of id-based interaction URNs."""

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

# Buttons and taps (on_button filters).
BUTTON_ACTION = 'action'
"""The action button (``on_button(button=...)``)."""
BUTTON_CHANNEL = 'channel'
"""The channel button."""
TAPS_SINGLE = 'single'
"""One tap (``on_button(taps=...)``)."""
TAPS_DOUBLE = 'double'
"""Two taps."""
TAPS_TRIPLE = 'triple'
"""Three taps."""
TAPS_LONG = 'long'
"""A long press."""

# Notification event sent when a device acknowledges an alert.
NOTIFICATION_ACK = 'ack_event'
"""The notification ``event`` of an acknowledged alert (``on_notification(event=...)``)."""

# Named timers (set_timer).
TIMER_TIMEOUT = 'timeout'
"""``set_timer`` type: fire once."""
TIMER_INTERVAL = 'interval'
"""``set_timer`` type: fire repeatedly until cleared."""
TIMEOUT_TYPES = ('ms', 'secs', 'mins', 'hrs')
"""The units of ``set_timer``'s ``timeout_type``."""

# LED effects (led_action).
LED_EFFECTS = ('rainbow', 'rotate', 'flash', 'breathe', 'static', 'off')
"""The ``effect`` values of ``led_action``."""

#: The vibration pattern sent when vibrate() gets none (milliseconds).
DEFAULT_VIBRATE_PATTERN = [100, 500, 500, 500, 500, 500]
"""The vibration pattern ``vibrate`` sends when it gets none (milliseconds)."""
