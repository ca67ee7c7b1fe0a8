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
    decorator.__doc__ = (f'{doc}\n\n        Handler signature: ``handler(relay{args})``.\n\n'
                         '        Args:\n'
                         '            func: the handler function.\n\n'
                         '        Returns:\n'
                         '            ``func`` unchanged, so decorators stack and the function\n'
                         '            can still be called (and tested) directly.\n')
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

    Attributes:
        name (str): the label given.
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
        """A copy of the registered handlers.

        Returns:
            ``{name: {filter_key: func}}``: ``name`` is the event's handler name
            (``'start'``, ``'button'``, ``'interaction_started'``...); ``filter_key``
            is ``(button, taps)`` or ``(name, event)`` for filtered events and ``()``
            for the others.
        """
        return {name: dict(table) for name, table in self._handlers.items()}

    # -- lookup (called by the connection engine for every event) -----------
    def resolve(self, spec: EventSpec, msg: Dict[str, Any]) -> Optional[Tuple[Handler, tuple]]:
        """Find the handler for one event, and its positional arguments.

        Called by the connection engine for every event; useful in tests.

        Args:
            spec: the event's row of the event table (``relaysync.events.EVENTS``).
            msg: the event message.

        Returns:
            ``(handler, args)``, where ``args`` are the event fields the handler
            receives after ``relay`` (a missing field is None), or None when no
            handler is registered for the event.
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
        """Register a handler for ``wf_api_button_event``: a button press routed to the workflow.

        Use it bare (``@wf.on_button``) for every press, or with filters
        (``@wf.on_button(button='action', taps='double')``).  When several handlers
        could take a press, the most specific wins, in this order: (button, taps),
        (button, ``*``), (``*``, taps), (``*``, ``*``).  A press reaches the workflow
        only when the foreground interaction asked for it (``input_types`` of
        :meth:`~relaysync.Relay.interaction_options`).

        Handler signature: ``handler(relay, button, taps, source_uri)``; inside an
        interaction ``source_uri`` is the interaction URN.

        Args:
            _func: the handler, when used bare; leave it out to pass filters.
            button: ``'action'``, ``'channel'`` or ``'*'`` (default: any).
            taps: ``'single'``, ``'double'``, ``'triple'``, ``'long'`` or ``'*'``
                (default: any).

        Returns:
            Used bare, ``_func`` unchanged; with filters, a decorator that registers
            the function and returns it unchanged.

        Raises:
            TypeError: the handler is not callable.
        """
        return self._filtered('button', (button, taps), _func)

    def on_notification(self, _func: Optional[F] = None, *, name: str = ANY,
                        event: str = ANY) -> Any:
        """Register a handler for ``wf_api_notification_event``: feedback on a notification.

        Use it bare for every notification event, or filtered by the
        notification's ``name`` and/or ``event`` (``'ack_event'`` when a device
        acknowledges an alert).  Precedence: (name, event), (name, ``*``),
        (``*``, event), (``*``, ``*``): a specific name beats a specific event.

        Handler signature: ``handler(relay, event, name, notification_state,
        source_uri)`` (``event`` first, as relay-py passes it); ``source_uri`` is the
        device that acted and ``notification_state`` the server's summary.

        Args:
            _func: the handler, when used bare; leave it out to pass filters.
            name: the notification name to match, or ``'*'`` (default: any).
            event: the event to match, e.g. ``'ack_event'``, or ``'*'`` (default: any).

        Returns:
            Used bare, ``_func`` unchanged; with filters, a decorator that registers
            the function and returns it unchanged.

        Raises:
            TypeError: the handler is not callable.
        """
        return self._filtered('notification', (name, event), _func)

    def _filtered(self, name: str, key: Tuple[str, str], func: Optional[F]) -> Any:
        def decorator(f: F) -> F:
            self._register(name, key, f)
            return f
        return decorator(func) if func is not None else decorator

    # -- simple decorators ---------------------------------------------------
    on_start = _simple(
        'start', ', trigger',
        'Register the handler for ``wf_api_start_event``: a new instance has started.\n\n'
        '        ``trigger`` is a dict ``{"type": ..., "args": {...}}``.  ``type`` says what\n'
        '        started the workflow (``button``, ``phrase``, ``http``, ``nfc``, ...);\n'
        '        ``args["source_uri"]`` is the URN of the device that fired it (see\n'
        '        ``relay.make_target_uris(trigger)``), and the other ``args`` depend on the\n'
        '        type (``phrase`` and ``spillover`` for a phrase, the HTTP ``action_args``\n'
        '        for ``http``...).')
    on_stop = _simple(
        'stop', ', reason',
        'Register the handler for ``wf_api_stop_event``: the instance is ending.\n\n'
        '        ``reason`` is ``"normal"`` after :meth:`~relaysync.Relay.terminate` and\n'
        '        ``"error"`` (or another text) when the Relay server ends the instance.\n'
        '        The server closes the connection right after, so requests sent from this\n'
        '        handler may raise :class:`~relaysync.ConnectionClosed`.')
    on_interaction_lifecycle = _simple(
        'interaction_lifecycle', ', itype, interaction_uri, reason',
        'Register the handler for ``wf_api_interaction_lifecycle_event``.\n\n'
        '        ``itype`` is ``started``, ``resumed``, ``suspended``, ``ended`` or\n'
        '        ``failed`` (compare with ``relaysync.TYPE_STARTED`` ...);\n'
        '        ``interaction_uri`` is the interaction URN (the event\'s ``source_uri``), the\n'
        '        target for speech, listening, LEDs and vibration; ``reason`` is set for\n'
        '        ``failed`` and None otherwise.  A handler registered with\n'
        '        ``on_interaction_<type>`` takes precedence for its type.')
    on_interaction_started = _simple(
        'interaction_started', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``started``.\n\n'
        '        Takes precedence over :meth:`on_interaction_lifecycle` for that type.\n'
        '        ``interaction_uri`` is the new interaction\'s URN; ``reason`` is None.')
    on_interaction_resumed = _simple(
        'interaction_resumed', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``resumed``.\n\n'
        '        The interaction became the device\'s active channel again (this also\n'
        '        follows ``started``).  Takes precedence over\n'
        '        :meth:`on_interaction_lifecycle` for that type.')
    on_interaction_suspended = _simple(
        'interaction_suspended', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``suspended``.\n\n'
        '        The user switched away from the interaction\'s channel.  Takes\n'
        '        precedence over :meth:`on_interaction_lifecycle` for that type.')
    on_interaction_ended = _simple(
        'interaction_ended', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``ended``.\n\n'
        '        The interaction is over (after :meth:`~relaysync.Relay.end_interaction`).\n'
        '        Takes precedence over :meth:`on_interaction_lifecycle` for that type.')
    on_interaction_failed = _simple(
        'interaction_failed', ', interaction_uri, reason',
        'Register the handler for lifecycle events of type ``failed``.\n\n'
        '        The interaction could not start or continue; ``reason`` says why.\n'
        '        Takes precedence over :meth:`on_interaction_lifecycle` for that type.')
    on_prompt = _simple(
        'prompt', ', source_uri, type',
        'Register the handler for ``wf_api_prompt_event``: playback of a ``say`` or\n'
        '        ``play``.\n\n'
        '        ``source_uri`` is where it plays; ``type`` is ``started``, ``stopped`` or\n'
        '        ``failed``.  The events that complete a pending ``say_and_wait`` or\n'
        '        ``play_and_wait`` are passed here too.')
    on_timer = _simple(
        'timer', '',
        'Register the handler for ``wf_api_timer_event``: the unnamed timer of\n'
        '        :meth:`~relaysync.Relay.start_timer` fired.  The handler gets no other\n'
        '        argument.')
    on_timer_fired = _simple(
        'timer_fired', ', name',
        'Register the handler for ``wf_api_timer_fired_event``: the named timer\n'
        '        ``name`` of :meth:`~relaysync.Relay.set_timer` fired.')
    on_speech = _simple(
        'speech', ', text, audio, lang, request_id, source_uri',
        'Register the handler for ``wf_api_speech_event``: the result of a listen.\n\n'
        '        ``text`` and ``lang`` when transcribed, ``audio`` otherwise (a missing\n'
        '        field is None); ``request_id`` is the ``_id`` of the listen request;\n'
        '        ``source_uri`` is where it was heard.  Speech answering a pending\n'
        '        :meth:`~relaysync.Relay.listen` completes that call and is also passed\n'
        '        here.')
    on_progress = _simple(
        'progress', '',
        'Register the handler for a ``wf_api_progress_event`` that matches no pending\n'
        '        request.  Progress for a pending request restarts that request\'s timeout\n'
        '        and is not passed to handlers.  The handler gets no other argument.')
    on_play_inbox_message = _simple(
        'play_inbox_message', ', action',
        'Register the handler for ``wf_api_play_inbox_message_event`` (relay-java\'s\n'
        '        ``wf_api_play_inbox_messages_event`` is accepted too): the messages of\n'
        '        :meth:`~relaysync.Relay.play_unread_inbox_messages` were played.\n'
        '        ``action`` is ``complete`` or ``error``.')
    on_incident = _simple(
        'incident', ', type, incident_id, reason',
        'Register the handler for ``wf_api_incident_event``: an incident created with\n'
        '        :meth:`~relaysync.Relay.create_incident` was closed.  ``type`` is\n'
        '        ``resolved`` or ``cancelled``; ``reason`` is the text given.')
    on_call_start_request = _simple(
        'call_start_request', ', uri',
        'Register the handler for ``wf_api_call_start_request_event``: the user asked\n'
        '        to call someone; ``uri`` is the destination.')
    on_call_received = _simple(
        'call_received', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch',
        'Register the handler for ``wf_api_call_received_event``: a call is coming in.\n\n'
        '        ``direction`` is ``inbound`` or ``outbound`` (seen from this device);\n'
        '        ``device_id``, ``device_name`` and ``uri`` describe the other party;\n'
        '        ``onnet`` says whether it is a Relay device; ``*_epoch`` are times in\n'
        '        seconds.  Values are passed as the server sends them.')
    on_call_ringing = _simple(
        'call_ringing', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch',
        'Register the handler for ``wf_api_call_ringing_event``: the called party is\n'
        '        ringing.  Arguments as for :meth:`on_call_received`.')
    on_call_progressing = _simple(
        'call_progressing', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch, connect_time_epoch',
        'Register the handler for ``wf_api_call_progressing_event``: call set-up is\n'
        '        progressing.  Arguments as for :meth:`on_call_received`, plus\n'
        '        ``connect_time_epoch``.')
    on_call_connected = _simple(
        'call_connected', ', call_id, direction, device_id, device_name, uri, onnet, '
        'start_time_epoch, connect_time_epoch',
        'Register the handler for ``wf_api_call_connected_event``: the call is\n'
        '        connected.  Arguments as for :meth:`on_call_received`, plus\n'
        '        ``connect_time_epoch``.')
    on_call_disconnected = _simple(
        'call_disconnected', ', call_id, direction, device_id, device_name, uri, onnet, '
        'reason, start_time_epoch, connect_time_epoch, end_time_epoch',
        'Register the handler for ``wf_api_call_disconnected_event``: a connected call\n'
        '        ended.  Arguments as for :meth:`on_call_received`, plus ``reason``,\n'
        '        ``connect_time_epoch`` and ``end_time_epoch``.')
    on_call_failed = _simple(
        'call_failed', ', call_id, direction, device_id, device_name, uri, onnet, '
        'reason, start_time_epoch, connect_time_epoch, end_time_epoch',
        'Register the handler for ``wf_api_call_failed_event``: the call never\n'
        '        connected.  Arguments as for :meth:`on_call_disconnected`.')
    on_sms = _simple(
        'sms', ', id, event',
        'Register the handler for ``wf_api_sms_event``: the status of an SMS sent with\n'
        '        :meth:`~relaysync.Relay.sms` (``id`` is its message id).')
    on_resume = _simple(
        'resume', ', trigger',
        'Register the handler for ``wf_api_resume_event`` (passed the ``trigger``,\n'
        '        as relay-py does; the Relay server documents no more about it).')

# relay-py facade: ``relaysync.workflow.X`` for every public name of ``relaysync``.
from .constants import *  # noqa: E402,F401,F403
from .exceptions import (ConnectionClosed, ErrorResponse, RelaysyncError,  # noqa: E402,F401
                         RelayTimeout, ServerException, WorkflowException)
from .http_api import fetch_device, refresh_access_token, trigger_workflow  # noqa: E402,F401
from .relay import Relay, make_target  # noqa: E402,F401
from .server import Server  # noqa: E402,F401
from .timeouts import Timeouts  # noqa: E402,F401
from .version import __version__  # noqa: E402,F401
from .urns import (all_devices, construct, device_id, device_name,  # noqa: E402,F401
                   generic_originator, group_id, group_member, group_name, interaction_name,
                   is_interaction_uri, is_relay_uri, parse_device_id, parse_device_name,
                   parse_group_id, parse_group_name, parse_interaction)
