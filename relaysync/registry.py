"""``Workflow``: the registry of event handlers for one workflow.

A leaf of the package: it knows the event table (:mod:`relaysync.events`) and
the enums, and nothing of the server, the engine or the actions.
"""

import inspect
import logging
import types
from typing import (Any, Callable, Dict, Literal, Mapping, Optional, Sequence, Tuple, TypeVar,
                    Union, overload)

from .enums import Button, ButtonValue, Taps, TapsValue
from .events import EVENTS, LIFECYCLE_TYPES, EventSpec, event_name, spec_for

logger = logging.getLogger('relaysync.workflow')

Handler = Callable[..., Any]
F = TypeVar('F', bound=Handler)

ANY: Literal['*'] = '*'
BUTTON_VALUES = tuple(b.value for b in Button)
TAPS_VALUES = tuple(t.value for t in Taps)

#: handler name -> the parameters a handler is called with (after ``relay``).
PARAMETERS: Dict[str, Tuple[str, ...]] = {
    'button': ('button', 'taps', 'source_uri'),
    'notification': ('event', 'name', 'notification_state', 'source_uri'),
}


def _simple(name: str, args: str, doc: str) -> Callable[['Workflow', F], F]:
    PARAMETERS[name] = tuple(a.strip() for a in args.split(',') if a.strip())

    def decorator(self: 'Workflow', func: F) -> F:
        self._register(name, (), func)
        return func
    decorator.__name__ = decorator.__qualname__ = f'on_{name}'
    decorator.__doc__ = (f'{doc}\n\n        Handler signature: ``handler(relay{args})``.\n\n'
                         '        Args:\n'
                         '            func: the handler: a function, or a coroutine function\n'
                         '                (``async def``).\n\n'
                         '        Returns:\n'
                         '            ``func`` unchanged, so decorators stack and the function\n'
                         '            can still be called (and tested) directly.\n\n'
                         '        Raises:\n'
                         '            TypeError: ``func`` is not callable, or cannot be called\n'
                         '                with the arguments above.\n')
    return decorator


def check_handler(label: str, func: Any, params: Sequence[str]) -> None:
    """Check, at registration, that ``func`` can be called as a handler.

    Args:
        label: the decorator, for the message (``'on_button'``).
        func: the handler.
        params: the names of the arguments it will be called with,
            ``relay`` first.

    Raises:
        TypeError: ``func`` is not callable, is a generator function (its body
            would never run), or cannot take ``len(params)`` positional
            arguments; the message shows the call it will get.
    """
    call = f'handler({", ".join(params)})'
    if not callable(func):
        raise TypeError(f'{label}: handler must be callable, got {func!r}')
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise TypeError(f'{label}: {getattr(func, "__name__", func)!s} is a generator '
                        f'function, whose body never runs as a handler; it is called as {call}')
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return
    try:
        signature.bind(*params)
    except TypeError:
        name = getattr(func, '__qualname__', getattr(func, '__name__', repr(func)))
        takes = [p for p in signature.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in takes if p.default is p.empty]
        keywords = [p.name for p in signature.parameters.values()
                    if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
        what = 'the event' if label != 'on_error' else 'on_error'
        if keywords:
            how = (f'it needs the keyword argument {keywords[0]!r}, which {what} does not '
                   f'pass; it is called as {call}')
        elif len(required) > len(params):
            how = f'it needs {len(required)} arguments, and {what} passes {len(params)}, as {call}'
        else:
            how = (f'it takes {len(takes)} positional argument{"s" if len(takes) != 1 else ""}: '
                   f'{what} passes {len(params)}, as {call}')
        raise TypeError(f'{label}: {name}{signature} cannot be called as a handler: '
                        f'{how}') from None


def _fields(msg: Mapping[str, Any]) -> Dict[str, Any]:
    """An event's fields without the ``_``-prefixed envelope keys."""
    return {k: v for k, v in msg.items() if not (isinstance(k, str) and k.startswith('_'))}


def _filter_value(label: str, what: str, value: Any,
                  allowed: Optional[Tuple[str, ...]] = None) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f'{label}: {what} must be a non-empty string, got {value!r}')
    plain: str = str.__str__(value)  # a str enum member becomes its plain value
    if allowed is not None and plain not in allowed + (ANY,):
        raise ValueError(f'{label}: {what} must be one of '
                         f'{", ".join(repr(v) for v in allowed + (ANY,))}, got {plain!r}')
    return plain


class Workflow:
    """A named set of event handlers, registered on a :class:`~relaysync.Server` path.

    Handlers are registered with the ``on_*`` decorators (and :meth:`on`, for
    any event by name).  Each Relay connection (one workflow instance) runs
    its handlers one at a time, in arrival order, on its own worker thread;
    the first argument is that instance's :class:`~relaysync.Relay` context.
    A handler may also be a coroutine function (``async def``, as in relay-py):
    it runs to completion on the same worker and its first argument is an
    awaitable view of the same context (see :mod:`relaysync.coroutines`).
    One handler per event (per filter pair for buttons and notifications); a
    later registration replaces an earlier one.  Every decorator checks the
    handler's signature and returns the function unchanged.

    Args:
        name: a label used in log lines.

    Attributes:
        name (str): the label given.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: Dict[str, Dict[Tuple[str, ...], Handler]] = {}
        self._any: Dict[str, Handler] = {}
        self._error_handler: Optional[Handler] = None

    def __repr__(self) -> str:
        return f'Workflow({self.name!r})'

    # -- registration -------------------------------------------------------
    def _register(self, name: str, key: Tuple[str, ...], func: Handler) -> None:
        check_handler(f'on_{name}', func, ('relay',) + PARAMETERS[name])
        self._handlers.setdefault(name, {})[key] = func

    def handlers(self) -> Dict[str, Dict[Tuple[str, ...], Handler]]:
        """A copy of the registered handlers.

        Returns:
            ``{name: {filter_key: func}}``: ``name`` is the event's handler name
            (``'start'``, ``'button'``, ``'interaction_started'``...); ``filter_key``
            is ``(button, taps)`` or ``(name, event)`` for filtered events and ``()``
            for the others.  Handlers registered with :meth:`on` appear as
            ``"on('<name>')"`` with the key ``()``; the :meth:`on_error` handler as
            ``'error'``.
        """
        table = {name: dict(entries) for name, entries in self._handlers.items()}
        for event, func in self._any.items():
            table[f'on({event!r})'] = {(): func}
        if self._error_handler is not None:
            table['error'] = {(): self._error_handler}
        return table

    @overload
    def on(self, event: str, func: F) -> F: ...

    @overload
    def on(self, event: str, func: None = None) -> Callable[[F], F]: ...

    def on(self, event: str, func: Optional[F] = None) -> Union[F, Callable[[F], F]]:
        """Register a handler for any event, by name: ``wf_api_<event>_event``.

        For event types this version of relaysync has no decorator for (the
        Relay server may add some) and for handlers that prefer the whole
        event.  The handler gets the event as one dict: its fields without the
        ``_``-prefixed envelope keys.  When a typed handler (``on_button``...)
        also matches an event, the typed one runs instead.

        Handler signature: ``handler(relay, event)``.

        Args:
            event: the event's name, e.g. ``'position'`` for
                ``wf_api_position_event`` (the full ``_type`` is accepted too).
            func: the handler; leave it out to use ``on`` as a decorator,
                ``@wf.on('position')``.

        Returns:
            ``func`` unchanged; without ``func``, a decorator that registers
            the function and returns it unchanged.

        Raises:
            ValueError: ``event`` is not a name of letters, digits and ``_``.
            TypeError: the handler is not callable or cannot take two arguments.
        """
        if callable(event) and func is None:
            raise TypeError("on() needs the event's name: write @wf.on('position'), "
                            "not a bare @wf.on")
        if not isinstance(event, str):
            raise ValueError(f'on(): the event name must be a string, got {event!r}')
        name = event_name(event) or event
        if (not name or not name.replace('_', 'a').isalnum() or not name.isascii()
                or name.startswith('wf_api_')):
            raise ValueError(f'on(): {event!r} is not an event name such as \'position\' '
                             f'(for wf_api_position_event)')

        def decorator(f: F) -> F:
            check_handler(f'on({name!r})', f, ('relay', 'event'))
            self._any[name] = f
            return f
        return decorator(func) if func is not None else decorator

    def on_error(self, func: F) -> F:
        """Register this workflow's error handler: called when one of its handlers raises.

        It runs on the instance's worker right after the failing handler, once
        the error is logged, and before the server's error listeners
        (:meth:`~relaysync.Server.add_error_listener`); then the instance goes on
        with its next event.  It is not called when a handler ended because the
        connection closed (:class:`~relaysync.ConnectionClosed`).  An exception
        it raises itself is logged and goes no further.

        Handler signature: ``handler(relay, error)``; ``error`` is the exception.

        Args:
            func: the handler: a function, or a coroutine function (``async def``).

        Returns:
            ``func`` unchanged.

        Raises:
            TypeError: ``func`` is not callable, or cannot take two arguments.
        """
        check_handler('on_error', func, ('relay', 'error'))
        self._error_handler = func
        return func

    @property
    def error_handler(self) -> Optional[Handler]:
        """The handler registered with :meth:`on_error`, or None."""
        return self._error_handler

    # -- lookup (called by the connection engine for every event) -----------
    def resolve(self, spec: EventSpec,
                msg: Dict[str, Any]) -> Optional[Tuple[Handler, Tuple[Any, ...], str]]:
        """Find the handler for one event, its positional arguments and its name.

        Called by the connection engine for every event; useful in tests.

        Args:
            spec: how the event is dispatched: its row of the event table
                (``relaysync.events.spec_for(msg['_type'])``).
            msg: the event message.

        Returns:
            ``(handler, args, name)``, where ``args`` are what the handler
            receives after ``relay`` (event fields, a missing one as None; or
            the whole event as one dict) and ``name`` the handler's name
            (``'interaction_started'``, ``"on('position')"``; see
            :func:`relaysync.events.handler_label`); None when no handler takes
            the event.
        """
        get = msg.get
        if not spec.typed:        # a type this version has no decorator for
            func = self._any.get(spec.name)
            return (func, (_fields(msg),), f'on({spec.name!r})') if func is not None else None
        if spec.name == 'interaction_lifecycle':
            itype = get('type')
            specific = (self._handlers.get(f'interaction_{itype}')
                        if itype in LIFECYCLE_TYPES else None)
            if specific:
                return specific[()], (get('source_uri'), get('reason')), f'interaction_{itype}'
        table: Optional[Mapping[Tuple[Any, ...], Handler]] = self._handlers.get(spec.name)
        if table:
            args = tuple(get(f) for f in spec.fields)
            if spec.whole:
                args = (_fields(msg),)
            if spec.filter_fields is None:
                return table[()], args, spec.name
            a, b = get(spec.filter_fields[0]), get(spec.filter_fields[1])
            for key in ((a, b), (a, ANY), (ANY, b), (ANY, ANY)):
                try:
                    func = table.get(key)
                except TypeError:  # an unhashable value (JSON list or object) matches no filter
                    continue
                if func is not None:
                    return func, args, spec.name
        if self._any:
            wire = event_name(get('_type') or '') or spec.name
            for name in (wire, spec.name):
                func = self._any.get(name)
                if func is not None:
                    return func, (_fields(msg),), f'on({name!r})'
        return None

    def has_handler(self, spec: EventSpec) -> bool:
        """Whether any handler could take events of this kind.

        Args:
            spec: the event's row of the event table.

        Returns:
            True when a handler is registered for the event (under any filter
            pair or lifecycle type), or with :meth:`on`.
        """
        if not spec.typed:
            return spec.name in self._any
        if spec.name in self._handlers or spec.name in self._any:
            return True
        if spec.name == 'interaction_lifecycle':
            return any(f'interaction_{t}' in self._handlers for t in LIFECYCLE_TYPES)
        return False

    def get_handler(self, event: Mapping[str, Any]) -> Optional[Handler]:
        """The handler that would run for an event message (relay-py's lookup).

        Args:
            event: the event message, with its ``_type``.

        Returns:
            The handler function, or None when none would run.
        """
        event_type = event.get('_type')
        spec = spec_for(event_type) if isinstance(event_type, str) else None
        found = self.resolve(spec, dict(event)) if spec is not None else None
        return found[0] if found else None

    @property
    def type_handlers(self) -> Mapping[Any, Handler]:
        """A read-only view of the handlers keyed as relay-py keys them.

        ``'wf_api_start_event'`` for a handler without filters,
        ``('wf_api_button_event', button, taps)`` and
        ``('wf_api_notification_event', name, event)`` for filtered ones, and
        ``'wf_api_<name>_event'`` for :meth:`on` handlers.  Per-type lifecycle
        handlers (``on_interaction_started``...) have no relay-py key and are
        left out.  Register handlers with the decorators, not through this view.
        """
        wire: Dict[str, str] = {}
        for event_type, spec in EVENTS.items():
            wire.setdefault(spec.name, event_type)
        view: Dict[Any, Handler] = {}
        for name, table in self._handlers.items():
            if name not in wire:
                continue
            for key, func in table.items():
                view[(wire[name],) + key if key else wire[name]] = func
        for name, func in self._any.items():
            view.setdefault(f'wf_api_{name}_event', func)
        return types.MappingProxyType(view)

    # -- filtered decorators -------------------------------------------------
    @overload
    def on_button(self, _func: F) -> F: ...

    @overload
    def on_button(self, _func: None = None, *,
                  button: Union[ButtonValue, Literal['*']] = ANY,
                  taps: Union[TapsValue, Literal['*']] = ANY) -> Callable[[F], F]: ...

    def on_button(self, _func: Optional[F] = None, *,
                  button: Union[ButtonValue, Literal['*']] = ANY,
                  taps: Union[TapsValue, Literal['*']] = ANY) -> Union[F, Callable[[F], F]]:
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
            button: ``'action'``, ``'channel'`` or ``'*'`` (default: any); a
                :class:`~relaysync.enums.Button` works too.
            taps: ``'single'``, ``'double'``, ``'triple'``, ``'long'`` or ``'*'``
                (default: any); a :class:`~relaysync.enums.Taps` works too.

        Returns:
            Used bare, ``_func`` unchanged; with filters, a decorator that registers
            the function and returns it unchanged.

        Raises:
            ValueError: ``button`` or ``taps`` is not one of the values above (at
                once, before any function is given).
            TypeError: the handler is not callable or cannot take the four
                arguments above.
        """
        key = (_filter_value('on_button', 'button', button, BUTTON_VALUES),
               _filter_value('on_button', 'taps', taps, TAPS_VALUES))
        return self._filtered('button', key, _func)

    @overload
    def on_notification(self, _func: F) -> F: ...

    @overload
    def on_notification(self, _func: None = None, *, name: str = ANY,
                        event: str = ANY) -> Callable[[F], F]: ...

    def on_notification(self, _func: Optional[F] = None, *, name: str = ANY,
                        event: str = ANY) -> Union[F, Callable[[F], F]]:
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
            TypeError: ``name`` or ``event`` is not a non-empty string (at once),
                or the handler is not callable or cannot take the five arguments
                above.
        """
        key = (_filter_value('on_notification', 'name', name),
               _filter_value('on_notification', 'event', event))
        return self._filtered('notification', key, _func)

    def _filtered(self, name: str, key: Tuple[str, str],
                  func: Optional[F]) -> Union[F, Callable[[F], F]]:
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
    on_position = _simple(
        'position', ', position_metadata, position_tags, transition, source_uri',
        'Register the handler for ``wf_api_position_event``: the device\'s indoor\n'
        '        position changed.  Sent after\n'
        '        :meth:`~relaysync.Relay.subscribe` to ``indoor_position``.\n\n'
        '        ``position_metadata`` describes the place (venue, floor, room),\n'
        '        ``position_tags`` is a list of its tags, ``transition`` is ``entry`` or\n'
        '        ``exit``; ``source_uri`` is the device.  Follows a server feature that no\n'
        '        released official SDK has yet.')
    on_geofence = _simple(
        'geofence', ', geofence_label, transition, source_uri',
        'Register the handler for ``wf_api_geofence_event``: the device crossed a\n'
        '        geofence.  Sent after\n'
        '        :meth:`~relaysync.Relay.subscribe` to ``outdoor_position``.\n\n'
        '        ``geofence_label`` names the geofence, ``transition`` is ``entry`` or\n'
        '        ``exit``; ``source_uri`` is the device.  Follows a server feature that no\n'
        '        released official SDK has yet.')
    on_nfc_tap = _simple(
        'nfc_tap', ', uid, counter, tag_content, source_uri',
        'Register the handler for ``wf_api_nfc_tap_event``: the device tapped a\n'
        '        Relay NFC tag.  Sent after\n'
        '        :meth:`~relaysync.Relay.subscribe` to ``nfc_tap``.\n\n'
        '        ``uid`` is the tag\'s id, ``counter`` its tap counter, ``tag_content``\n'
        '        what the tag holds; ``source_uri`` is the device.  Follows a server\n'
        '        feature that no released official SDK has yet.')
    on_http_post = _simple(
        'http_post', ', payload, headers, query, source_uri',
        'Register the handler for ``wf_api_http_post_event``: an HTTP POST reached\n'
        '        the Relay server for the device.  Sent after\n'
        '        :meth:`~relaysync.Relay.subscribe` to ``http_post``.\n\n'
        '        ``payload`` is the request body, ``headers`` and ``query`` its headers\n'
        '        and query string, each as the server sends it; ``source_uri`` is the\n'
        '        device.  Follows a server feature that no released official SDK has yet.')
    on_audio = _simple(
        'audio', ', event',
        'Register the handler for ``wf_api_audio_event``, which relay-dotnet\n'
        '        dispatches ("an audio file is being played on the device") and no\n'
        '        SDK documents.  ``event`` is the whole event as a dict (its fields\n'
        '        without the ``_``-prefixed envelope keys), since its fields are not\n'
        '        known.')
