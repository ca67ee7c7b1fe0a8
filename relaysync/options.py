"""Builders of the option dicts some actions take; nothing is sent.

They are also static methods of :class:`~relaysync.Relay`, as in relay-py:
``relay.interaction_options(...)``.
"""

from typing import Any, Dict, List, Optional

from .enums import HomeChannelValue, PriorityValue, SoundValue


def interaction_options(color: str = '0000ff', input_types: Optional[List[str]] = None,
                        home_channel: HomeChannelValue = 'suspend') -> Dict[str, Any]:
    """Build the ``options`` of :meth:`~relaysync.Relay.start_interaction`.  Nothing is sent.

    Args:
        color: the channel's LED colour while the interaction is active, as six
            hex digits (default ``'0000ff'``, blue).
        input_types: the device inputs routed to the workflow as button events
            while the interaction is in the foreground, from
            ``action_button_single_tap``, ``action_button_double_tap``,
            ``action_button_triple_tap``, ``action_button_long_press``,
            ``channel_button_double_tap``, ``channel_button_triple_tap``
            (default: none).
        home_channel: ``'suspend'`` (default) or ``'normal'``: what happens to
            the home channel while the interaction runs.

    Returns:
        ``{'color': color, 'input_types': [...], 'home_channel': home_channel}``.
    """
    return {'color': color, 'input_types': input_types or [], 'home_channel': home_channel}


def push_options(priority: PriorityValue = 'normal',
                 title: Optional[str] = None, body: Optional[str] = None,
                 sound: SoundValue = 'default') -> Dict[str, Any]:
    """Build the ``push_opts`` of a notification, for the Relay mobile app.

    Nothing is sent.

    Args:
        priority: ``'normal'`` (default), ``'high'`` or ``'critical'``.
        title: the push notification's title (left out when None).
        body: its body text (left out when None).
        sound: ``'default'`` (default) or ``'sos'``.

    Returns:
        ``{'priority': ..., 'sound': ...}`` plus ``title`` and ``body`` when given.
    """
    opts: Dict[str, Any] = {'priority': priority, 'sound': sound}
    if title is not None:
        opts['title'] = title
    if body is not None:
        opts['body'] = body
    return opts


def led_info(rotations: Optional[int] = None, count: Optional[int] = None,
             duration: Optional[int] = None, repeat_delay: Optional[int] = None,
             pattern_repeats: Optional[int] = None,
             colors: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Build the ``args`` of :meth:`~relaysync.Relay.led_action` from the values given (not None).

    Nothing is sent.

    Args:
        rotations: how many times the effect goes round (-1: forever).
        count: how many times the effect repeats (-1: forever).
        duration: the effect's duration in milliseconds.
        repeat_delay: milliseconds between repetitions.
        pattern_repeats: how many times the pattern repeats.
        colors: maps ``'ring'`` (every LED) or an LED index ``'1'`` ... ``'16'``
            to a colour as six hex digits, e.g. ``{'ring': '00ff00'}``.

    Returns:
        A dict with the given keys, e.g. ``{'count': 3, 'colors': {'ring': 'ff0000'}}``.
    """
    info = {'rotations': rotations, 'count': count, 'duration': duration,
            'repeat_delay': repeat_delay, 'pattern_repeats': pattern_repeats,
            'colors': colors}
    return {k: v for k, v in info.items() if v is not None}


__all__ = ['interaction_options', 'push_options', 'led_info']
