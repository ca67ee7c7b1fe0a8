"""``Relay``: the context object every handler receives, with the device actions.

Each action is a method that sends one request (a few send one per item) and
blocks until its answer.  What each sends, waits for and returns is written
once, in the table :data:`relaysync.actions.ACTIONS`, which the methods read
and the API reference renders under each method.  Names, argument names,
defaults, the JSON sent and the values returned are relay-py's; see the
porting guide for the few deliberate differences.
"""

import logging
import warnings
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping,
                    MutableMapping, Optional, Tuple, TypeVar, Union, cast)

from . import options, urns
from .actions import ACTIONS, RESPONSE, Action, build, describe
from .enums import (Language, LedEffectValue, SubscribableEventValue, TimeoutTypeValue,
                    TimerTypeValue)
from .events import WAIT_PROMPT
from .exceptions import InvalidArgument, WorkflowException
from .targets import Target, make_target, source_uri_of
from .timeouts import Timeouts

if TYPE_CHECKING:  # the engine hands itself in; relay.py never imports it at run time
    from .connection import Connection

logger = logging.getLogger('relaysync.relay')
#: Where ``relay.logger`` writes: the workflow's own lines.
workflow_logger = logging.getLogger('relaysync.workflow')

T = TypeVar('T')
D = TypeVar('D')

EVENT_PARAMETERS_CONTENT_TYPE = 'application/vnd.relay.event.parameters+json'

# The target argument of an action that sends no ``_target`` (None is a mistake).
_NO_TARGET: Any = object()
# The request type each action sends, computed once.
_TYPES = {name: f'wf_api_{action.request}_request' for name, action in ACTIONS.items()}


class _InstanceLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes each line with the connection id, as relay-py's per-instance logger."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]
                ) -> Tuple[Any, MutableMapping[str, Any]]:
        return f'[{self.extra["id"] if self.extra else "?"}] {msg}', kwargs


class Relay:
    """One workflow instance's handle on the Relay server.

    Handlers receive it as their first argument.  It lives as long as the
    connection.  Actions are safe to call from any thread, not only from
    handlers.  Under each action the reference shows the request it sends,
    what it waits for and what it returns (from :data:`relaysync.actions.ACTIONS`).

    Arguments shared by the actions:

    * ``target``: where to act: a URN string (a device, group or interaction
      URN), a list of URN strings, or relay-py's ``{'uris': [...]}`` dict, sent
      as ``"_target": {"uris": [...]}`` (see :func:`make_target`).  Speech,
      listening, LEDs and vibration usually aim at the interaction URN of the
      lifecycle ``started`` event; device queries and settings at a device URN
      (or an interaction URN on it).
    * ``refresh``: for the device queries that take it, True asks the device
      for a fresh reading first (slower; bounded by ``timeouts.refresh``).

    **What every action raises**, besides what its own entry says:

    * :class:`~relaysync.ErrorResponse` (a ``WorkflowException``): the Relay
      server answered with an error;
    * :class:`~relaysync.RelayTimeout` (a ``WorkflowException`` and
      ``TimeoutError``): no answer within the :class:`~relaysync.Timeouts`
      field its entry names, restarted by each progress event;
    * :class:`~relaysync.ConnectionClosed` (a ``WorkflowException`` and
      ``ConnectionError``): the connection is closed or closes meanwhile;
    * :class:`~relaysync.InvalidArgument` (a ``WorkflowException``,
      ``TypeError`` and ``ValueError``): a malformed argument, such as a
      target that is not a Relay URN; nothing is sent.

    Args:
        connection: the engine of the instance (what the server creates).

    Attributes:
        connection: the engine :class:`~relaysync.connection.Connection`.
        workflow: the :class:`~relaysync.Workflow` being run.
        logger: a logger for the workflow's own lines, as relay-py's
            ``workflow.logger``: ``relay.logger.info('...')`` logs on
            ``relaysync.workflow``, each line prefixed with the connection id.
    """

    def __init__(self, connection: 'Connection') -> None:
        self.connection = connection
        self.workflow = connection.workflow
        self.logger = _InstanceLogger(workflow_logger, {'id': connection.id})
        self._analytics_defaults: Dict[str, Any] = {}

    def __repr__(self) -> str:
        return f'<Relay {self.connection.id} {self.workflow!r}>'

    @property
    def timeouts(self) -> Timeouts:
        """This instance's :class:`~relaysync.Timeouts` (a copy of the server's).

        Change a field to affect the calls made after the change, for this
        instance only: ``relay.timeouts.request = 5``.
        """
        return self.connection.timeouts

    @property
    def id(self) -> str:
        """The connection id used in log lines (``c1``, ``c2``, ...)."""
        return self.connection.id

    # ------------------------------------------------------------ primitive
    def request(self, name: str, payload: Optional[Mapping[str, Any]] = None,
                target: Optional[Target] = None,
                timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send any request and return the whole response: the escape hatch.

        Sends ``{"_id": ..., "_type": "wf_api_<name>_request", "_target": ...,
        **payload}`` and blocks until the matching response arrives.

        Args:
            name: the request name, e.g. ``'get_var'`` for ``wf_api_get_var_request``;
                a full type starting with ``wf_api_`` is sent as it is.
            payload: the request's other fields (default: none).  Keys whose value
                is None are left out, also inside nested dicts.
            timeout: seconds to wait for the response (default ``timeouts.request``),
                restarted by each progress event.

        Returns:
            The response message as a dict, including ``_id`` and ``_type``.
        """
        request_type = name if name.startswith('wf_api_') else f'wf_api_{name}_request'
        body: Dict[str, Any] = {}
        if target is not None:
            body['_target'] = make_target(target)
        body.update(payload or {})
        return self.connection.call(request_type, body, timeout=timeout).response or {}

    def _act(self, _name: str, _target: Any = _NO_TARGET, /, **args: Any) -> Any:
        """Run one row of the action table with the method's arguments."""
        action: Action = ACTIONS[_name]
        body: Dict[str, Any] = {}
        if action.target:
            body['_target'] = args[action.target] = make_target(_target)
        build(action, args, body)
        if action.waits == RESPONSE and action.timeout == 'request':   # the common case
            answer = self.connection.call(_TYPES[_name], body).response or {}
        else:
            return self._act_slow(_name, action, body, args)
        returns = action.returns
        return answer.get(returns, args.get('default')) if returns else None

    def _act_slow(self, name: str, action: Action, body: Dict[str, Any],
                  args: Dict[str, Any]) -> Any:
        """:meth:`_act` for the rows that wait for an event or use another timeout."""
        waits = action.waits
        timeouts = self.connection.timeouts
        timeout = (timeouts.notification if action.timeout == 'notification' else
                   timeouts.refresh if action.timeout == 'refresh' and args.get('refresh')
                   else None)
        if waits == RESPONSE:
            answer = self.connection.call(_TYPES[name], body, timeout=timeout).response or {}
        elif waits == WAIT_PROMPT:
            answer = self.connection.call(_TYPES[name], body, timeout=timeout, wait=waits,
                                          event_timeout=timeouts.prompt).response or {}
        else:  # WAIT_SPEECH: the listen's own timeout, plus a margin
            seconds = args['timeout']
            seconds = float(seconds) if isinstance(seconds, (int, float)) and seconds > 0 \
                else 0.0
            done = self.connection.call(_TYPES[name], body, timeout=timeout, wait=waits,
                                        event_timeout=seconds + timeouts.listen_margin)
            event: Dict[str, Any] = done.event or {}
            return event.get(action.returns if args['transcribe'] else 'audio')
        returns = action.returns
        return answer.get(returns, args.get('default')) if returns else None

    # ------------------------------------------------------- trigger helpers
    @staticmethod
    def make_target_uris(trigger: Mapping[str, Any]) -> Dict[str, List[str]]:
        """The target of the device that fired the workflow, ``{'uris': [source_uri]}``,
        from the ``trigger`` of ``on_start`` (checked by
        :func:`~relaysync.targets.source_uri_of`).  Nothing is sent."""
        return {'uris': [source_uri_of(trigger)]}

    @staticmethod
    def get_source_uri_from_trigger(trigger: Mapping[str, Any]) -> str:
        """The URN of the device that fired the workflow, from the ``trigger`` of
        ``on_start``: :func:`~relaysync.targets.source_uri_of`.  Nothing is sent."""
        return source_uri_of(trigger)

    @staticmethod
    def targets_from_source_uri(source_uri: str) -> Dict[str, List[str]]:
        """Wrap ``source_uri`` as a target, ``{'uris': [source_uri]}``, unchecked.

        Nothing is sent."""
        return {'uris': [source_uri]}

    # The builders of options (nothing is sent), relay-py's static methods.
    interaction_options = staticmethod(options.interaction_options)
    push_options = staticmethod(options.push_options)
    led_info = staticmethod(options.led_info)

    # -------------------------------------------------------------- vars
    def get_var(self, name: str, default: Any = None) -> Any:
        """Read an instance variable: a registration or trigger ``arg``, or what
        :meth:`set_var` stored (a string), else ``default``.

        Args:
            name: the variable name.
            default: returned when the variable is not set (default None).
        """
        return self._act('get_var', name=name, default=default)

    def get_number_var(self, name: str, default: Any = None) -> int:
        """Read an instance variable as an integer: ``int(value)``.

        Args:
            name: the variable name.
            default: used when the variable is unset, converted too (default
                None: an unset variable raises ``WorkflowException``).

        Raises:
            WorkflowException: unset, and no default (relay-py raised ``TypeError``).
            ValueError: the value is not an integer.
        """
        value = self._act('get_number_var', name=name, default=default)
        if value is None:
            raise WorkflowException(f'variable {name!r} is not set and no default was given')
        return int(value)

    def get_mapped_var(self, name: str, mapper: Callable[[str], T],
                       default: Optional[D] = None) -> Union[T, D, None]:
        """Read an instance variable converted by ``mapper``: ``mapper(value)``,
        or ``default`` (not mapped) when unset.

        Args:
            name: the variable name.
            mapper: called with the string value; what it raises propagates.
            default: returned when the variable is unset.
        """
        return self._mapped('get_mapped_var', name, mapper, default)

    def _mapped(self, action: str, name: str, mapper: Callable[[str], T],
                default: Optional[D]) -> Union[T, D, None]:
        value = self._act(action, name=name)
        return default if value is None else mapper(value)

    def get_boolean_var(self, name: str, default: Optional[bool] = None) -> Optional[bool]:
        """Read an instance variable as a bool (``value == 'true'``), else ``default``.

        Args:
            name: the variable name.
            default: returned when the variable is unset.
        """
        return self._mapped('get_boolean_var', name, lambda v: v == 'true', default)

    def get_array_var(self, name: str,
                      default: Optional[List[str]] = None) -> Optional[List[str]]:
        """Read an instance variable as a list of strings (``value.split(',')``,
        ``[]`` for an empty string), else ``default``.

        Args:
            name: the variable name.
            default: returned when the variable is unset.
        """
        return self._mapped('get_array_var', name, lambda v: v.split(',') if v else [],
                            default)

    def get_number_array_var(self, name: str, default: Optional[List[Union[int, float]]] = None
                             ) -> Optional[List[Union[int, float]]]:
        """Read an instance variable as a list of numbers split on ``,`` (each an
        ``int`` when it is one, else a ``float``), else ``default``.

        Args:
            name: the variable name.
            default: returned when the variable is unset.

        Raises:
            ValueError: an item is not a number.
        """
        def numbers(value: str) -> List[Union[int, float]]:
            return [_number(v) for v in value.split(',')] if value else []
        return self._mapped('get_number_array_var', name, numbers, default)

    def set_var(self, name: str, value: Any) -> Any:
        """Set an instance variable for the instance's life; returns what the server
        stored, else ``value``.  Sent as it is, as relay-py sends it.

        Args:
            name: the variable name.
            value: the value, normally a string (Relay variables hold strings).
        """
        return self._act('set_var', name=name, value=value, default=value)

    def set_vars(self, values: Mapping[str, Any]) -> None:
        """Set several instance variables, in the mapping's order.

        Args:
            values: ``{name: value}``, each value normally a string.
        """
        for name, value in values.items():
            self._act('set_vars', name=name, value=value)

    def unset_var(self, name: str) -> None:
        """Remove an instance variable.

        Args:
            name: the variable name.
        """
        self._act('unset_var', name=name)

    def unset_vars(self, names: Iterable[str]) -> None:
        """Remove several instance variables.

        Args:
            names: the variable names.
        """
        for name in names:
            self._act('unset_vars', name=name)

    # ------------------------------------------------------- interactions
    def start_interaction(self, target: Target, name: str,
                          options: Optional[Mapping[str, Any]] = None) -> None:
        """Start an interaction (a temporary channel) on the target device(s),
        usually ``relay.make_target_uris(trigger)``.

        Args:
            name: the interaction's name (shown on the device).
            options: from :meth:`interaction_options` (default: left out).
        """
        self._act('start_interaction', target, name=name, options=options)

    def end_interaction(self, target: Target) -> None:
        """End an interaction (its URN); the lifecycle ``ended`` event follows."""
        self._act('end_interaction', target)

    # ------------------------------------------------------------- speech
    def say(self, target: Target, text: str, lang: Union[Language, str] = 'en-US') -> str:
        """Speak ``text`` on the target, without waiting for it to finish; returns
        the playback id, for :meth:`stop_playback` and to match ``on_prompt`` events.

        Args:
            text: what to say.
            lang: the language of ``text`` (default ``'en-US'``).
        """
        return cast(str, self._act('say', target, text=text, lang=lang))

    def say_and_wait(self, target: Target, text: str,
                     lang: Union[Language, str] = 'en-US') -> str:
        """Speak ``text`` and block until the device has finished; returns the playback id.

        Args:
            text: what to say.
            lang: the language of ``text`` (default ``'en-US'``).

        Raises:
            PlaybackFailed: the device reports that the playback failed.
        """
        return cast(str, self._act('say_and_wait', target, text=text, lang=lang))

    def play(self, target: Target, filename: str) -> str:
        """Play an audio file on the target, without waiting; returns the playback id.

        Args:
            filename: an uploaded audio file's name, or a built-in sound such as
                ``'relay-static://emergency'``.
        """
        return cast(str, self._act('play', target, filename=filename))

    def play_and_wait(self, target: Target, filename: str) -> str:
        """Play an audio file and block until it has finished; returns the playback id.

        Args:
            filename: an uploaded audio file's name, or a built-in sound.

        Raises:
            PlaybackFailed: the device reports that the playback failed.
        """
        return cast(str, self._act('play_and_wait', target, filename=filename))

    def stop_playback(self, target: Target,
                      pb_id: Union[str, List[str], None] = None) -> None:
        """Stop speech or audio playing on the target.

        Args:
            pb_id: a playback id from :meth:`say`/:meth:`play`, or a list of them;
                None (default) stops all playback.
        """
        if isinstance(pb_id, str):
            ids: Optional[List[str]] = [pb_id]
        elif pb_id is None or isinstance(pb_id, list):
            ids = pb_id
        else:
            raise InvalidArgument(f'stop_playback: pb_id must be a string, a list or None, '
                                  f'got {pb_id!r}')
        self._act('stop_playback', target, ids=ids)

    def listen(self, target: Target, phrases: Union[str, List[str], None] = None,
               transcribe: bool = True, alt_lang: Union[Language, str, None] = None,
               timeout: int = 60) -> Optional[str]:
        """Listen for speech (the user answers with push-to-talk) and return it:
        the text, ``''`` when nothing was said, None when the event lacks it.

        Args:
            phrases: phrases to favour; a single string is wrapped in a list.
            transcribe: True (default) returns the text; False the recorded audio.
            alt_lang: another language to recognise, e.g. ``'es-ES'``.
            timeout: seconds the device waits for speech (default 60).
        """
        if phrases is None:
            phrases = []
        elif isinstance(phrases, str):
            phrases = [phrases]
        result: Optional[str] = self._act('listen', target, phrases=phrases,
                                          transcribe=transcribe, timeout=timeout,
                                          alt_lang=alt_lang)
        return result

    def translate(self, text: str, from_lang: Union[Language, str] = 'en-US',
                  to_lang: Union[Language, str] = 'es-ES') -> str:
        """Translate ``text`` from ``from_lang`` (default ``'en-US'``) to ``to_lang``
        (default ``'es-ES'``) and return the translation.

        Args:
            text: the text to translate.
            from_lang: its language.
            to_lang: the language wanted.
        """
        return cast(str, self._act('translate', text=text, from_lang=from_lang, to_lang=to_lang))

    # ------------------------------------------------------- notifications
    def alert(self, target: Target, originator: str, name: str, text: str,
              push_opts: Optional[Mapping[str, Any]] = None) -> None:
        """Send an alert, usually to a group: it repeats on each device until one
        acknowledges it (a notification event with ``event`` ``'ack_event'``).

        Args:
            originator: the URN the alert is sent on behalf of.
            name: the alert's name, to cancel it; echoed in its events.
            text: what the devices say.
            push_opts: from :meth:`push_options`, for the Relay app.
        """
        self._act('alert', target, originator=originator, name=name, text=text,
                  push_opts=push_opts)

    def cancel_alert(self, target: Target, name: str) -> None:
        """Cancel the alert named ``name`` on the target devices."""
        self._act('cancel_alert', target, name=name)

    def broadcast(self, target: Target, originator: str, name: str, text: str,
                  push_opts: Optional[Mapping[str, Any]] = None) -> None:
        """Broadcast ``text`` to the target devices, with no acknowledgement; the
        ``originator``, ``name`` and ``push_opts`` are as for :meth:`alert`."""
        self._act('broadcast', target, originator=originator, name=name, text=text,
                  push_opts=push_opts)

    def cancel_broadcast(self, target: Target, name: str) -> None:
        """Cancel the broadcast named ``name`` on the target devices."""
        self._act('cancel_broadcast', target, name=name)

    def notify(self, target: Target, originator: str, name: str, text: str,
               push_opts: Optional[Mapping[str, Any]] = None) -> None:
        """Deprecated (``DeprecationWarning``): as :meth:`broadcast`, with the type
        ``notify`` no official SDK has sent since 2022 (``originator``, ``name``,
        ``text`` and ``push_opts`` as for :meth:`alert`); use :meth:`alert` or
        :meth:`broadcast`."""
        warnings.warn('Relay.notify() is deprecated: no official Relay SDK has sent '
                      'notifications of type "notify" since 2022; use alert() (acknowledged) '
                      'or broadcast()', DeprecationWarning, stacklevel=2)
        self._act('notify', target, originator=originator, name=name, text=text,
                  push_opts=push_opts)

    def cancel_notify(self, target: Target, name: str) -> None:
        """Deprecated (``DeprecationWarning``): cancel the notification named
        ``name``; use :meth:`cancel_alert` or :meth:`cancel_broadcast`."""
        warnings.warn('Relay.cancel_notify() is deprecated: no official Relay SDK has sent '
                      'notifications of type "notify" since 2022; use cancel_alert() or '
                      'cancel_broadcast()', DeprecationWarning, stacklevel=2)
        self._act('cancel_notify', target, name=name)

    # --------------------------------------------------------- device info
    def get_device_name(self, target: Target) -> str:
        """The device's name."""
        return cast(str, self._act('get_device_name', target))

    def get_device_id(self, target: Target) -> str:
        """The device's id."""
        return cast(str, self._act('get_device_id', target))

    def get_device_type(self, target: Target) -> str:
        """The device type: ``relay``, ``relay2``, ``relay_app``, ``roip`` or ``dash``
        (see :class:`~relaysync.enums.DeviceType`)."""
        return cast(str, self._act('get_device_type', target))

    def get_user_profile(self, target: Target) -> str:
        """The username of the profile logged in on the device."""
        return cast(str, self._act('get_user_profile', target))

    def get_device_location(self, target: Target, refresh: bool = False) -> str:
        """The street address of the device's last known location."""
        return cast(str, self._act('get_device_location', target, refresh=refresh))

    def get_device_address(self, target: Target, refresh: bool = False) -> str:
        """The same as :meth:`get_device_location`."""
        return cast(str, self._act('get_device_address', target, refresh=refresh))

    def get_device_coordinates(self, target: Target, refresh: bool = False) -> List[float]:
        """The device's coordinates, ``[latitude, longitude]``."""
        result: List[float] = self._act('get_device_coordinates', target, refresh=refresh)
        return result

    def get_device_latlong(self, target: Target, refresh: bool = False) -> List[float]:
        """The same as :meth:`get_device_coordinates`."""
        result: List[float] = self._act('get_device_latlong', target, refresh=refresh)
        return result

    def get_device_indoor_location(self, target: Target, refresh: bool = False) -> str:
        """The device's indoor location."""
        return cast(str, self._act('get_device_indoor_location', target, refresh=refresh))

    def get_device_battery(self, target: Target, refresh: bool = False) -> int:
        """The device's battery level in percent, as the server sends it."""
        result: int = self._act('get_device_battery', target, refresh=refresh)
        return result

    def get_device_location_enabled(self, target: Target) -> Any:
        """Whether location is enabled on the device, as the server sends it."""
        return self._act('get_device_location_enabled', target)

    def set_device_name(self, target: Target, name: str) -> None:
        """Rename the device.

        Args:
            name: the new name.
        """
        self._act('set_device_name', target, name=name)

    def enable_location(self, target: Target) -> None:
        """Turn location on for the device."""
        self._act('enable_location', target)

    def disable_location(self, target: Target) -> None:
        """Turn location off for the device."""
        self._act('disable_location', target)

    def set_channel(self, target: Target, channel_name: str, suppress_tts: bool = False,
                    disable_home_channel: bool = False) -> None:
        """Switch the device to a channel.

        Args:
            channel_name: the channel to switch to.
            suppress_tts: True stops the device announcing the switch.
            disable_home_channel: True also disables the home channel.
        """
        self._act('set_channel', target, channel_name=channel_name, suppress_tts=suppress_tts,
                  disable_home_channel=disable_home_channel)

    def enable_home_channel(self, target: Target) -> None:
        """Enable the device's home channel."""
        self._act('enable_home_channel', target)

    def disable_home_channel(self, target: Target) -> None:
        """Disable the device's home channel."""
        self._act('disable_home_channel', target)

    def set_user_profile(self, target: Target, username: str, force: bool = False) -> None:
        """Log the device into a user profile.

        Args:
            username: the profile to log in.
            force: True logs in even when another profile is logged in.
        """
        self._act('set_user_profile', target, username=username, force=force)

    # -------------------------------------------------------- LEDs, vibrate
    def led_action(self, target: Target, effect: LedEffectValue = 'flash',
                   args: Optional[Mapping[str, Any]] = None) -> None:
        """Run an LED effect; the methods below build the common ones.

        Args:
            effect: a :class:`~relaysync.enums.LedEffect` value (default ``'flash'``).
            args: the effect's arguments, as built by :meth:`led_info`.
        """
        self._act('led_action', target, effect=effect, args=args)

    def switch_all_led_on(self, target: Target, color: str = '0000ff') -> None:
        """Light every LED in ``color`` (six hex digits)."""
        self._act('switch_all_led_on', target, color=color)

    def switch_led_on(self, target: Target, index: Union[int, str],
                      color: str = '0000ff') -> None:
        """Light one LED in ``color`` (six hex digits).

        Args:
            index: the LED number, 1 to 16, as an int or a string of digits.
        """
        number = index if isinstance(index, int) and not isinstance(index, bool) else (
            int(index) if isinstance(index, str) and index.isascii() and index.isdigit() else None)
        if number is None or not 1 <= number <= 16:
            raise InvalidArgument(f'switch_led_on: index must be a number from 1 to 16, '
                                  f'got {index!r}')
        self._act('switch_led_on', target, index=number, color=color)

    def switch_all_led_off(self, target: Target) -> None:
        """Turn every LED off."""
        self._act('switch_all_led_off', target)

    def rainbow(self, target: Target, rotations: int = -1) -> None:
        """Run the rainbow effect ``rotations`` times round (-1: until changed)."""
        self._act('rainbow', target, rotations=rotations)

    def rotate(self, target: Target, color: str = '0000ff', rotations: int = -1) -> None:
        """Rotate one LED lit in ``color`` round the ring ``rotations`` times (-1:
        until changed)."""
        self._act('rotate', target, color=color, rotations=rotations)

    def flash(self, target: Target, color: str = '0000ff', count: int = -1) -> None:
        """Flash every LED in ``color``, ``count`` times (-1: until changed)."""
        self._act('flash', target, color=color, count=count)

    def breathe(self, target: Target, color: str = '0000ff', count: int = -1) -> None:
        """Fade every LED in ``color`` in and out, ``count`` times (-1: until changed)."""
        self._act('breathe', target, color=color, count=count)

    def vibrate(self, target: Target, pattern: Optional[List[int]] = None) -> None:
        """Vibrate the device.

        Args:
            pattern: durations in milliseconds (default: the standard pattern).
        """
        self._act('vibrate', target, pattern=pattern)

    # -------------------------------------------------------------- timers
    def start_timer(self, timeout: int = 60) -> None:
        """Start the instance's unnamed timer, handled by ``on_timer``.

        Args:
            timeout: seconds until the timer event (default 60).
        """
        self._act('start_timer', timeout=timeout)

    def stop_timer(self) -> None:
        """Stop the unnamed timer."""
        self._act('stop_timer')

    def set_timer(self, name: str, timer_type: TimerTypeValue = 'timeout',
                  timeout: int = 60, timeout_type: TimeoutTypeValue = 'secs') -> None:
        """Start a named timer (a name set again replaces it); ``on_timer_fired``
        receives its ``name``.

        Args:
            name: the timer's name.
            timer_type: ``'timeout'`` (default) fires once; ``'interval'`` repeats
                until :meth:`clear_timer`.
            timeout: the delay, in ``timeout_type`` units (default 60).
            timeout_type: ``'ms'``, ``'secs'`` (default), ``'mins'`` or ``'hrs'``.
        """
        self._act('set_timer', timer_type=timer_type, name=name, timeout=timeout,
                  timeout_type=timeout_type)

    def clear_timer(self, name: str) -> None:
        """Cancel the named timer ``name``."""
        self._act('clear_timer', name=name)

    # ----------------------------------------------------------- incidents
    def create_incident(self, originator: str, itype: str) -> str:
        """Create an incident (shown in Relay Dash) and return its id; its
        resolution arrives as an ``on_incident`` event.

        Args:
            originator: the URN of the device the incident concerns.
            itype: a free-form incident type, e.g. ``'Panic Alert'``.
        """
        return cast(str, self._act('create_incident', itype=itype, originator=originator))

    def resolve_incident(self, incident_id: str, reason: str) -> None:
        """Resolve the incident ``incident_id`` (from :meth:`create_incident`),
        saying why in ``reason``."""
        self._act('resolve_incident', incident_id=incident_id, reason=reason)

    # --------------------------------------------------------------- calls
    def place_call(self, target: Target, callee_uri: str) -> str:
        """Call ``callee_uri`` (a device URN or an address) from the target device
        and return the call id; progress arrives as ``on_call_*`` events."""
        return cast(str, self._act('place_call', target, callee_uri=callee_uri))

    def answer_call(self, target: Target, call_id: str) -> None:
        """Answer the call ``call_id`` (from the call event) ringing on the device."""
        self._act('answer_call', target, call_id=call_id)

    def hangup_call(self, target: Target, call_id: str) -> None:
        """Hang up (or decline) the call ``call_id`` on the device."""
        self._act('hangup_call', target, call_id=call_id)

    def register(self, target: Target, uri: str, password: str, expires: int) -> None:
        """Register the device with a SIP-style endpoint for calls.

        Args:
            uri: the endpoint address.
            password: its password.
            expires: seconds the registration lasts; 0 unregisters.
        """
        self._act('register', target, uri=uri, password=password, expires=expires)

    def register_for_calls(self, target: Target, uri: str, password: str,
                           expires: int = 3600) -> None:
        """:meth:`register` at ``uri`` with ``password``, ``expires`` defaulting to one
        hour (3600)."""
        self._act('register_for_calls', target, uri=uri, password=password, expires=expires)

    def unregister_for_calls(self, target: Target, uri: str, password: str) -> None:
        """Unregister from ``uri`` (with its ``password``): :meth:`register` with
        ``expires`` 0."""
        self._act('unregister_for_calls', target, uri=uri, password=password)

    # -------------------------------------------------------------- groups
    def get_group_members(self, group_uri: str) -> List[str]:
        """The device URNs of the members of the group ``group_uri``."""
        result: List[str] = self._act('get_group_members', group_uri=group_uri)
        return result

    def is_group_member(self, group_name_uri: str, potential_member_name_uri: str) -> bool:
        """Whether a device belongs to a group.

        Args:
            group_name_uri: a name-based group URN (:func:`~relaysync.group_name`).
            potential_member_name_uri: a name-based device URN, or an interaction
                URN whose device is name-based.
        """
        group = urns.parse_group_name(group_name_uri)
        device = urns.parse_device_name(potential_member_name_uri)
        if group is None or device is None:
            raise InvalidArgument(f'is_group_member needs a name-based group URN and device '
                                  f'URN, got {group_name_uri!r}, {potential_member_name_uri!r}')
        return cast(bool, self._act('is_group_member', group_uri=urns.group_member(group, device)))

    def create_group(self, name: str) -> str:
        """Create a group named ``name`` and return its URN (a relay-js action)."""
        return cast(str, self._act('create_group', name=name))

    def delete_group(self, group_uri: str) -> None:
        """Delete the group ``group_uri``."""
        self._act('delete_group', group_uri=group_uri)

    def add_group_members(self, group_uri: str, members: Target) -> None:
        """Add ``members`` (device URNs, in any target form) to the group ``group_uri``."""
        self._act('add_group_members', members, group_uri=group_uri)

    def remove_group_members(self, group_uri: str, members: Target) -> None:
        """Remove ``members`` (device URNs, in any target form) from the group
        ``group_uri``."""
        self._act('remove_group_members', members, group_uri=group_uri)

    # --------------------------------------------------------------- inbox
    def get_unread_inbox_size(self, target: Target) -> Any:
        """The number of unread inbox messages on the device, as the server sends
        it: a string holding an integer (not converted, as in relay-py)."""
        return self._act('get_unread_inbox_size', target)

    def play_unread_inbox_messages(self, target: Target) -> None:
        """Play the device's unread inbox messages; ``on_play_inbox_message`` follows."""
        self._act('play_unread_inbox_messages', target)

    # ------------------------------------------------------- subscriptions
    def subscribe(self, target: Target, event_type: SubscribableEventValue) -> None:
        """Ask for the events ``event_type`` names from the target devices from
        now on (a server feature no released official SDK has yet).

        Args:
            event_type: a :class:`~relaysync.enums.SubscribableEvent`, which also
                names the event handler that receives them.
        """
        self._act('subscribe', target, event_type=_event_type('subscribe', event_type))

    def unsubscribe(self, target: Target, event_type: SubscribableEventValue) -> None:
        """Stop the subscription to ``event_type`` made with :meth:`subscribe`."""
        self._act('unsubscribe', target, event_type=_event_type('unsubscribe', event_type))

    # ---------------------------------------------------------- analytics
    def log_message(self, message: str, category: str = 'default', target: Optional[str] = None,
                    content_type: str = 'text/plain') -> None:
        """Record an analytics event (readable with the Relay CLI and Dash).

        Args:
            message: the event text.
            category: the event category (default ``'default'``).
            target: the URN of a device the event concerns (default: none).
            content_type: the MIME type of ``message`` (default ``'text/plain'``).
        """
        self._act('log_message', message=message, content_type=content_type,
                  category=category, target=target)

    def log_user_message(self, message: str, target: str, category: str) -> None:
        """Record the analytics event ``message`` of ``category``, attributed to the
        device ``target`` (a URN)."""
        self._act('log_user_message', message=message, target=target, category=category)

    def debug_log(self, message: str) -> None:
        """Write the line ``message`` to the workflow's debug log, shown by ``relay
        workflow debug`` (a server feature no released official SDK has yet)."""
        self._act('debug_log', message=message)

    def set_default_analytic_event_parameters(self, params: Mapping[str, Any]) -> None:
        """Set ``params`` (``{name: value}``) added to every later :meth:`track_event`
        and :meth:`track_user_event`, replacing any set before.  Nothing is sent;
        parameters given to a track call win over these."""
        self._analytics_defaults = dict(params)

    def track_event(self, category: str, parameters: Optional[Mapping[str, Any]] = None) -> None:
        """Record a structured analytics event of ``category`` with ``parameters``
        (``{name: value}``), merged over the default parameters."""
        self._act('track_event', category=category,
                  parameters=dict(self._analytics_defaults, **(parameters or {})))

    def track_user_event(self, category: str, target: str,
                         parameters: Optional[Mapping[str, Any]] = None) -> None:
        """:meth:`track_event` (``category``, ``parameters``), attributed to the device
        ``target`` (a URN)."""
        self._act('track_user_event', target=target, category=category,
                  parameters=dict(self._analytics_defaults, **(parameters or {})))

    # ----------------------------------------------------------------- sms
    def sms(self, stype: str, text: str, uri: str) -> str:
        """Send the SMS ``text`` of type ``stype`` to ``uri`` and return its message
        id; delivery is reported to ``on_sms``."""
        return cast(str, self._act('sms', stype=stype, text=text, uri=uri))

    # ----------------------------------------------------------- lifecycle
    def terminate(self) -> None:
        """End this workflow instance; interactions still open end with it.

        Never raises: when the connection is already closed, nothing is sent.
        """
        if self.connection.is_closed:
            logger.debug('[%s] terminate: connection already closed', self.connection.id)
            return
        try:
            self.connection.send(_TYPES['terminate'], {})
        except WorkflowException:
            logger.debug('[%s] terminate: connection closed meanwhile', self.connection.id)


def _event_type(action: str, event_type: Any) -> str:
    if not isinstance(event_type, str) or not event_type:
        raise InvalidArgument(f'{action}: event_type must be a non-empty string such as '
                              f'\'nfc_tap\', got {event_type!r}')
    return event_type


def _number(text: str) -> Union[int, float]:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _document_actions() -> None:
    """Add each action's row of the table to its docstring (``help()`` shows it)."""
    for name in ACTIONS:
        method = getattr(Relay, name)
        if method.__doc__ and 'wf_api_' not in method.__doc__:
            method.__doc__ += '\n\n        ' + describe(name) + '\n'


_document_actions()

__all__ = ['Relay', 'make_target', 'Target']
