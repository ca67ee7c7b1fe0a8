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
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, TypeVar, Union

from . import urns
from .connection import WAIT_PROMPT, WAIT_SPEECH, Connection
from .constants import DEFAULT_VIBRATE_PATTERN
from .exceptions import WorkflowException
from .timeouts import Timeouts

logger = logging.getLogger('relaysync.relay')
#: Where ``relay.logger`` writes: the workflow's own lines.
workflow_logger = logging.getLogger('relaysync.workflow')


class _InstanceLogger(logging.LoggerAdapter):
    """Prefixes each line with the connection id, as relay-py's per-instance logger."""

    def process(self, msg: Any, kwargs: Any) -> Any:
        return f'[{self.extra["id"]}] {msg}', kwargs

Target = Union[str, List[str], Dict[str, List[str]]]
T = TypeVar('T')

EVENT_PARAMETERS_CONTENT_TYPE = 'application/vnd.relay.event.parameters+json'

# The target argument of a request that has no ``_target`` (None is a mistake).
_NO_TARGET: Any = object()


def make_target(target: Target) -> Dict[str, List[str]]:
    """Normalise a target to the ``{'uris': [...]}`` form sent as ``_target``.

    Every action that takes a ``target`` passes it through this function, so
    all three forms work everywhere (relay-py's ``start_interaction`` needed the
    dict; here a plain URN is fine too).  Nothing that is not a Relay URN is
    ever sent as a target: the mistake is reported where it is made.

    Args:
        target: a URN string, a list (or tuple) of URN strings, or a dict
            ``{'uris': [...]}`` (whose ``uris`` may also be a single string).

    Returns:
        A new dict ``{'uris': [urn, ...]}``.

    Raises:
        TypeError: the target is none of those forms (None, say), or one of
            its URNs is not a string starting with ``urn:relay-resource:``.
        ValueError: the list of URNs is empty.

    Example:
        >>> make_target('urn:relay-resource:name:device:Alice')
        {'uris': ['urn:relay-resource:name:device:Alice']}
        >>> make_target({'uris': 'urn:relay-resource:name:group:team'})
        {'uris': ['urn:relay-resource:name:group:team']}
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
        raise TypeError(f'target must be a Relay URN, a list of URNs or '
                        f'{{"uris": [...]}}, got {target!r}')
    if not isinstance(uris, (list, tuple)):
        raise TypeError(f'target URNs must be a list, got {uris!r}')
    if not uris:
        raise ValueError('target must name at least one URN')
    for uri in uris:
        if not urns.is_relay_uri(uri):
            raise TypeError(f'target must be a Relay URN (urn:relay-resource:...), '
                            f'got {uri!r}')
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
        logger: a logger for the workflow's own lines, as relay-py's
            ``workflow.logger``: ``relay.logger.info('...')`` logs on
            ``relaysync.workflow``, each line prefixed with the connection id
            (``[c1] ...``).
    """

    def __init__(self, connection: Connection) -> None:
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
                target: Optional[Target] = None, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Send any request and return the whole response: the escape hatch.

        Use it for requests that have no wrapper of their own.  Sends
        ``{"_id": ..., "_type": "wf_api_<name>_request", "_target": ..., **payload}``
        and blocks until the matching response arrives.

        Args:
            name: the request name, e.g. ``'get_var'`` for ``wf_api_get_var_request``;
                a full type starting with ``wf_api_`` is sent as it is.
            payload: the request's other fields (default: none).  Keys whose value
                is None are left out, also inside nested dicts.
            target: when given, sent as ``_target`` (normalised by :func:`make_target`).
            timeout: seconds to wait for the response (default ``timeouts.request``),
                restarted by each progress event.

        Returns:
            The response message as a dict, including ``_id`` and ``_type``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        request_type = name if name.startswith('wf_api_') else f'wf_api_{name}_request'
        return self._send(request_type, _NO_TARGET if target is None else target,
                          payload or {}, timeout=timeout).response

    def _send(self, request_type: str, target: Optional[Target], payload: Mapping[str, Any],
              **wait: Any) -> Any:
        """Build the request body (``_target`` first) and run the engine's ``call``."""
        body: Dict[str, Any] = {}
        if target is not _NO_TARGET:
            body['_target'] = make_target(target)
        body.update(payload)
        return self.connection.call(request_type, body, **wait)

    def _call(self, _name: str, _target: Any = _NO_TARGET, _timeout: Optional[float] = None,
              /, **payload: Any) -> Dict[str, Any]:
        # Positional-only, so payload keys such as name, target and timeout are free.
        return self._send(f'wf_api_{_name}_request', _target, payload, timeout=_timeout).response

    # ------------------------------------------------------- trigger helpers
    @staticmethod
    def make_target_uris(trigger: Dict[str, Any]) -> Dict[str, List[str]]:
        """The target of the device that fired the workflow: ``{'uris': [source_uri]}``.

        Nothing is sent.  Typically passed to :meth:`start_interaction`.

        Args:
            trigger: the ``trigger`` dict the ``on_start`` handler received.

        Returns:
            ``{'uris': [trigger['args']['source_uri']]}``.

        Raises:
            WorkflowException: ``trigger`` is not a dict with ``args.source_uri``.
        """
        return {'uris': [_validate_trigger(trigger)]}

    @staticmethod
    def get_source_uri_from_trigger(trigger: Dict[str, Any]) -> str:
        """The URN of the device that fired the workflow.

        Nothing is sent.

        Args:
            trigger: the ``trigger`` dict the ``on_start`` handler received.

        Returns:
            ``trigger['args']['source_uri']``, e.g. ``'urn:relay-resource:name:device:Alice'``.

        Raises:
            WorkflowException: ``trigger`` is not a dict with ``args.source_uri``.
        """
        return _validate_trigger(trigger)

    @staticmethod
    def targets_from_source_uri(source_uri: str) -> Dict[str, List[str]]:
        """Wrap one URN as a target: ``{'uris': [source_uri]}``.

        Nothing is sent and nothing is checked.

        Args:
            source_uri: a device or interaction URN.

        Returns:
            ``{'uris': [source_uri]}``.
        """
        return {'uris': [source_uri]}

    @staticmethod
    def interaction_options(color: str = '0000ff', input_types: Optional[List[str]] = None,
                            home_channel: str = 'suspend') -> Dict[str, Any]:
        """Build the ``options`` of :meth:`start_interaction`.

        Nothing is sent.

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

    @staticmethod
    def push_options(priority: str = 'normal', title: Optional[str] = None,
                     body: Optional[str] = None, sound: str = 'default') -> Dict[str, Any]:
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

    @staticmethod
    def led_info(rotations: Optional[int] = None, count: Optional[int] = None,
                 duration: Optional[int] = None, repeat_delay: Optional[int] = None,
                 pattern_repeats: Optional[int] = None,
                 colors: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        """Build the ``args`` of :meth:`led_action` from the values given.

        Nothing is sent.  Only the arguments that are not None are included.

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

    # -------------------------------------------------------------- vars
    def get_var(self, name: str, default: Any = None) -> Any:
        """Read an instance variable.

        Sends ``wf_api_get_var_request`` ``{name}``.  Variables hold strings: the
        ``args`` of the workflow's registration or trigger, and what
        :meth:`set_var` stored.

        Args:
            name: the variable name.
            default: returned when the response has no ``value`` (the variable is
                not set).  Default None.

        Returns:
            The response's ``value`` (a string), or ``default`` when it has none.
            An explicit JSON ``null`` value is returned as None, as relay-py does.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('get_var', name=name).get('value', default)

    def get_number_var(self, name: str, default: Any = None) -> int:
        """Read an instance variable as an integer.

        Sends ``wf_api_get_var_request`` ``{name}`` (see :meth:`get_var`).

        Args:
            name: the variable name.
            default: used when the variable is unset; converted with ``int()`` as
                well (default None: an unset variable raises).

        Returns:
            ``int(value)``.

        Raises:
            WorkflowException: the variable is unset and no default was given
                (relay-py raised ``TypeError``).
            ValueError: the value is not an integer.
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        value = self.get_var(name, default)
        if value is None:
            raise WorkflowException(f'variable {name!r} is not set and no default was given')
        return int(value)

    def get_mapped_var(self, name: str, mapper: Callable[[str], T], default: Any = None) -> Any:
        """Read an instance variable and convert it with ``mapper``.

        Sends ``wf_api_get_var_request`` ``{name}`` (see :meth:`get_var`).

        Args:
            name: the variable name.
            mapper: called with the string value; its result is returned.
            default: returned as it is (not mapped) when the variable is unset.
                Default None.

        Returns:
            ``mapper(value)``, or ``default``.

        Raises:
            Exception: whatever ``mapper`` raises.
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        value = self._call('get_var', name=name).get('value')
        return default if value is None else mapper(value)

    def get_boolean_var(self, name: str, default: Any = None) -> Any:
        """Read an instance variable as a bool: exactly ``'true'`` is True.

        Sends ``wf_api_get_var_request`` ``{name}`` (see :meth:`get_var`).

        Args:
            name: the variable name.
            default: returned when the variable is unset (default None).

        Returns:
            ``value == 'true'``, or ``default``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self.get_mapped_var(name, lambda v: v == 'true', default)

    def get_array_var(self, name: str, default: Any = None) -> Any:
        """Read an instance variable as a list of strings, split on ``,``.

        Sends ``wf_api_get_var_request`` ``{name}`` (see :meth:`get_var`).

        Args:
            name: the variable name.
            default: returned when the variable is unset (default None).

        Returns:
            ``value.split(',')`` (``[]`` for an empty string), or ``default``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self.get_mapped_var(name, lambda v: v.split(',') if v else [], default)

    def get_number_array_var(self, name: str, default: Any = None) -> Any:
        """Read an instance variable as a list of numbers, split on ``,``.

        Sends ``wf_api_get_var_request`` ``{name}`` (see :meth:`get_var`).  Each
        item becomes an ``int`` when it is one, else a ``float``.

        Args:
            name: the variable name.
            default: returned when the variable is unset (default None).

        Returns:
            The list of numbers (``[]`` for an empty string), or ``default``.

        Raises:
            ValueError: an item is not a number.
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        def numbers(value: str) -> List[Union[int, float]]:
            return [_number(v) for v in value.split(',')] if value else []
        return self.get_mapped_var(name, numbers, default)

    def set_var(self, name: str, value: Any) -> Any:
        """Set an instance variable.

        Sends ``wf_api_set_var_request`` ``{name, value}``.  The variable lives as
        long as the workflow instance.  Relay variables hold strings; the value is
        sent as it is, as relay-py sends it (a number stays a JSON number).

        Args:
            name: the variable name.
            value: the value, normally a string.

        Returns:
            The response's ``value`` (what the server stored), else ``value``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('set_var', name=name, value=value).get('value', value)

    def set_vars(self, values: Mapping[str, str]) -> None:
        """Set several instance variables, one ``wf_api_set_var_request`` each.

        The requests are sent one after the other, in the mapping's order; the
        first failure raises and the remaining variables are not set.

        Args:
            values: ``{name: value}``, each value normally a string (sent as it is).

        Raises:
            ErrorResponse: the Relay server refused a request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        for name, value in values.items():
            self.set_var(name, value)

    def unset_var(self, name: str) -> None:
        """Remove an instance variable.

        Sends ``wf_api_unset_var_request`` ``{name}``.

        Args:
            name: the variable name.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('unset_var', name=name)

    def unset_vars(self, names: Iterable[str]) -> None:
        """Remove several instance variables, one ``wf_api_unset_var_request`` each.

        Sent one after the other; the first failure raises.

        Args:
            names: the variable names.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        for name in names:
            self.unset_var(name)

    # ------------------------------------------------------- interactions
    def start_interaction(self, target: Target, name: str,
                          options: Optional[Dict[str, Any]] = None) -> None:
        """Start an interaction (a temporary channel) on the target device(s).

        Sends ``wf_api_start_interaction_request`` ``{_target, name, options}``
        (``options`` left out when None, as relay-py does).  The call returns once
        the server has accepted the request; the interaction's URN arrives later, in
        the ``started`` lifecycle event (``on_interaction_lifecycle`` or
        ``on_interaction_started``).  Speech, listening, LEDs and vibration are then
        aimed at that URN.

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
                Typically ``relay.make_target_uris(trigger)``.
            name: the interaction's name (shown on the device).
            options: from :meth:`interaction_options`: colour, routed button
                inputs, home channel behaviour (default: left out).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('start_interaction', target, name=name, options=options)

    def end_interaction(self, target: Target) -> None:
        """End an interaction.

        Sends ``wf_api_end_interaction_request`` ``{_target}``.  The lifecycle
        ``ended`` event follows.

        Args:
            target: the interaction URN.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('end_interaction', target)

    # ------------------------------------------------------------- speech
    def say(self, target: Target, text: str, lang: str = 'en-US') -> str:
        """Speak ``text`` on the target, without waiting for it to finish.

        Sends ``wf_api_say_request`` ``{_target, text, lang}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            text: what to say.
            lang: the language of ``text`` (default ``'en-US'``).

        Returns:
            The playback id (the response's ``id``), for :meth:`stop_playback` and
            to match ``on_prompt`` events.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._call('say', target, text=text, lang=lang).get('id')

    def say_and_wait(self, target: Target, text: str, lang: str = 'en-US') -> str:
        """Speak ``text`` and block until the device has finished speaking.

        Sends ``wf_api_say_request`` ``{_target, text, lang}``, waits for the
        response, then for the ``wf_api_prompt_event`` of type ``stopped`` whose
        ``id`` is the request's ``_id`` (or the ``id`` of the response).

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            text: what to say.
            lang: the language of ``text`` (default ``'en-US'``).

        Returns:
            The playback id (the response's ``id``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds, or no
                ``stopped`` prompt event within ``timeouts.prompt`` seconds of the
                response (restarted by the prompt ``started`` event).
            WorkflowException: the prompt event reports ``failed``.
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._play_and_wait('say', target, text=text, lang=lang)

    def play(self, target: Target, filename: str) -> str:
        """Play an audio file on the target, without waiting for it to finish.

        Sends ``wf_api_play_request`` ``{_target, filename}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            filename: an uploaded audio file's name, or a built-in sound such as
                ``'relay-static://emergency'``.

        Returns:
            The playback id (the response's ``id``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._call('play', target, filename=filename).get('id')

    def play_and_wait(self, target: Target, filename: str) -> str:
        """Play an audio file and block until it has finished.

        Sends ``wf_api_play_request`` ``{_target, filename}`` and waits as
        :meth:`say_and_wait` does.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            filename: an uploaded audio file's name, or a built-in sound such as
                ``'relay-static://emergency'``.

        Returns:
            The playback id (the response's ``id``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds, or no
                ``stopped`` prompt event within ``timeouts.prompt`` seconds of the
                response (restarted by the prompt ``started`` event).
            WorkflowException: the prompt event reports ``failed``.
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._play_and_wait('play', target, filename=filename)

    def _play_and_wait(self, name: str, target: Target, **payload: Any) -> str:
        done = self._send(f'wf_api_{name}_request', target, payload, wait=WAIT_PROMPT,
                          event_timeout=self.timeouts.prompt)
        return done.response.get('id')

    def stop_playback(self, target: Target, pb_id: Union[str, List[str], None] = None) -> None:
        """Stop speech or audio playing on the target.

        Sends ``wf_api_stop_playback_request`` ``{_target, ids}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            pb_id: a playback id from :meth:`say`/:meth:`play`, or a list of them;
                None (default) leaves ``ids`` out, which stops all playback.

        Raises:
            TypeError: ``pb_id`` is not a string, a list or None (nothing is sent),
                or ``target`` is malformed.
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
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
        """Listen for speech on the target and return what was said.

        Sends ``wf_api_listen_request`` ``{_target, phrases, transcribe, timeout,
        alt_lang}`` (no ``request_id`` field, as relay-py), waits for the response,
        then for the ``wf_api_speech_event`` whose ``request_id`` is the request's
        ``_id``.  The user answers with push-to-talk.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            phrases: phrases to favour in recognition; a single string is wrapped
                in a list (default: none).
            transcribe: True (default) returns the text; False returns the
                recorded audio instead.
            alt_lang: another language to recognise, e.g. ``'es-ES'`` (default:
                left out).
            timeout: seconds the device waits for speech (default 60), sent to
                the server.

        Returns:
            The speech event's ``text`` (or ``audio`` when ``transcribe`` is False);
            None when the event lacks that field.  An empty string when nothing was
            said.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds, or no
                speech event within ``timeout`` + ``timeouts.listen_margin`` seconds
                of the response.
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        if phrases is None:
            phrases = []
        elif isinstance(phrases, str):
            phrases = [phrases]
        payload = {'phrases': phrases, 'transcribe': transcribe, 'timeout': timeout,
                   'alt_lang': alt_lang}
        wait = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else 0.0
        done = self._send('wf_api_listen_request', target, payload, wait=WAIT_SPEECH,
                          event_timeout=wait + self.timeouts.listen_margin)
        return done.event.get('text' if transcribe else 'audio')

    def translate(self, text: str, from_lang: str = 'en-US', to_lang: str = 'es-ES') -> str:
        """Translate text.

        Sends ``wf_api_translate_request`` ``{text, from_lang, to_lang}`` (no target).

        Args:
            text: the text to translate.
            from_lang: its language (default ``'en-US'``).
            to_lang: the language wanted (default ``'es-ES'``).

        Returns:
            The translated text (the response's ``text``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('translate', text=text, from_lang=from_lang, to_lang=to_lang).get('text')

    # ------------------------------------------------------- notifications
    def _notification(self, target: Target, originator: Optional[str], ntype: str,
                      text: Optional[str], name: str, push_opts: Optional[Dict[str, Any]]) -> None:
        tgt = make_target(target)
        self._call('notification', tgt, self.timeouts.notification, originator=originator,
                   type=ntype, name=name, text=text, target=tgt, push_opts=push_opts)

    def alert(self, target: Target, originator: str, name: str, text: str,
              push_opts: Optional[Dict[str, Any]] = None) -> None:
        """Send an alert: it repeats on each target until someone acknowledges it.

        Sends ``wf_api_notification_request`` ``{_target, originator, type: "alert",
        name, text, target, push_opts}``; ``target`` repeats ``_target``, as
        relay-py sends it, and ``push_opts`` is ``{}`` when not given.
        Each acknowledgement arrives as a notification event with ``event``
        ``'ack_event'`` (``@wf.on_notification(name=name, event='ack_event')``).

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
                Usually a group URN (:func:`~relaysync.group_name`).
            originator: the URN the alert is sent on behalf of, e.g. the
                triggering device.
            name: the alert's name, used to cancel it and echoed in its events.
            text: what the devices say.
            push_opts: from :meth:`push_options`, for the Relay app (default ``{}``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.notification`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._notification(target, originator, 'alert', text, name, push_opts or {})

    def cancel_alert(self, target: Target, name: str) -> None:
        """Cancel the alert ``name`` on the target devices.

        Sends ``wf_api_notification_request`` ``{_target, type: "cancel", name,
        target}`` (no originator, text or push options).

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
            name: the alert's name.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.notification`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._notification(target, None, 'cancel', None, name, None)

    def broadcast(self, target: Target, originator: str, name: str, text: str,
                  push_opts: Optional[Dict[str, Any]] = None) -> None:
        """Broadcast a message to the target devices (no acknowledgement).

        Sends ``wf_api_notification_request`` ``{_target, originator, type: "broadcast",
        name, text, target, push_opts}``; ``target`` repeats ``_target``, as
        relay-py sends it, and ``push_opts`` is ``{}`` when not given.

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
                Usually a group URN.
            originator: the URN the broadcast is sent on behalf of.
            name: the broadcast's name (to cancel it).
            text: what the devices say.
            push_opts: from :meth:`push_options` (default ``{}``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.notification`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._notification(target, originator, 'broadcast', text, name, push_opts or {})

    def cancel_broadcast(self, target: Target, name: str) -> None:
        """Cancel the broadcast ``name`` on the target devices.

        Sends ``wf_api_notification_request`` ``{_target, type: "cancel", name,
        target}`` (no originator, text or push options).

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
            name: the broadcast's name.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.notification`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._notification(target, None, 'cancel', None, name, None)

    def notify(self, target: Target, originator: str, name: str, text: str,
               push_opts: Optional[Dict[str, Any]] = None) -> None:
        """Deprecated: send a notification of type ``notify``; use :meth:`alert` or
        :meth:`broadcast`.

        No official SDK has sent ``type: "notify"`` since August 2022 (relay-py,
        relay-js and relay-dotnet removed it); it is kept for old code and emits
        a ``DeprecationWarning``.  Sends ``wf_api_notification_request``
        ``{_target, originator, type: "notify", name, text, target, push_opts}``;
        ``target`` repeats ``_target`` and ``push_opts`` is ``{}`` when not given.

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
            originator: the URN the notification is sent on behalf of.
            name: its name (to cancel it).
            text: what the devices say.
            push_opts: from :meth:`push_options` (default ``{}``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.notification`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        warnings.warn('Relay.notify() is deprecated: no official Relay SDK has sent '
                      'notifications of type "notify" since 2022; use alert() (acknowledged) '
                      'or broadcast()', DeprecationWarning, stacklevel=2)
        self._notification(target, originator, 'notify', text, name, push_opts or {})

    def cancel_notify(self, target: Target, name: str) -> None:
        """Deprecated: cancel the notification ``name``; use :meth:`cancel_alert` or
        :meth:`cancel_broadcast`.

        Kept for old code, with :meth:`notify`; emits a ``DeprecationWarning``.
        Sends ``wf_api_notification_request`` ``{_target, type: "cancel", name,
        target}`` (no originator, text or push options), as the other cancels do.

        Args:
            target: the device(s), group(s) or interaction to act on: a URN string, a
                list of URN strings or ``{'uris': [...]}`` (see :func:`make_target`).
            name: the notification's name.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.notification`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        warnings.warn('Relay.cancel_notify() is deprecated: no official Relay SDK has sent '
                      'notifications of type "notify" since 2022; use cancel_alert() or '
                      'cancel_broadcast()', DeprecationWarning, stacklevel=2)
        self._notification(target, None, 'cancel', None, name, None)

    # --------------------------------------------------------- device info
    def _get_device_info(self, target: Target, query: str, refresh: bool = False) -> Any:
        timeout = self.timeouts.refresh if refresh else None
        return self._call('get_device_info', target, timeout, query=query,
                          refresh=refresh).get(query)

    def get_device_name(self, target: Target) -> str:
        """The device's name.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "name", refresh: false}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Returns:
            The response's ``name``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'name')

    def get_device_id(self, target: Target) -> str:
        """The device's id.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "id", refresh: false}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Returns:
            The response's ``id``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'id')

    def get_device_type(self, target: Target) -> str:
        """The device type.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "type", refresh: false}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Returns:
            The response's ``type``: ``relay``, ``relay2``, ``relay_app``, ``roip`` or ``dash``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'type')

    def get_user_profile(self, target: Target) -> str:
        """The user profile logged in on the device.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "username", refresh: false}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Returns:
            The response's ``username``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'username')

    def get_device_location(self, target: Target, refresh: bool = False) -> str:
        """The street address of the device's last known location.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "address", refresh}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            refresh: True asks the device for a fresh reading first (slower;
                default False).

        Returns:
            The response's ``address`` (a string).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request``
                (``timeouts.refresh`` when ``refresh`` is true) seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'address', refresh)

    def get_device_address(self, target: Target, refresh: bool = False) -> str:
        """Same as :meth:`get_device_location`.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "address", refresh}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            refresh: True asks the device for a fresh reading first (slower;
                default False).

        Returns:
            The response's ``address`` (a string).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request``
                (``timeouts.refresh`` when ``refresh`` is true) seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self.get_device_location(target, refresh)

    def get_device_coordinates(self, target: Target, refresh: bool = False) -> List[float]:
        """The device's coordinates.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "latlong", refresh}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            refresh: True asks the device for a fresh reading first (slower;
                default False).

        Returns:
            The response's ``latlong``: ``[latitude, longitude]`` (numbers).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request``
                (``timeouts.refresh`` when ``refresh`` is true) seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'latlong', refresh)

    def get_device_latlong(self, target: Target, refresh: bool = False) -> List[float]:
        """Same as :meth:`get_device_coordinates`.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "latlong", refresh}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            refresh: True asks the device for a fresh reading first (slower;
                default False).

        Returns:
            The response's ``latlong``: ``[latitude, longitude]``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request``
                (``timeouts.refresh`` when ``refresh`` is true) seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self.get_device_coordinates(target, refresh)

    def get_device_indoor_location(self, target: Target, refresh: bool = False) -> str:
        """The device's indoor location.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "indoor_location", refresh}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            refresh: True asks the device for a fresh reading first (slower;
                default False).

        Returns:
            The response's ``indoor_location``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request``
                (``timeouts.refresh`` when ``refresh`` is true) seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'indoor_location', refresh)

    def get_device_battery(self, target: Target, refresh: bool = False) -> int:
        """The device's battery level.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "battery", refresh}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            refresh: True asks the device for a fresh reading first (slower;
                default False).

        Returns:
            The response's ``battery``: percent, as the server sends it (not converted).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request``
                (``timeouts.refresh`` when ``refresh`` is true) seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'battery', refresh)

    def get_device_location_enabled(self, target: Target) -> Any:
        """Whether location is enabled on the device.

        Sends ``wf_api_get_device_info_request``
        ``{_target, query: "location_enabled", refresh: false}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Returns:
            The response's ``location_enabled`` as the server sends it (not converted).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._get_device_info(target, 'location_enabled')

    def _set_device_info(self, target: Target, field: str, value: str) -> None:
        self._call('set_device_info', target, field=field, value=value)

    def set_device_name(self, target: Target, name: str) -> None:
        """Rename the device.

        Sends ``wf_api_set_device_info_request``
        ``{_target, field: "label", value: name}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            name: the new name.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._set_device_info(target, 'label', name)

    def enable_location(self, target: Target) -> None:
        """Turn location on for the device.

        Sends ``wf_api_set_device_info_request``
        ``{_target, field: "location_enabled", value: "true"}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._set_device_info(target, 'location_enabled', 'true')

    def disable_location(self, target: Target) -> None:
        """Turn location off for the device.

        Sends ``wf_api_set_device_info_request``
        ``{_target, field: "location_enabled", value: "false"}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._set_device_info(target, 'location_enabled', 'false')

    def set_channel(self, target: Target, channel_name: str, suppress_tts: bool = False,
                    disable_home_channel: bool = False) -> None:
        """Switch the device to a channel.

        Sends ``wf_api_set_channel_request`` ``{_target, channel_name, suppress_tts,
        disable_home_channel}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            channel_name: the channel to switch to.
            suppress_tts: True stops the device announcing the switch (default False).
            disable_home_channel: True also disables the home channel (default False).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('set_channel', target, channel_name=channel_name, suppress_tts=suppress_tts,
                   disable_home_channel=disable_home_channel)

    def _set_home_channel_state(self, target: Target, enabled: bool = True) -> None:
        self._call('set_home_channel_state', target, enabled=enabled)

    def enable_home_channel(self, target: Target) -> None:
        """Enable the device's home channel.

        Sends ``wf_api_set_home_channel_state_request`` ``{_target, enabled: true}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._set_home_channel_state(target, True)

    def disable_home_channel(self, target: Target) -> None:
        """Disable the device's home channel.

        Sends ``wf_api_set_home_channel_state_request`` ``{_target, enabled: false}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._set_home_channel_state(target, False)

    def set_user_profile(self, target: Target, username: str, force: bool = False) -> None:
        """Log the device into a user profile.

        Sends ``wf_api_set_user_profile_request`` ``{_target, username, force}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).
            username: the profile to log in.
            force: True logs in even when another profile is logged in (default False).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('set_user_profile', target, username=username, force=force)

    # -------------------------------------------------------- LEDs, vibrate
    def led_action(self, target: Target, effect: str = 'flash',
                   args: Optional[Dict[str, Any]] = None) -> None:
        """Run an LED effect.

        Sends ``wf_api_set_led_request`` ``{_target, effect, args}`` (``args`` left
        out when None).  The helpers below build the common effects.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            effect: ``'rainbow'``, ``'rotate'``, ``'flash'`` (default),
                ``'breathe'``, ``'static'`` or ``'off'``.
            args: the effect's arguments, as built by :meth:`led_info`.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('set_led', target, effect=effect, args=args)

    def switch_all_led_on(self, target: Target, color: str = '0000ff') -> None:
        """Light every LED in one colour.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "static", args: {"colors": {"ring": color}}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            color: six hex digits (default ``'0000ff'``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.led_action(target, 'static', {'colors': {'ring': color}})

    def switch_led_on(self, target: Target, index: int, color: str = '0000ff') -> None:
        """Light one LED.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "static", args: {"colors": {"<index>": color}}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            index: the LED number, 1 to 16, as an int or a string of digits (sent as
                a string key).
            color: six hex digits (default ``'0000ff'``).

        Raises:
            ValueError: ``index`` is not a number from 1 to 16 (nothing is sent).
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        number = index if isinstance(index, int) and not isinstance(index, bool) else (
            int(index) if isinstance(index, str) and index.isascii() and index.isdigit() else None)
        if number is None or not 1 <= number <= 16:
            raise ValueError(f'switch_led_on: index must be a number from 1 to 16, '
                             f'got {index!r}')
        self.led_action(target, 'static', {'colors': {str(number): color}})

    def switch_all_led_off(self, target: Target) -> None:
        """Turn every LED off.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "off", args: {}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.led_action(target, 'off', {})

    def rainbow(self, target: Target, rotations: int = -1) -> None:
        """Run the rainbow effect.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "rainbow", args: {"rotations": rotations}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            rotations: how many times round (default -1: until changed).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.led_action(target, 'rainbow', {'rotations': rotations})

    def rotate(self, target: Target, color: str = '0000ff', rotations: int = -1) -> None:
        """Rotate one lit LED round the ring.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "rotate", args: {"colors": {"1": color}, "rotations": rotations}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            color: six hex digits (default ``'0000ff'``).
            rotations: how many times round (default -1: until changed).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.led_action(target, 'rotate', {'colors': {'1': color}, 'rotations': rotations})

    def flash(self, target: Target, color: str = '0000ff', count: int = -1) -> None:
        """Flash every LED.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "flash", args: {"colors": {"ring": color}, "count": count}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            color: six hex digits (default ``'0000ff'``).
            count: how many flashes (default -1: until changed).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.led_action(target, 'flash', {'colors': {'ring': color}, 'count': count})

    def breathe(self, target: Target, color: str = '0000ff', count: int = -1) -> None:
        """Fade every LED in and out.

        Sends ``wf_api_set_led_request``
        ``{_target, effect: "breathe", args: {"colors": {"ring": color}, "count": count}}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            color: six hex digits (default ``'0000ff'``).
            count: how many breaths (default -1: until changed).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.led_action(target, 'breathe', {'colors': {'ring': color}, 'count': count})

    def vibrate(self, target: Target, pattern: Optional[List[int]] = None) -> None:
        """Vibrate the device.

        Sends ``wf_api_vibrate_request`` ``{_target, pattern}``.

        Args:
            target: where to act: the interaction URN from the lifecycle ``started``
                event (or a device URN, a list of URNs, ``{'uris': [...]}``).
            pattern: durations in milliseconds; None or an empty list sends the
                default ``[100, 500, 500, 500, 500, 500]``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('vibrate', target, pattern=pattern or list(DEFAULT_VIBRATE_PATTERN))

    # -------------------------------------------------------------- timers
    def start_timer(self, timeout: int = 60) -> None:
        """Start the instance's unnamed timer; ``on_timer`` handles it.

        Sends ``wf_api_start_timer_request`` ``{timeout}`` (no target).

        Args:
            timeout: seconds until the timer event (default 60).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('start_timer', timeout=timeout)

    def stop_timer(self) -> None:
        """Stop the unnamed timer.

        Sends ``wf_api_stop_timer_request`` (no other fields).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('stop_timer')

    def set_timer(self, name: str, timer_type: str = 'timeout', timeout: int = 60,
                  timeout_type: str = 'secs') -> None:
        """Start a named timer; ``on_timer_fired`` receives its ``name``.

        Sends ``wf_api_set_timer_request`` ``{type, name, timeout, timeout_type}``.
        Setting a name again replaces that timer.

        Args:
            name: the timer's name.
            timer_type: ``'timeout'`` (default) fires once; ``'interval'`` repeats
                until :meth:`clear_timer`.  Sent as ``type``.
            timeout: the delay, in ``timeout_type`` units (default 60).
            timeout_type: ``'ms'``, ``'secs'`` (default), ``'mins'`` or ``'hrs'``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('set_timer', type=timer_type, name=name, timeout=timeout,
                   timeout_type=timeout_type)

    def clear_timer(self, name: str) -> None:
        """Cancel a named timer.

        Sends ``wf_api_clear_timer_request`` ``{name}``.

        Args:
            name: the timer's name.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('clear_timer', name=name)

    # ----------------------------------------------------------- incidents
    def create_incident(self, originator: str, itype: str) -> str:
        """Create an incident (shown in Relay Dash).

        Sends ``wf_api_create_incident_request`` ``{type, originator_uri}``.
        Its resolution arrives as an ``on_incident`` event.

        Args:
            originator: the URN of the device the incident concerns (sent as it is).
            itype: a free-form incident type, e.g. ``'Panic Alert'``.

        Returns:
            The new ``incident_id``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('create_incident', type=itype, originator_uri=originator) \
            .get('incident_id')

    def resolve_incident(self, incident_id: str, reason: str) -> None:
        """Resolve an incident.

        Sends ``wf_api_resolve_incident_request`` ``{incident_id, reason}``.

        Args:
            incident_id: the id :meth:`create_incident` returned.
            reason: why it is resolved.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('resolve_incident', incident_id=incident_id, reason=reason)

    # --------------------------------------------------------------- calls
    def place_call(self, target: Target, callee_uri: str) -> str:
        """Place a call from the target device.

        Sends ``wf_api_call_request`` ``{_target, uri}``.  Progress arrives as the
        ``on_call_*`` events.

        Args:
            target: the calling device.
            callee_uri: the URN of the device (or the address) to call.

        Returns:
            The ``call_id``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._call('call', target, uri=callee_uri).get('call_id')

    def answer_call(self, target: Target, call_id: str) -> None:
        """Answer a call ringing on the target device.

        Sends ``wf_api_answer_request`` ``{_target, call_id}``.

        Args:
            target: the device the call rings on.
            call_id: the id from the call event.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('answer', target, call_id=call_id)

    def hangup_call(self, target: Target, call_id: str) -> None:
        """Hang up (or decline) a call.

        Sends ``wf_api_hangup_request`` ``{_target, call_id}``.

        Args:
            target: the device on the call.
            call_id: the id from the call event or :meth:`place_call`.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('hangup', target, call_id=call_id)

    def register(self, target: Target, uri: str, password: str, expires: int) -> None:
        """Register the device with a SIP-style endpoint for calls.

        Sends ``wf_api_register_request`` ``{_target, uri, password, expires}``.
        The password never appears in logs (the wire log redacts it).

        Args:
            target: the device.
            uri: the endpoint address.
            password: its password.
            expires: seconds the registration lasts; 0 unregisters.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('register', target, uri=uri, password=password, expires=expires)

    def register_for_calls(self, target: Target, uri: str, password: str,
                           expires: int = 3600) -> None:
        """Same as :meth:`register`, with ``expires`` defaulting to one hour.

        Sends ``wf_api_register_request`` ``{_target, uri, password, expires}``.

        Args:
            target: the device.
            uri: the endpoint address.
            password: its password.
            expires: seconds the registration lasts (default 3600).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.register(target, uri, password, expires)

    def unregister_for_calls(self, target: Target, uri: str, password: str) -> None:
        """Unregister: :meth:`register` with ``expires`` 0.

        Sends ``wf_api_register_request`` ``{_target, uri, password, expires: 0}``.

        Args:
            target: the device.
            uri: the endpoint address.
            password: its password.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self.register(target, uri, password, 0)

    # -------------------------------------------------------------- groups
    def get_group_members(self, group_uri: str) -> List[str]:
        """The members of a group.

        Sends ``wf_api_group_query_request`` ``{query: "list_members", group_uri}``.

        Args:
            group_uri: the group's URN (:func:`~relaysync.group_name` or
                :func:`~relaysync.group_id`).

        Returns:
            The response's ``member_uris``: a list of device URNs.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('group_query', query='list_members', group_uri=group_uri) \
            .get('member_uris')

    def is_group_member(self, group_name_uri: str, potential_member_name_uri: str) -> bool:
        """Whether a device belongs to a group.

        Sends ``wf_api_group_query_request`` ``{query: "is_member", group_uri}``
        where ``group_uri`` is the group-member URN built by
        :func:`~relaysync.group_member` from the two names.

        Args:
            group_name_uri: a name-based group URN (:func:`~relaysync.group_name`).
            potential_member_name_uri: a name-based device URN
                (:func:`~relaysync.device_name`) or an interaction URN whose device
                is name-based.

        Returns:
            The response's ``is_member`` (a bool).

        Raises:
            ValueError: a URN is not name-based (nothing is sent).
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds.
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        group = urns.parse_group_name(group_name_uri)
        device = urns.parse_device_name(potential_member_name_uri)
        if group is None or device is None:
            raise ValueError(f'is_group_member needs a name-based group URN and device URN, '
                             f'got {group_name_uri!r}, {potential_member_name_uri!r}')
        return self._call('group_query', query='is_member',
                          group_uri=urns.group_member(group, device)).get('is_member')

    def create_group(self, name: str) -> str:
        """Create a group.

        Sends ``wf_api_create_group_request`` ``{name}`` (a relay-js action).

        Args:
            name: the group's name.

        Returns:
            The new group's URN (the response's ``uri``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('create_group', name=name).get('uri')

    def delete_group(self, group_uri: str) -> None:
        """Delete a group.

        Sends ``wf_api_delete_group_request`` ``{uri}``.

        Args:
            group_uri: the group's URN (sent as ``uri``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('delete_group', uri=group_uri)

    def add_group_members(self, group_uri: str, members: Target) -> None:
        """Add devices to a group.

        Sends ``wf_api_add_group_members_request`` ``{_target: members, group_uri}``.

        Args:
            group_uri: the group's URN.
            members: the device URN(s) to add, in any target form.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('add_group_members', members, group_uri=group_uri)

    def remove_group_members(self, group_uri: str, members: Target) -> None:
        """Remove devices from a group.

        Sends ``wf_api_remove_group_members_request`` ``{_target: members, group_uri}``.

        Args:
            group_uri: the group's URN.
            members: the device URN(s) to remove, in any target form.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('remove_group_members', members, group_uri=group_uri)

    # --------------------------------------------------------------- inbox
    def get_unread_inbox_size(self, target: Target) -> Any:
        """The number of unread inbox messages on the device.

        Sends ``wf_api_inbox_count_request`` ``{_target}``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Returns:
            The response's ``count`` as the server sends it: a string holding an
            integer (not converted, as in relay-py).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        return self._call('inbox_count', target).get('count')

    def play_unread_inbox_messages(self, target: Target) -> None:
        """Play the device's unread inbox messages.

        Sends ``wf_api_play_inbox_messages_request`` ``{_target}``.  Completion is
        reported to ``on_play_inbox_message``.

        Args:
            target: the device: its device URN or an interaction URN on it (a list
                or ``{'uris': [...]}`` with one URN is accepted too).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
            TypeError: ``target`` is not a URN, a list of URNs or ``{'uris': [...]}``.
        """
        self._call('play_inbox_messages', target)

    # ------------------------------------------------------- subscriptions
    def subscribe(self, target: Target, event_type: str) -> None:
        """Ask for a kind of device event from now on.

        Sends ``wf_api_subscribe_request`` ``{_target, event_type}``.  The events
        then arrive as ``on_position`` (``indoor_position``), ``on_geofence``
        (``outdoor_position``), ``on_nfc_tap`` (``nfc_tap``) or ``on_http_post``
        (``http_post``) events.  Follows a server feature that no released
        official SDK has yet (relay-js has it on a branch).

        Args:
            target: the device(s) whose events to receive (any target form).
            event_type: ``'indoor_position'``, ``'outdoor_position'``,
                ``'nfc_tap'`` or ``'http_post'``
                (:class:`~relaysync.enums.SubscribableEvent`).

        Raises:
            TypeError: ``event_type`` is not a non-empty string, or ``target`` is
                not a URN, a list of URNs or ``{'uris': [...]}`` (nothing is sent).
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('subscribe', target, event_type=_event_type('subscribe', event_type))

    def unsubscribe(self, target: Target, event_type: str) -> None:
        """Stop a subscription made with :meth:`subscribe`.

        Sends ``wf_api_unsubscribe_request`` ``{_target, event_type}``.  Follows a
        server feature that no released official SDK has yet.

        Args:
            target: the device(s), as given to :meth:`subscribe`.
            event_type: the kind of event no longer wanted.

        Raises:
            TypeError: ``event_type`` is not a non-empty string, or ``target`` is
                not a URN, a list of URNs or ``{'uris': [...]}`` (nothing is sent).
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('unsubscribe', target, event_type=_event_type('unsubscribe', event_type))

    # ---------------------------------------------------------- analytics
    def log_message(self, message: str, category: str = 'default', target: Optional[str] = None,
                    content_type: str = 'text/plain') -> None:
        """Record an analytics event (readable with the Relay CLI and Dash).

        Sends ``wf_api_log_analytics_event_request`` ``{content, content_type,
        category, device_uri}`` (``device_uri`` left out when ``target`` is None).

        Args:
            message: the event text (sent as ``content``).
            category: the event category (default ``'default'``).
            target: the URN of a device the event concerns (sent as ``device_uri``,
                as it is; default: none).
            content_type: the MIME type of ``message`` (default ``'text/plain'``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('log_analytics_event', content=message, content_type=content_type,
                   category=category, device_uri=target)

    def log_user_message(self, message: str, target: str, category: str) -> None:
        """Record an analytics event attributed to a device.

        Sends ``wf_api_log_analytics_event_request`` ``{content, content_type:
        "text/plain", category, device_uri}``.

        Args:
            message: the event text.
            target: the device's URN (sent as ``device_uri``).
            category: the event category.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self.log_message(message, category, target)

    def debug_log(self, message: str) -> None:
        """Write a line to the workflow's debug log, shown by ``relay workflow debug``.

        Sends ``wf_api_debug_log_request`` ``{content}``.  Follows a server
        feature that no released official SDK has yet (every official SDK has
        it on a branch, as ``debug_log``/``debugLog``/``DebugLog``).

        Args:
            message: the line (sent as ``content``).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        self._call('debug_log', content=message)

    def set_default_analytic_event_parameters(self, params: Mapping[str, Any]) -> None:
        """Set parameters added to every later :meth:`track_event` and :meth:`track_user_event`.

        Nothing is sent; the parameters are kept for this instance and replace any
        set before.  Parameters given to a track call win over these.

        Args:
            params: ``{name: value}``.
        """
        self._analytics_defaults = dict(params)

    def track_event(self, category: str, parameters: Optional[Mapping[str, Any]] = None) -> None:
        """Record a structured analytics event.

        Sends ``wf_api_log_analytics_event_request`` ``{category, content_type:
        "application/vnd.relay.event.parameters+json", content}`` where ``content``
        is an object: the default parameters merged with ``parameters``.

        Args:
            category: the event category.
            parameters: ``{name: value}`` for this event (default: none).

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        content = dict(self._analytics_defaults, **(parameters or {}))
        self._call('log_analytics_event', category=category,
                   content_type=EVENT_PARAMETERS_CONTENT_TYPE, content=content)

    def track_user_event(self, category: str, target: str,
                         parameters: Optional[Mapping[str, Any]] = None) -> None:
        """Record a structured analytics event attributed to a device.

        Sends ``wf_api_log_analytics_event_request`` ``{device_uri, category,
        content_type: "application/vnd.relay.event.parameters+json",
        analytics_content}``: the parameters go under ``analytics_content``, as
        relay-js sends them for this call.

        Args:
            category: the event category.
            target: the device's URN (sent as ``device_uri``).
            parameters: ``{name: value}`` for this event (default: none), merged
                over the default parameters.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        content = dict(self._analytics_defaults, **(parameters or {}))
        self._call('log_analytics_event', device_uri=target, category=category,
                   content_type=EVENT_PARAMETERS_CONTENT_TYPE, analytics_content=content)

    # ----------------------------------------------------------------- sms
    def sms(self, stype: str, text: str, uri: str) -> str:
        """Send an SMS.

        Sends ``wf_api_sms_request`` ``{type, text, uri}``.  Delivery is reported
        to ``on_sms``.

        Args:
            stype: the message type (sent as ``type``).
            text: the message.
            uri: the recipient.

        Returns:
            The response's ``message_id``.

        Raises:
            ErrorResponse: the Relay server refused the request.
            RelayTimeout: no response within ``timeouts.request`` seconds
                (restarted by each progress event).
            ConnectionClosed: the connection is closed or closes meanwhile.
        """
        return self._call('sms', type=stype, text=text, uri=uri).get('message_id')

    # ----------------------------------------------------------- lifecycle
    def terminate(self) -> None:
        """End this workflow instance.

        Sends ``wf_api_terminate_request`` and returns at once: the Relay server
        sends no response; it answers with a stop event (``on_stop``, reason
        ``'normal'``) and closes the connection.  Interactions still open end with
        the instance.

        Never raises: when the connection is already closed, nothing is sent.
        """
        if self.connection.is_closed:
            logger.debug('[%s] terminate: connection already closed', self.connection.id)
            return
        try:
            self.connection.send('wf_api_terminate_request', {})
        except WorkflowException:
            logger.debug('[%s] terminate: connection closed meanwhile', self.connection.id)


def _event_type(action: str, event_type: Any) -> str:
    if not isinstance(event_type, str) or not event_type:
        raise TypeError(f'{action}: event_type must be a non-empty string such as '
                        f'\'nfc_tap\', got {event_type!r}')
    return event_type


def _number(text: str) -> Union[int, float]:
    try:
        return int(text)
    except ValueError:
        return float(text)
