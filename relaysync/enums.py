"""String enums for the closed sets of values people type by hand.

Each member is a ``str`` (its value), so it works wherever a string does:
``relay.say(uri, 'hola', Language.SPANISH)``,
``@wf.on_button(button=Button.ACTION, taps=Taps.DOUBLE)``,
``if direction == CallDirection.INBOUND``.  ``str()``, f-strings and JSON give
the plain value; plain strings keep working everywhere too.

Example:
    >>> from relaysync.enums import Language, Taps
    >>> Language.SPANISH == 'es-ES', f'{Taps.DOUBLE}', str(Language.CHINESE)
    (True, 'double', 'zh')
"""

from enum import Enum
from typing import Literal, Union


class StrEnum(str, Enum):
    """Base of relaysync's enums: members are their string values.

    ``str(member)`` and ``format(member)`` give the value and the member hashes
    as its value, so a member and the plain string are interchangeable as
    dict keys too.
    """

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)

    __hash__ = str.__hash__


class Language(StrEnum):
    """The languages of speech, listening and translation (``lang``,
    ``alt_lang``, ``from_lang``, ``to_lang``): the 35 relay-js lists.

    Which ones the Relay server accepts for each feature is not documented.
    ``POLISH`` is ``'pl-PK'`` as the official SDKs send it.
    """
    ENGLISH = 'en-US'
    GERMAN = 'de-DE'
    SPANISH = 'es-ES'
    FRENCH = 'fr-FR'
    ITALIAN = 'it-IT'
    RUSSIAN = 'ru-RU'
    SWEDISH = 'sv-SE'
    TURKISH = 'tr-TR'
    HINDI = 'hi-IN'
    ICELANDIC = 'is-IS'
    JAPANESE = 'ja-JP'
    KOREAN = 'ko-KR'
    POLISH = 'pl-PK'
    PORTUGUESE = 'pt-BR'
    NORWEGIAN = 'nb-NO'
    DUTCH = 'nl-NL'
    CHINESE = 'zh'
    ARABIC = 'ar'
    VIETNAMESE = 'vi-VN'
    INDONESIAN = 'id-ID'
    FILIPINO = 'fil-PH'
    DANISH = 'da-DK'
    CZECH = 'cs-CZ'
    GUJARATI = 'gu-IN'
    HUNGARIAN = 'hu-HU'
    TAMIL = 'ta-IN'
    UKRAINIAN = 'uk-UA'
    SLOVAK = 'sk-SK'
    ROMANIAN = 'ro-RO'
    PUNJABI = 'pa-IN'
    MALAY = 'ms-MY'
    BENGALI = 'bn-IN'
    GREEK = 'el-GR'
    KANNADA = 'kn-IN'
    FINNISH = 'fi-FI'


class DeviceType(StrEnum):
    """What ``get_device_type`` answers."""
    RELAY = 'relay'
    RELAY2 = 'relay2'
    RELAY_APP = 'relay_app'
    ROIP = 'roip'
    DASH = 'dash'


class NotificationPriority(StrEnum):
    """The ``priority`` of :meth:`~relaysync.Relay.push_options`."""
    NORMAL = 'normal'
    HIGH = 'high'
    CRITICAL = 'critical'


class NotificationSound(StrEnum):
    """The ``sound`` of :meth:`~relaysync.Relay.push_options`."""
    DEFAULT = 'default'
    SOS = 'sos'


class IncidentStatus(StrEnum):
    """The ``type`` of an ``on_incident`` event."""
    RESOLVED = 'resolved'
    CANCELLED = 'cancelled'


class CallDirection(StrEnum):
    """The ``direction`` of the call events, seen from the device."""
    INBOUND = 'inbound'
    OUTBOUND = 'outbound'


class LedEffect(StrEnum):
    """The ``effect`` of :meth:`~relaysync.Relay.led_action`."""
    RAINBOW = 'rainbow'
    ROTATE = 'rotate'
    FLASH = 'flash'
    BREATHE = 'breathe'
    STATIC = 'static'
    OFF = 'off'


class Button(StrEnum):
    """The ``button`` of a button event (and of ``on_button``'s filter)."""
    ACTION = 'action'
    CHANNEL = 'channel'


class Taps(StrEnum):
    """The ``taps`` of a button event (and of ``on_button``'s filter)."""
    SINGLE = 'single'
    DOUBLE = 'double'
    TRIPLE = 'triple'
    LONG = 'long'


class TimerType(StrEnum):
    """The ``timer_type`` of :meth:`~relaysync.Relay.set_timer`."""
    TIMEOUT = 'timeout'
    INTERVAL = 'interval'


class TimeoutType(StrEnum):
    """The ``timeout_type`` (unit) of :meth:`~relaysync.Relay.set_timer`."""
    MILLISECONDS = 'ms'
    SECONDS = 'secs'
    MINUTES = 'mins'
    HOURS = 'hrs'


class SubscribableEvent(StrEnum):
    """The ``event_type`` of :meth:`~relaysync.Relay.subscribe`, and the event
    each one brings (a server feature no released official SDK has yet)."""
    INDOOR_POSITION = 'indoor_position'
    """``on_position`` events."""
    OUTDOOR_POSITION = 'outdoor_position'
    """``on_geofence`` events."""
    NFC_TAP = 'nfc_tap'
    """``on_nfc_tap`` events."""
    HTTP_POST = 'http_post'
    """``on_http_post`` events."""


# The closed sets as types: a member of the enum or its plain value.
ButtonValue = Union[Button, Literal['action', 'channel']]
"""A button: a :class:`Button` or its value."""
TapsValue = Union[Taps, Literal['single', 'double', 'triple', 'long']]
"""A number of taps: a :class:`Taps` or its value."""
LedEffectValue = Union[LedEffect, Literal['rainbow', 'rotate', 'flash', 'breathe', 'static', 'off']]
"""An LED effect: a :class:`LedEffect` or its value."""
TimerTypeValue = Union[TimerType, Literal['timeout', 'interval']]
"""A named timer's kind: a :class:`TimerType` or its value."""
TimeoutTypeValue = Union[TimeoutType, Literal['ms', 'secs', 'mins', 'hrs']]
"""A named timer's unit: a :class:`TimeoutType` or its value."""
SubscribableEventValue = Union[SubscribableEvent, Literal['indoor_position', 'outdoor_position',
                                                          'nfc_tap', 'http_post']]
"""A kind of event to subscribe to: a :class:`SubscribableEvent` or its value."""
PriorityValue = Union[NotificationPriority, Literal['normal', 'high', 'critical']]
"""A push notification's priority: a :class:`NotificationPriority` or its value."""
SoundValue = Union[NotificationSound, Literal['default', 'sos']]
"""A push notification's sound: a :class:`NotificationSound` or its value."""
HomeChannelValue = Literal['suspend', 'normal']
"""What happens to the home channel while an interaction runs."""

__all__ = ['StrEnum', 'Language', 'DeviceType', 'NotificationPriority', 'NotificationSound',
           'IncidentStatus', 'CallDirection', 'LedEffect', 'Button', 'Taps', 'TimerType',
           'TimeoutType', 'SubscribableEvent']
