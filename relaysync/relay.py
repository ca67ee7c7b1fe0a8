"""``Relay``: the context object every handler receives, with the device actions.

Each action is a thin wrapper over one primitive, :meth:`Relay.request`, which
sends ``wf_api_<name>_request`` and blocks until its response (see
:meth:`relaysync.connection.Connection.call`).  Names, argument names, defaults,
the JSON sent and the values returned are relay-py's; see the porting guide for
the few deliberate differences.

Every blocking action raises:

* :class:`~relaysync.ErrorResponse` (a ``WorkflowException``) when the Relay
  server answers with an error;
* :class:`~relaysync.RelayTimeout` (a ``WorkflowException`` and ``TimeoutError``)
  when no answer arrives within the instance's :class:`~relaysync.Timeouts`;
* :class:`~relaysync.ConnectionClosed` (a ``WorkflowException`` and
  ``ConnectionError``) when the connection is or becomes closed.

Actions are safe to call from any thread, not only from handlers.

Targets: where an action takes ``target`` it accepts a URN string (a device,
group or interaction URN), a list of URN strings, or relay-py's
``{'uris': [...]}`` dict; it is sent as ``"_target": {"uris": [...]}``.
"""

import logging
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, TypeVar, Union

from . import urns
from .connection import WAIT_PROMPT, WAIT_SPEECH, Connection
from .constants import DEFAULT_VIBRATE_PATTERN
from .exceptions import WorkflowException
from .timeouts import Timeouts

logger = logging.getLogger('relaysync.relay')

Target = Union[str, List[str], Dict[str, List[str]]]
T = TypeVar('T')

EVENT_PARAMETERS_CONTENT_TYPE = 'application/vnd.relay.event.parameters+json'


def make_target(target: Target) -> Dict[str, List[str]]:
    """Normalise a target to ``{'uris': [...]}``.

    Raises:
        TypeError: the target is not a string, a list of strings or such a dict.
        ValueError: the list of URNs is empty or holds an empty string.
    """
    if isinstance(target, str):
        uris = [target]
    elif isinstance(target, dict) and set(target) == {'uris'}:
        uris = target['uris']
        if isinstance(uris, str):
            uris = [uris]
    elif isinstance(target, (list, tuple)):
        uris = target
    else:
        raise TypeError(f'target must be a URN string, a list of URN strings or '
                        f'{{"uris": [...]}}, got {target!r}')
    if not isinstance(uris, (list, tuple)) or not all(isinstance(u, str) and u for u in uris):
        raise TypeError(f'target URNs must be non-empty strings, got {uris!r}')
    if not uris:
        raise ValueError('target must name at least one URN')
    return {'uris': list(uris)}


def _validate_trigger(trigger: Any) -> str:
    if not isinstance(trigger, dict):
        raise WorkflowException('trigger parameter is not a dictionary')
    args = trigger.get('args')
    if not isinstance(args, dict):
        raise WorkflowException('trigger parameter is not a trigger dictionary')
    source_uri = args.get('source_uri')
    if not source_uri:
        raise WorkflowException('there is no source_uri definition in the trigger')
    return source_uri


class Relay:
    """One workflow instance's handle on the Relay server.

    Handlers receive it as their first argument.  It lives as long as the
    connection; after the connection closes every action raises
    :class:`~relaysync.ConnectionClosed`.

    Attributes:
        connection: the engine :class:`~relaysync.connection.Connection`.
        workflow: the :class:`~relaysync.Workflow` being run.
        timeouts: this instance's :class:`~relaysync.Timeouts`; change them freely.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.workflow = connection.workflow
        self._analytics_defaults: Dict[str, Any] = {}

    def __repr__(self) -> str:
        return f'<Relay {self.connection.id} {self.workflow!r}>'

    @property
    def timeouts(self) -> Timeouts:
        return self.connection.timeouts

    @property
    def id(self) -> str:
        """The connection id used in log lines (``c1``, ``c2``, ...)."""
        return self.connection.id

    # ------------------------------------------------------------ primitive
    def request(self, name: str, payload: Optional[Mapping[str, Any]] = None,
                target: Optional[Target] = None, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send ``wf_api_<name>_request`` and return the whole response dict.

        The escape hatch for requests without a wrapper of their own.

        Args:
            name: the request name, e.g. ``'get_var'`` (a full ``wf_api_..._request``
                type is accepted too).
            payload: the request's fields; None values are omitted.
            target: sent as ``_target`` when given.
            timeout: seconds to wait (default ``timeouts.request``), restarted by
                each progress event.
        """
        request_type = name if name.startswith('wf_api_') else f'wf_api_{name}_request'
        body: Dict[str, Any] = {}
        if target is not None:
            body['_target'] = make_target(target)
        if payload:
            body.update(payload)
        return self.connection.call(request_type, body, timeout=timeout).response

    def _call(self, _name: str, _target: Optional[Target] = None, _timeout: Optional[float] = None,
              /, **payload: Any) -> Dict[str, Any]:
        # Positional-only, so payload keys such as name, target and timeout are free.
        body: Dict[str, Any] = {}
        if _target is not None:
            body['_target'] = make_target(_target)
        body.update(payload)
        return self.connection.call(f'wf_api_{_name}_request', body, timeout=_timeout).response

    # ------------------------------------------------------- trigger helpers
    @staticmethod
    def make_target_uris(trigger: Dict[str, Any]) -> Dict[str, List[str]]:
        """Return ``{'uris': [source_uri]}`` for the device that fired ``trigger``.

        Raises:
            WorkflowException: ``trigger`` is not a dict with ``args.source_uri``.
        """
        return {'uris': [_validate_trigger(trigger)]}

    @staticmethod
    def get_source_uri_from_trigger(trigger: Dict[str, Any]) -> str:
        """Return the URN of the device that fired ``trigger``.

        Raises:
            WorkflowException: ``trigger`` is not a dict with ``args.source_uri``.
        """
        return _validate_trigger(trigger)

    @staticmethod
    def targets_from_source_uri(source_uri: str) -> Dict[str, List[str]]:
        """Return ``{'uris': [source_uri]}``."""
        return {'uris': [source_uri]}

    @staticmethod
    def interaction_options(color: str = '0000ff', input_types: Optional[List[str]] = None,
                            home_channel: str = 'suspend') -> Dict[str, Any]:
        """Build ``start_interaction`` options: channel LED ``color`` (hex), the
        ``input_types`` routed to the workflow (e.g. ``'action_button_single_tap'``)
        and ``home_channel`` (``'suspend'`` or ``'normal'``)."""
        return {'color': color, 'input_types': input_types or [], 'home_channel': home_channel}

    @staticmethod
    def push_options(priority: str = 'normal', title: Optional[str] = None,
                     body: Optional[str] = None, sound: str = 'default') -> Dict[str, Any]:
        """Build notification ``push_opts`` for the Relay app: ``priority``
        (``normal``/``high``/``critical``), ``sound`` (``default``/``sos``) and
        optional ``title``/``body``."""
        opts: Dict[str, Any] = {'priority': priority, 'sound': sound}
        if title is not None:
            opts['title'] = title
        if body is not None:
            opts['body'] = body
        return opts

    @staticmethod
    def led_info(rotations: Optional[int] = None, count: Optional[int] = None,
                 duration: Optional[int] = None, repeat_delay: Optional[int] = None,
                 pattern_repeats: Optional[int] = None,
                 colors: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """Build ``led_action`` args from the given (non-None) values.  ``colors``
        maps ``'ring'`` or an LED index ``'1'``..``'16'`` to a hex colour."""
        info = {'rotations': rotations, 'count': count, 'duration': duration,
                'repeat_delay': repeat_delay, 'pattern_repeats': pattern_repeats,
                'colors': colors}
        return {k: v for k, v in info.items() if v is not None}

    # -------------------------------------------------------------- vars
    def get_var(self, name: str, default: Any = None) -> Any:
        """Read an instance variable (``wf_api_get_var_request {name}``).

        Returns the response's ``value`` (a string), or ``default`` when the
        response has no ``value``.
        """
        return self._call('get_var', name=name).get('value', default)

    def get_number_var(self, name: str, default: Any = None) -> int:
        """``get_var`` converted with ``int()``.

        Raises:
            WorkflowException: the variable is unset and no default was given.
            ValueError: the value is not an integer.
        """
        value = self.get_var(name, default)
        if value is None:
            raise WorkflowException(f'variable {name!r} is not set and no default was given')
        return int(value)

    def get_mapped_var(self, name: str, mapper: Callable[[str], T], default: Any = None) -> Any:
        """``get_var`` passed through ``mapper``; ``default`` (unmapped) when unset."""
        value = self._call('get_var', name=name).get('value')
        return default if value is None else mapper(value)

    def get_boolean_var(self, name: str, default: Any = None) -> Any:
        """``get_var`` as a bool: exactly ``'true'`` is True; ``default`` when unset."""
        return self.get_mapped_var(name, lambda v: v == 'true', default)

    def get_array_var(self, name: str, default: Any = None) -> Any:
        """``get_var`` split on ``,`` into a list of strings; ``default`` when unset."""
        return self.get_mapped_var(name, lambda v: v.split(',') if v else [], default)

    def get_number_array_var(self, name: str, default: Any = None) -> Any:
        """``get_var`` split on ``,`` into a list of numbers (int, else float);
        ``default`` when unset.  Raises ValueError for a non-numeric item."""
        def numbers(value: str) -> List[Union[int, float]]:
            return [_number(v) for v in value.split(',')] if value else []
        return self.get_mapped_var(name, numbers, default)

    def set_var(self, name: str, value: str) -> Any:
        """Set an instance variable (``wf_api_set_var_request {name, value}``).

        ``value`` must be a string (Relay variables are strings).  Returns the
        value the server echoes (``value`` of the response).
        """
        if not isinstance(value, str):
            raise TypeError(f'set_var({name!r}): value must be a string, got {value!r}')
        return self._call('set_var', name=name, value=value).get('value', value)

    def set_vars(self, values: Mapping[str, str]) -> None:
        """``set_var`` for each item of ``values`` (sequential requests)."""
        for name, value in values.items():
            self.set_var(name, value)

    def unset_var(self, name: str) -> None:
        """Remove an instance variable (``wf_api_unset_var_request {name}``)."""
        self._call('unset_var', name=name)

    def unset_vars(self, names: Iterable[str]) -> None:
        """``unset_var`` for each name."""
        for name in names:
            self.unset_var(name)

    # ------------------------------------------------------- interactions
    def start_interaction(self, target: Target, name: str,
                          options: Optional[Dict[str, Any]] = None) -> None:
        """Start an interaction (a temporary channel) named ``name`` on the target
        device(s): ``wf_api_start_interaction_request {_target, name, options}``.

        ``target`` is typically ``relay.make_target_uris(trigger)``.  Returns
        None; the interaction URN arrives in the lifecycle ``started`` event.
        """
        self._call('start_interaction', target, name=name, options=options)

    def end_interaction(self, target: Target) -> None:
        """End an interaction: ``wf_api_end_interaction_request {_target}``
        (target: the interaction URN).  A lifecycle ``ended`` event follows."""
        self._call('end_interaction', target)

    # ------------------------------------------------------------- speech
    def say(self, target: Target, text: str, lang: str = 'en-US') -> str:
        """Speak ``text`` (``wf_api_say_request {_target, text, lang}``) without
        waiting for playback.  Returns the playback id (response ``id``)."""
        return self._call('say', target, text=text, lang=lang).get('id')

    def say_and_wait(self, target: Target, text: str, lang: str = 'en-US') -> str:
        """Speak ``text`` and block until playback has finished (the prompt
        ``stopped`` event).  Returns the playback id.

        Raises:
            RelayTimeout: no response within ``timeouts.request``, or no
                ``stopped`` event within ``timeouts.prompt`` of the response
                (or of the prompt ``started`` event).
            WorkflowException: the prompt event reports ``failed``.
        """
        return self._play_and_wait('say', target, text=text, lang=lang)

    def play(self, target: Target, filename: str) -> str:
        """Play an uploaded audio file (``wf_api_play_request {_target, filename}``),
        e.g. ``'relay-static://emergency'``.  Returns the playback id."""
        return self._call('play', target, filename=filename).get('id')

    def play_and_wait(self, target: Target, filename: str) -> str:
        """``play`` and block until playback has finished; as ``say_and_wait``."""
        return self._play_and_wait('play', target, filename=filename)

    def _play_and_wait(self, name: str, target: Target, **payload: Any) -> str:
        body: Dict[str, Any] = {'_target': make_target(target)}
        body.update(payload)
        done = self.connection.call(f'wf_api_{name}_request', body, wait=WAIT_PROMPT,
                                    event_timeout=self.timeouts.prompt)
        return done.response.get('id')

    def stop_playback(self, target: Target, pb_id: Union[str, List[str], None] = None) -> None:
        """Stop playback: ``wf_api_stop_playback_request {_target, ids}``.

        ``pb_id`` is a playback id or a list of them; None stops everything
        (``ids`` omitted)."""
        if isinstance(pb_id, str):
            ids: Optional[List[str]] = [pb_id]
        elif pb_id is None or isinstance(pb_id, list):
            ids = pb_id
        else:
            raise TypeError(f'stop_playback: pb_id must be a string, a list or None, '
                            f'got {pb_id!r}')
        self._call('stop_playback', target, ids=ids)

    def listen(self, target: Target, phrases: Union[str, List[str], None] = None,
               transcribe: bool = True, alt_lang: Optional[str] = None,
               timeout: int = 60) -> Optional[str]:
        """Listen for speech: ``wf_api_listen_request {_target, phrases,
        transcribe, timeout, alt_lang}``, then wait for the speech event.

        Args:
            phrases: phrases to favour (a single string is wrapped in a list).
            transcribe: True returns the text; False returns the audio.
            alt_lang: an alternative language code, e.g. ``'es-ES'``.
            timeout: seconds the device listens (sent to the server).

        Returns:
            The speech event's ``text`` (transcribe) or ``audio``; None if absent.

        Raises:
            RelayTimeout: no response, or no speech event within ``timeout``
                plus ``timeouts.listen_margin`` seconds after the response.
        """
        if phrases is None:
            phrases = []
        elif isinstance(phrases, str):
            phrases = [phrases]
        body = {'_target': make_target(target), 'phrases': phrases, 'transcribe': transcribe,
                'timeout': timeout, 'alt_lang': alt_lang}
        wait = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else 0.0
        done = self.connection.call('wf_api_listen_request', body, wait=WAIT_SPEECH,
                                    event_timeout=wait + self.timeouts.listen_margin)
        return done.event.get('text' if transcribe else 'audio')

    def translate(self, text: str, from_lang: str = 'en-US', to_lang: str = 'es-ES') -> str:
        """Translate ``text`` (``wf_api_translate_request {text, from_lang, to_lang}``);
        returns the translated text."""
        return self._call('translate', text=text, from_lang=from_lang, to_lang=to_lang).get('text')

    # ------------------------------------------------------- notifications
    def _notification(self, target: Target, originator: Optional[str], ntype: str,
                      text: Optional[str], name: str, push_opts: Optional[Dict[str, Any]]) -> None:
        tgt = make_target(target)
        self._call('notification', tgt, self.timeouts.notification, originator=originator,
                   type=ntype, name=name, text=text, target=tgt, push_opts=push_opts)

    def alert(self, target: Target, originator: str, name: str, text: str,
              push_opts: Optional[Dict[str, Any]] = None) -> None:
        """Send an alert, repeated until acknowledged:
        ``wf_api_notification_request {_target, originator, type: "alert", name,
        text, target, push_opts}``.  Acknowledgements arrive as notification events
        (``on_notification(name=name, event='ack_event')``)."""
        self._notification(target, originator, 'alert', text, name, push_opts or {})

    def cancel_alert(self, target: Target, name: str) -> None:
        """Cancel the alert ``name`` on the target devices (type ``cancel``)."""
        self._notification(target, None, 'cancel', None, name, None)

    def broadcast(self, target: Target, originator: str, name: str, text: str,
                  push_opts: Optional[Dict[str, Any]] = None) -> None:
        """Broadcast a message to the target devices (type ``broadcast``, no
        acknowledgement)."""
        self._notification(target, originator, 'broadcast', text, name, push_opts or {})

    def cancel_broadcast(self, target: Target, name: str) -> None:
        """Cancel the broadcast ``name`` (type ``cancel``)."""
        self._notification(target, None, 'cancel', None, name, None)

    def notify(self, target: Target, originator: str, name: str, text: str,
               push_opts: Optional[Dict[str, Any]] = None) -> None:
        """Send a lighter notification (type ``notify``)."""
        self._notification(target, originator, 'notify', text, name, push_opts or {})

    def cancel_notify(self, target: Target, name: str) -> None:
        """Cancel the notification ``name`` (type ``cancel``)."""
        self._notification(target, None, 'cancel', None, name, None)

    # --------------------------------------------------------- device info
    def _get_device_info(self, target: Target, query: str, refresh: bool = False) -> Any:
        timeout = self.timeouts.refresh if refresh else None
        return self._call('get_device_info', target, timeout, query=query,
                          refresh=refresh).get(query)

    def get_device_name(self, target: Target) -> str:
        """The device's name (``get_device_info`` query ``name``)."""
        return self._get_device_info(target, 'name')

    def get_device_id(self, target: Target) -> str:
        """The device's id (query ``id``)."""
        return self._get_device_info(target, 'id')

    def get_device_type(self, target: Target) -> str:
        """The device type: ``relay``, ``relay2``, ``relay_app``, ``roip`` or ``dash``."""
        return self._get_device_info(target, 'type')

    def get_user_profile(self, target: Target) -> str:
        """The user profile logged in on the device (query ``username``)."""
        return self._get_device_info(target, 'username')

    def get_device_location(self, target: Target, refresh: bool = False) -> str:
        """The street address of the device's last location (query ``address``);
        ``refresh=True`` asks the device for a fresh reading first."""
        return self._get_device_info(target, 'address', refresh)

    def get_device_address(self, target: Target, refresh: bool = False) -> str:
        """Same as :meth:`get_device_location`."""
        return self.get_device_location(target, refresh)

    def get_device_coordinates(self, target: Target, refresh: bool = False) -> List[float]:
        """``[latitude, longitude]`` of the device (query ``latlong``)."""
        return self._get_device_info(target, 'latlong', refresh)

    def get_device_latlong(self, target: Target, refresh: bool = False) -> List[float]:
        """Same as :meth:`get_device_coordinates`."""
        return self.get_device_coordinates(target, refresh)

    def get_device_indoor_location(self, target: Target, refresh: bool = False) -> str:
        """The device's indoor location (query ``indoor_location``)."""
        return self._get_device_info(target, 'indoor_location', refresh)

    def get_device_battery(self, target: Target, refresh: bool = False) -> int:
        """The battery level in percent, as the server sends it (query ``battery``)."""
        return self._get_device_info(target, 'battery', refresh)

    def get_device_location_enabled(self, target: Target) -> Any:
        """Whether location is enabled, as the server sends it (query ``location_enabled``)."""
        return self._get_device_info(target, 'location_enabled')

    def _set_device_info(self, target: Target, field: str, value: str) -> None:
        self._call('set_device_info', target, field=field, value=value)

    def set_device_name(self, target: Target, name: str) -> None:
        """Rename the device: ``wf_api_set_device_info_request {field: "label", value}``."""
        self._set_device_info(target, 'label', name)

    def enable_location(self, target: Target) -> None:
        """Enable location (``field: "location_enabled", value: "true"``)."""
        self._set_device_info(target, 'location_enabled', 'true')

    def disable_location(self, target: Target) -> None:
        """Disable location (``field: "location_enabled", value: "false"``)."""
        self._set_device_info(target, 'location_enabled', 'false')

    def set_channel(self, target: Target, channel_name: str, suppress_tts: bool = False,
                    disable_home_channel: bool = False) -> None:
        """Switch the device to a channel: ``wf_api_set_channel_request
        {_target, channel_name, suppress_tts, disable_home_channel}``."""
        self._call('set_channel', target, channel_name=channel_name, suppress_tts=suppress_tts,
                   disable_home_channel=disable_home_channel)

    def _set_home_channel_state(self, target: Target, enabled: bool = True) -> None:
        self._call('set_home_channel_state', target, enabled=enabled)

    def enable_home_channel(self, target: Target) -> None:
        """Enable the home channel (``wf_api_set_home_channel_state_request {enabled: true}``)."""
        self._set_home_channel_state(target, True)

    def disable_home_channel(self, target: Target) -> None:
        """Disable the home channel (``enabled: false``)."""
        self._set_home_channel_state(target, False)

    def set_user_profile(self, target: Target, username: str, force: bool = False) -> None:
        """Log the device into a user profile: ``wf_api_set_user_profile_request
        {_target, username, force}``."""
        self._call('set_user_profile', target, username=username, force=force)

    # -------------------------------------------------------- LEDs, vibrate
    def led_action(self, target: Target, effect: str = 'flash',
                   args: Optional[Dict[str, Any]] = None) -> None:
        """Run an LED effect: ``wf_api_set_led_request {_target, effect, args}``.
        ``effect`` is one of ``rainbow``, ``rotate``, ``flash``, ``breathe``,
        ``static``, ``off``; ``args`` as built by :meth:`led_info`."""
        self._call('set_led', target, effect=effect, args=args)

    def switch_all_led_on(self, target: Target, color: str = '0000ff') -> None:
        """All LEDs on in ``color`` (effect ``static``, ``colors: {"ring": color}``)."""
        self.led_action(target, 'static', {'colors': {'ring': color}})

    def switch_led_on(self, target: Target, index: int, color: str = '0000ff') -> None:
        """LED number ``index`` (1-16) on in ``color`` (effect ``static``)."""
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 16:
            raise ValueError(f'switch_led_on: index must be an int from 1 to 16, got {index!r}')
        self.led_action(target, 'static', {'colors': {str(index): color}})

    def switch_all_led_off(self, target: Target) -> None:
        """All LEDs off (effect ``off``, ``args: {}``)."""
        self.led_action(target, 'off', {})

    def rainbow(self, target: Target, rotations: int = -1) -> None:
        """Rainbow effect; ``rotations`` -1 means forever."""
        self.led_action(target, 'rainbow', {'rotations': rotations})

    def rotate(self, target: Target, color: str = '0000ff', rotations: int = -1) -> None:
        """Rotate one ``color`` LED round the ring; ``rotations`` -1 means forever."""
        self.led_action(target, 'rotate', {'colors': {'1': color}, 'rotations': rotations})

    def flash(self, target: Target, color: str = '0000ff', count: int = -1) -> None:
        """Flash the ring in ``color``; ``count`` -1 means forever."""
        self.led_action(target, 'flash', {'colors': {'ring': color}, 'count': count})

    def breathe(self, target: Target, color: str = '0000ff', count: int = -1) -> None:
        """Breathe (fade in and out) the ring in ``color``; ``count`` -1 means forever."""
        self.led_action(target, 'breathe', {'colors': {'ring': color}, 'count': count})

    def vibrate(self, target: Target, pattern: Optional[List[int]] = None) -> None:
        """Vibrate: ``wf_api_vibrate_request {_target, pattern}`` (milliseconds;
        default ``[100, 500, 500, 500, 500, 500]``)."""
        self._call('vibrate', target, pattern=pattern or list(DEFAULT_VIBRATE_PATTERN))

    # -------------------------------------------------------------- timers
    def start_timer(self, timeout: int = 60) -> None:
        """Start the unnamed timer: ``wf_api_start_timer_request {timeout}``
        (seconds); ``on_timer`` fires."""
        self._call('start_timer', timeout=timeout)

    def stop_timer(self) -> None:
        """Stop the unnamed timer (``wf_api_stop_timer_request``)."""
        self._call('stop_timer')

    def set_timer(self, name: str, timer_type: str = 'timeout', timeout: int = 60,
                  timeout_type: str = 'secs') -> None:
        """Start a named timer: ``wf_api_set_timer_request {type, name, timeout,
        timeout_type}``.  ``timer_type`` ``timeout`` fires once, ``interval``
        repeats; ``timeout_type`` is ``ms``, ``secs``, ``mins`` or ``hrs``.
        ``on_timer_fired`` receives ``name``."""
        self._call('set_timer', type=timer_type, name=name, timeout=timeout,
                   timeout_type=timeout_type)

    def clear_timer(self, name: str) -> None:
        """Cancel the named timer (``wf_api_clear_timer_request {name}``)."""
        self._call('clear_timer', name=name)

    # ----------------------------------------------------------- incidents
    def create_incident(self, originator: str, itype: str) -> str:
        """Create an incident: ``wf_api_create_incident_request {type, originator_uri}``.
        Returns the ``incident_id``."""
        return self._call('create_incident', type=itype, originator_uri=originator) \
            .get('incident_id')

    def resolve_incident(self, incident_id: str, reason: str) -> None:
        """Resolve an incident: ``wf_api_resolve_incident_request {incident_id, reason}``."""
        self._call('resolve_incident', incident_id=incident_id, reason=reason)

    # --------------------------------------------------------------- calls
    def place_call(self, target: Target, callee_uri: str) -> str:
        """Call ``callee_uri`` from the target device: ``wf_api_call_request
        {_target, uri}``.  Returns the ``call_id``; progress arrives as call events."""
        return self._call('call', target, uri=callee_uri).get('call_id')

    def answer_call(self, target: Target, call_id: str) -> None:
        """Answer a call: ``wf_api_answer_request {_target, call_id}``."""
        self._call('answer', target, call_id=call_id)

    def hangup_call(self, target: Target, call_id: str) -> None:
        """Hang up a call: ``wf_api_hangup_request {_target, call_id}``."""
        self._call('hangup', target, call_id=call_id)

    def register(self, target: Target, uri: str, password: str, expires: int) -> None:
        """Register the device with a SIP endpoint: ``wf_api_register_request
        {_target, uri, password, expires}`` (``expires`` 0 unregisters).
        The password is never logged."""
        self._call('register', target, uri=uri, password=password, expires=expires)

    def register_for_calls(self, target: Target, uri: str, password: str,
                           expires: int = 3600) -> None:
        """Same as :meth:`register`, with a default of one hour."""
        self.register(target, uri, password, expires)

    def unregister_for_calls(self, target: Target, uri: str, password: str) -> None:
        """Unregister: :meth:`register` with ``expires`` 0."""
        self.register(target, uri, password, 0)

    # -------------------------------------------------------------- groups
    def get_group_members(self, group_uri: str) -> List[str]:
        """Member URNs of a group: ``wf_api_group_query_request
        {query: "list_members", group_uri}``."""
        return self._call('group_query', query='list_members', group_uri=group_uri) \
            .get('member_uris')

    def is_group_member(self, group_name_uri: str, potential_member_name_uri: str) -> bool:
        """Whether a device is in a group (``query: "is_member"``).  Both URNs must
        be name-based (``urns.group_name(...)``, ``urns.device_name(...)`` or an
        interaction URN of a named device).

        Raises:
            ValueError: a URN is not name-based.
        """
        group = urns.parse_group_name(group_name_uri)
        device = urns.parse_device_name(potential_member_name_uri)
        if group is None or device is None:
            raise ValueError(f'is_group_member needs a name-based group URN and device URN, '
                             f'got {group_name_uri!r}, {potential_member_name_uri!r}')
        return self._call('group_query', query='is_member',
                          group_uri=urns.group_member(group, device)).get('is_member')

    def create_group(self, name: str) -> str:
        """Create a group: ``wf_api_create_group_request {name}``; returns its URN."""
        return self._call('create_group', name=name).get('uri')

    def delete_group(self, group_uri: str) -> None:
        """Delete a group: ``wf_api_delete_group_request {uri}``."""
        self._call('delete_group', uri=group_uri)

    def add_group_members(self, group_uri: str, members: Target) -> None:
        """Add devices to a group: ``wf_api_add_group_members_request
        {_target: members, group_uri}``."""
        self._call('add_group_members', members, group_uri=group_uri)

    def remove_group_members(self, group_uri: str, members: Target) -> None:
        """Remove devices from a group: ``wf_api_remove_group_members_request
        {_target: members, group_uri}``."""
        self._call('remove_group_members', members, group_uri=group_uri)

    # --------------------------------------------------------------- inbox
    def get_unread_inbox_size(self, target: Target) -> Any:
        """Number of unread inbox messages, as the server sends it (``count``,
        a string holding an integer): ``wf_api_inbox_count_request``."""
        return self._call('inbox_count', target).get('count')

    def play_unread_inbox_messages(self, target: Target) -> None:
        """Play unread inbox messages (``wf_api_play_inbox_messages_request``);
        ``on_play_inbox_message`` reports completion."""
        self._call('play_inbox_messages', target)

    # ---------------------------------------------------------- analytics
    def log_message(self, message: str, category: str = 'default', target: Optional[str] = None,
                    content_type: str = 'text/plain') -> None:
        """Record an analytics event: ``wf_api_log_analytics_event_request
        {content, content_type, category, device_uri}`` (``device_uri`` = target)."""
        self._call('log_analytics_event', content=message, content_type=content_type,
                   category=category, device_uri=target)

    def log_user_message(self, message: str, target: str, category: str) -> None:
        """Record an analytics event attributed to the device ``target``."""
        self.log_message(message, category, target)

    def set_default_analytic_event_parameters(self, params: Mapping[str, Any]) -> None:
        """Parameters merged into every later :meth:`track_event` and
        :meth:`track_user_event` of this instance (local; nothing is sent)."""
        self._analytics_defaults = dict(params)

    def track_event(self, category: str, parameters: Optional[Mapping[str, Any]] = None) -> None:
        """Record a structured analytics event: ``content`` is the default
        parameters merged with ``parameters``, content type
        ``application/vnd.relay.event.parameters+json``."""
        content = dict(self._analytics_defaults, **(parameters or {}))
        self._call('log_analytics_event', category=category,
                   content_type=EVENT_PARAMETERS_CONTENT_TYPE, content=content)

    def track_user_event(self, category: str, target: str,
                         parameters: Optional[Mapping[str, Any]] = None) -> None:
        """Structured analytics event attributed to ``target``; the parameters go
        under ``analytics_content`` (as relay-js sends them)."""
        content = dict(self._analytics_defaults, **(parameters or {}))
        self._call('log_analytics_event', device_uri=target, category=category,
                   content_type=EVENT_PARAMETERS_CONTENT_TYPE, analytics_content=content)

    # ----------------------------------------------------------------- sms
    def sms(self, stype: str, text: str, uri: str) -> str:
        """Send an SMS: ``wf_api_sms_request {type, text, uri}``; returns ``message_id``."""
        return self._call('sms', type=stype, text=text, uri=uri).get('message_id')

    # ----------------------------------------------------------- lifecycle
    def terminate(self) -> None:
        """End this workflow instance: ``wf_api_terminate_request``.

        Sent without waiting (the server answers with a stop event and closes
        the connection).  Does nothing if the connection is already closed.
        """
        if self.connection.is_closed:
            logger.debug('[%s] terminate: connection already closed', self.connection.id)
            return
        try:
            self.connection.send('wf_api_terminate_request', {})
        except WorkflowException:
            logger.debug('[%s] terminate: connection closed meanwhile', self.connection.id)


def _number(text: str) -> Union[int, float]:
    try:
        return int(text)
    except ValueError:
        return float(text)
