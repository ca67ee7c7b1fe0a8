"""``Workflow``: the registry of event handlers for one workflow.

This module is also relay-py's facade: every public name of relaysync can be
imported from ``relaysync.workflow`` as well as from ``relaysync``, so a ported
``relay.workflow.X`` becomes ``relaysync.workflow.X``.
"""

import logging
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from .events import LIFECYCLE_TYPES, EventSpec

logger = logging.getLogger('relaysync.workflow')

Handler = Callable[..., Any]
F = TypeVar('F', bound=Handler)

ANY = '*'


def _simple(name: str, args: str, doc: str) -> Callable[['Workflow', F], F]:
    def decorator(self: 'Workflow', func: F) -> F:
        self._register(name, (), func)
        return func
    decorator.__name__ = decorator.__qualname__ = f'on_{name}'
    decorator.__doc__ = (f'{doc}\n\n        Handler signature: ``handler(relay{args})``.\n'
                         '        Returns the function unchanged (stack it, call it, test it).\n')
    return decorator


class Workflow:
    """A named set of event handlers, registered on a :class:`~relaysync.Server` path.

    Handlers are plain (blocking) functions registered with the ``on_*``
    decorators.  Each Relay connection (one workflow instance) runs its
    handlers one at a time, in arrival order, on its own worker thread; the
    first argument is that instance's :class:`~relaysync.Relay` context.  One
    handler per event (per filter pair for buttons and notifications); a later
    registration replaces an earlier one.  Every decorator returns the function
    unchanged.

    Args:
        name: a label used in log lines.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: Dict[str, Dict[Tuple[str, ...], Handler]] = {}

    def __repr__(self) -> str:
        return f'Workflow({self.name!r})'

    # -- registration -------------------------------------------------------
    def _register(self, name: str, key: Tuple[str, ...], func: Handler) -> None:
        if not callable(func):
            raise TypeError(f'on_{name}: handler must be callable, got {func!r}')
        self._handlers.setdefault(name, {})[key] = func

    def handlers(self) -> Dict[str, Dict[Tuple[str, ...], Handler]]:
        """Return a copy of the registered handlers: ``{name: {filter_key: func}}``."""
        return {name: dict(table) for name, table in self._handlers.items()}

    # -- lookup (called by the connection engine for every event) -----------
    def resolve(self, spec: EventSpec, msg: Dict[str, Any]) -> Optional[Tuple[Handler, tuple]]:
        """Find the handler for an event and its positional arguments.

        Returns ``(handler, args)`` or None when nothing is registered for it.
        Missing fields are passed as None.
        """
        get = msg.get
        if spec.name == 'interaction_lifecycle':
            itype = get('type')
            specific = (self._handlers.get(f'interaction_{itype}')
                        if itype in LIFECYCLE_TYPES else None)
            if specific:
                return specific[()], (get('source_uri'), get('reason'))
        table = self._handlers.get(spec.name)
        if not table:
            return None
        args = tuple(get(f) for f in spec.fields)
        if spec.filter_fields is None:
            return table[()], args
        a, b = get(spec.filter_fields[0]), get(spec.filter_fields[1])
        for key in ((a, b), (a, ANY), (ANY, b), (ANY, ANY)):
            try:
                func = table.get(key)
            except TypeError:  # an unhashable value (JSON list or object) matches no filter
                continue
            if func is not None:
                return func, args
        return None

    # -- filtered decorators -------------------------------------------------
    def on_button(self, _func: Optional[F] = None, *, button: str = ANY,
                  taps: str = ANY) -> Any:
        """Register a handler for ``wf_api_button_event``.

        Use bare (``@wf.on_button``) for every button, or with filters
        (``@wf.on_button(button='action', taps='double')``).  ``button`` is
        ``'action'`` or ``'channel'``; ``taps`` is ``'single'``, ``'double'``,
        ``'triple'`` or ``'long'``; ``'*'`` matches anything.  The most specific
        handler wins, in this order: (button, taps), (button, ``*``),
        (``*``, taps), (``*``, ``*``).

        Handler signature: ``handler(relay, button, taps, source_uri)``.
        Returns the function unchanged.
        """
        def decorator(func: F) -> F:
            self._register('button', (button, taps), func)
            return func
        return decorator(_func) if _func is not None else decorator

    def on_notification(self, _func: Optional[F] = None, *, name: str = ANY,
                        event: str = ANY) -> Any:
        """Register a handler for ``wf_api_notification_event``.

        Use bare for every notification, or filtered by the notification
        ``name`` and/or ``event`` (e.g. ``'ack_event'``).  Precedence: (name,
        event), (name, ``*``), (``*``, event), (``*``, ``*``): a specific name
        beats a specific event.

        Handler signature: ``handler(relay, event, name, notification_state, source_uri)``.
        Returns the function unchanged.
        """
        def decorator(func: F) -> F:
            self._register('notification', (name, event), func)
            return func
        return decorator(_func) if _func is not None else decorator

    # -- simple decorators ---------------------------------------------------
    on_start = _simple('start', ', trigger',
                       'Register the handler for ``wf_api_start_event``: the instance started.\n\n'
                       '        ``trigger`` is a dict with ``type`` and ``args``; '
                       '``relay.make_target_uris(trigger)`` gives the triggering device.')
    on_stop = _simple('stop', ', reason',
                      'Register the handler for ``wf_api_stop_event``: the instance is ending '
                      '(``reason`` is ``"normal"`` after terminate).  Requests sent from here may '
                      'fail with ConnectionClosed.')
    on_interaction_lifecycle = _simple(
        'interaction_lifecycle', ', itype, interaction_uri, reason',
        'Register the handler for ``wf_api_interaction_lifecycle_event``.\n\n'
        '        ``itype`` is ``started``, ``resumed``, ``suspended``, ``ended`` or ``failed`` '
        '(compare with ``relaysync.TYPE_STARTED`` ...); ``reason`` is set for ``failed``.  '
        'A handler registered with ``on_interaction_<type>`` takes precedence for its type.')
    on_interaction_started = _simple(
        'interaction_started', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``started`` (takes precedence '
        'over ``on_interaction_lifecycle`` for that type).')
    on_interaction_resumed = _simple(
        'interaction_resumed', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``resumed``.')
    on_interaction_suspended = _simple(
        'interaction_suspended', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``suspended``.')
    on_interaction_ended = _simple(
        'interaction_ended', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``ended``.')
    on_interaction_failed = _simple(
        'interaction_failed', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``failed`` (``reason`` says why).')
    on_prompt = _simple('prompt', ', source_uri, type',
                        'Register the handler for ``wf_api_prompt_event`` (say/play playback '
                        '``started``, ``stopped`` or ``failed``).')
    on_timer = _simple('timer', '',
                       'Register the handler for ``wf_api_timer_event`` (the unnamed timer of '
                       '``start_timer``).')
    on_timer_fired = _simple('timer_fired', ', name',
                             'Register the handler for ``wf_api_timer_fired_event`` (a named '
                             'timer of ``set_timer``).')
    on_speech = _simple('speech', ', text, audio, lang, request_id, source_uri',
                        'Register the handler for ``wf_api_speech_event``.  Speech answering a '
                        'pending ``listen()`` completes that call and is also passed here.')
    on_progress = _simple('progress', '',
                          'Register the handler for ``wf_api_progress_event`` not matching any '
                          'pending request (progress for a pending request extends its timeout).')
    on_play_inbox_message = _simple(
        'play_inbox_message', ', action',
        'Register the handler for ``wf_api_play_inbox_message_event`` (also accepted as '
        '``wf_api_play_inbox_messages_event``); ``action`` is ``complete`` or ``error``.')
    on_incident = _simple('incident', ', type, incident_id, reason',
                          'Register the handler for ``wf_api_incident_event`` (``resolved`` '
                          'or ``cancelled``).')
    on_call_start_request = _simple('call_start_request', ', uri',
                                    'Register the handler for ``wf_api_call_start_request_event``.')
    on_call_received = _simple(
        'call_received', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch', 'Register the handler for ``wf_api_call_received_event``.')
    on_call_ringing = _simple(
        'call_ringing', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch', 'Register the handler for ``wf_api_call_ringing_event``.')
    on_call_progressing = _simple(
        'call_progressing', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch, connect_time_epoch',
        'Register the handler for ``wf_api_call_progressing_event``.')
    on_call_connected = _simple(
        'call_connected', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch, connect_time_epoch',
        'Register the handler for ``wf_api_call_connected_event``.')
    on_call_disconnected = _simple(
        'call_disconnected', ', call_id, direction, device_id, device_name, uri, onnet, '
        'reason, start_time_epoch, connect_time_epoch, end_time_epoch',
        'Register the handler for ``wf_api_call_disconnected_event``.')
    on_call_failed = _simple(
        'call_failed', ', call_id, direction, device_id, device_name, uri, onnet, '
        'reason, start_time_epoch, connect_time_epoch, end_time_epoch',
        'Register the handler for ``wf_api_call_failed_event``.')
    on_sms = _simple('sms', ', id, event', 'Register the handler for ``wf_api_sms_event``.')
    on_resume = _simple('resume', ', trigger', 'Register the handler for ``wf_api_resume_event``.')


# relay-py facade: ``relaysync.workflow.X`` for every public name of ``relaysync``.
from .constants import *  # noqa: E402,F401,F403
from .exceptions import (ConnectionClosed, ErrorResponse, RelaysyncError,  # noqa: E402,F401
                         RelayTimeout, ServerException, WorkflowException)
from .http_api import fetch_device, refresh_access_token, trigger_workflow  # noqa: E402,F401
from .relay import Relay, make_target  # noqa: E402,F401
from .server import Server  # noqa: E402,F401
from .timeouts import Timeouts  # noqa: E402,F401
from .urns import (all_devices, construct, device_id, device_name,  # noqa: E402,F401
                   generic_originator, group_id, group_member, group_name, interaction_name,
                   is_interaction_uri, is_relay_uri, parse_device_id, parse_device_name,
                   parse_group_id, parse_group_name, parse_interaction)
