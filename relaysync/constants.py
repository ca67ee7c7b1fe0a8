"""Protocol constants: relay-py's names, plus the values of the Relay enumerations."""

from .version import SERVER_NAME

#: relay-py's version constant; here the name relaysync announces itself with.
VERSION = SERVER_NAME

# URN building blocks (relay-py names).
SCHEME = 'urn'
ROOT = 'relay-resource'
GROUP = 'group'
ID = 'id'
NAME = 'name'
DEVICE = 'device'
DEVICE_PATTERN = '?device='
INTERACTION_URI_NAME = 'urn:relay-resource:name:interaction'
INTERACTION_URI_ID = 'urn:relay-resource:id:interaction'

# Interaction lifecycle types (the ``itype`` of on_interaction_lifecycle).
TYPE_STARTED = 'started'
TYPE_RESUMED = 'resumed'
TYPE_SUSPENDED = 'suspended'
TYPE_ENDED = 'ended'
TYPE_FAILED = 'failed'

# Prompt event types (on_prompt).
PROMPT_STARTED = 'started'
PROMPT_STOPPED = 'stopped'
PROMPT_FAILED = 'failed'

# Buttons and taps (on_button filters).
BUTTON_ACTION = 'action'
BUTTON_CHANNEL = 'channel'
TAPS_SINGLE = 'single'
TAPS_DOUBLE = 'double'
TAPS_TRIPLE = 'triple'
TAPS_LONG = 'long'

# Notification event sent when a device acknowledges an alert.
NOTIFICATION_ACK = 'ack_event'

# Named timers (set_timer).
TIMER_TIMEOUT = 'timeout'
TIMER_INTERVAL = 'interval'
TIMEOUT_TYPES = ('ms', 'secs', 'mins', 'hrs')

# LED effects (led_action).
LED_EFFECTS = ('rainbow', 'rotate', 'flash', 'breathe', 'static', 'off')

#: The vibration pattern sent when vibrate() gets none (milliseconds).
DEFAULT_VIBRATE_PATTERN = [100, 500, 500, 500, 500, 500]
