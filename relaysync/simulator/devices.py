"""Virtual devices and groups: the account the simulated Relay server manages.

A :class:`VirtualDevice` records everything that happened to it (``heard``,
``leds``, ``vibrations``, ``notifications``, ...) and offers what a person
holding it can do (:meth:`~VirtualDevice.press`, :meth:`~VirtualDevice.say`,
:meth:`~VirtualDevice.acknowledge`, :meth:`~VirtualDevice.answer`,
:meth:`~VirtualDevice.hang_up`, and the events of subscriptions:
:meth:`~VirtualDevice.position`, :meth:`~VirtualDevice.geofence`,
:meth:`~VirtualDevice.nfc_tap`, :meth:`~VirtualDevice.http_post`).  Those
actions run on the simulator's clock thread and return once done.

Create devices with :meth:`relaysync.simulator.Simulator.device`.
"""

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from .. import urns
from . import device_events
from .transcript import Entry

#: The device types the Relay server reports (``get_device_info`` query ``type``).
DEVICE_TYPES = ('relay', 'relay2', 'relay_app', 'roip', 'dash')

#: Button taps and the interaction ``input_types`` that route them to the workflow.
INPUT_TYPES = {
    ('action', 'single'): 'action_button_single_tap',
    ('action', 'double'): 'action_button_double_tap',
    ('action', 'triple'): 'action_button_triple_tap',
    ('action', 'long'): 'action_button_long_press',
    ('channel', 'double'): 'channel_button_double_tap',
    ('channel', 'triple'): 'channel_button_triple_tap',
}
BUTTONS = ('action', 'channel')
TAPS = ('single', 'double', 'triple', 'long')


class LedChange(NamedTuple):
    """One ``set_led`` request the device received (a named tuple).

    Attributes:
        effect: the LED effect: ``static``, ``flash``, ``breathe``,
            ``rotate``, ``rainbow`` or ``off``.
        args: the effect's ``args`` as the workflow sent them (``colors``,
            ``count``, ``rotations``...).
    """
    effect: str
    args: Dict[str, Any]


class Notification:
    """A notification (broadcast, alert, notify) as one device received it.

    The simulator makes one per recipient; find them in
    :attr:`VirtualDevice.notifications`.

    Args:
        sent: the notification request's shared record (one per request,
            holding its run, type, name, text, originator and push options).
        device: the receiving :class:`VirtualDevice`.

    Attributes:
        type: ``broadcast``, ``alert`` or ``notify``.
        name: the notification's name (used to cancel it and in events).
        text: what the device announces.
        originator: the URN it was sent on behalf of (may be None).
        push_opts: the push options sent with it.
        state: ``active``, ``acknowledged`` or ``cancelled``.
        device: the receiving :class:`VirtualDevice`.
    """

    def __init__(self, sent: Any, device: 'VirtualDevice') -> None:
        self.sent = sent  # the shared SentNotification (one per request)
        self.type: str = sent.type
        self.name: str = sent.name
        self.text: Optional[str] = sent.text
        self.originator: Optional[str] = sent.originator
        self.push_opts: Dict[str, Any] = sent.push_opts
        self.device = device
        self.state = 'active'

    def __repr__(self) -> str:
        return (f'<Notification {self.type} {self.name!r} {self.text!r} to '
                f'{self.device.name} ({self.state})>')


class VirtualDevice:
    """A simulated Relay device.

    Create devices with :meth:`Simulator.device`, which takes the same
    keyword arguments (all but ``sim``) and applies them on the clock thread.

    Args:
        sim: the :class:`~relaysync.simulator.Simulator` whose account holds it.
        name: the device name (its name URN is ``urn:relay-resource:name:device:<name>``).
        id: the device id (default: a generated IMEI-like number,
            ``99000756`` and a 7-digit counter).
        type: one of ``relay`` (the default), ``relay2``, ``relay_app``,
            ``roip``, ``dash``.
        battery: battery level in percent (default 100).
        address: street address of the device's location (default ``'1 Main
            Street, Raleigh, NC'``).
        latlong: ``[latitude, longitude]`` (default ``[35.7796, -78.6382]``).
        indoor_location: the indoor location name (default None).
        username: the user profile logged in (default None).
        location_enabled: whether location is on (default True); when off,
            location queries are answered without a value.
        ack_alerts: None (the default: never acknowledges by itself) or the
            simulated seconds after which it acknowledges each alert it gets.
        answer_calls: None (the default: only when the workflow or a test
            answers) or the simulated seconds after which it answers incoming
            calls by itself.
        inbox: unread inbox messages (default: none).
        says: what the user says at successive listens, in order (None:
            silence); a listen finding nothing queued waits for :meth:`say`
            until its own timeout, then hears silence.

    Raises:
        ValueError: ``name`` is empty or not a string, or ``type`` is unknown.

    Attributes:
        name: the device name (a ``set_device_name`` request changes it).
        id: the device id.
        type: the device type.
        battery: battery level in percent (int).
        address: street address of the last location (``get_device_location``).
        latlong: ``[latitude, longitude]``.
        indoor_location: the indoor location name.
        username: the user profile logged in.
        location_enabled: whether location is on.
        ack_alerts: None or the seconds after which it acknowledges alerts.
        answer_calls: None or the seconds after which it answers calls.
        channel: the channel set by ``set_channel`` (None before).
        home_channel_enabled: the state set by ``set_home_channel_state``.
        inbox: unread inbox messages (strings).
        heard: texts spoken to the device (``say``), in order.
        played: audio played on it (``play`` filenames, inbox messages).
        leds: every :class:`LedChange`, in order; ``led`` is the latest.
        vibrations: every vibration pattern (list of ms), in order.
        notifications: every :class:`Notification` received, in order.
        said: what the user said in answer to ``listen`` (None for silence).
        pressed: ``(button, taps)`` pairs pressed, in order.
        sip: ``{uri, expires}`` of the last ``register`` request (None
            before, or after one with ``expires`` 0).
        subscribers: ``{event_type: [Run, ...]}``: the runs subscribed to the
            device's events (``subscribe`` requests).
        log: the transcript entries that concern this device.
    """

    def __init__(self, sim: Any, name: str, id: Optional[str] = None, type: str = 'relay',
                 battery: int = 100, address: Optional[str] = None,
                 latlong: Optional[List[float]] = None, indoor_location: Optional[str] = None,
                 username: Optional[str] = None, location_enabled: bool = True,
                 ack_alerts: Optional[float] = None, answer_calls: Optional[float] = None,
                 inbox: Optional[List[str]] = None, says: Optional[List[Optional[str]]] = None
                 ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f'a device name must be a non-empty string, got {name!r}')
        if type not in DEVICE_TYPES:
            raise ValueError(f'device type must be one of {", ".join(DEVICE_TYPES)}, '
                             f'got {type!r}')
        self._sim = sim
        self.name = name
        self.id = id or f'99000756{sim.next_number("device"):07d}'
        self.type = type
        self.battery = battery
        self.address = address if address is not None else '1 Main Street, Raleigh, NC'
        self.latlong = list(latlong) if latlong is not None else [35.7796, -78.6382]
        self.indoor_location = indoor_location
        self.username = username
        self.location_enabled = location_enabled
        self.ack_alerts = ack_alerts
        self.answer_calls = answer_calls
        self.channel: Optional[str] = None
        self.home_channel_enabled = True
        self.inbox: List[str] = list(inbox or [])
        self.heard: List[str] = []
        self.played: List[str] = []
        self.leds: List[LedChange] = []
        self.vibrations: List[List[int]] = []
        self.notifications: List[Notification] = []
        self.said: List[Optional[str]] = []
        self.pressed: List[Tuple[str, str]] = []
        self.log: List[Entry] = []
        self.sip: Optional[Dict[str, Any]] = None
        self.subscribers: Dict[str, List[Any]] = {}
        self._nfc_counter = 0
        # internal state, touched only on the clock thread
        self.answers: List[Optional[str]] = list(says or [])
        self.listening: Any = None
        self.interactions: List[Any] = []

    def __repr__(self) -> str:
        return f'<VirtualDevice {self.name} ({self.type}, id {self.id})>'

    # ----------------------------------------------------------------- URNs
    @property
    def urn(self) -> str:
        """The name URN: ``urn:relay-resource:name:device:<name>``."""
        return urns.device_name(self.name)

    @property
    def id_urn(self) -> str:
        """The id URN: ``urn:relay-resource:id:device:<id>``."""
        return urns.device_id(self.id)

    @property
    def led(self) -> Optional[LedChange]:
        """The latest LED state, or None if never set."""
        return self.leds[-1] if self.leds else None

    @property
    def foreground(self) -> Any:
        """The interaction currently in the foreground (the latest started on
        the device and not yet ended), or None."""
        return self.interactions[-1] if self.interactions else None

    # -------------------------------------------------------------- actions
    def press(self, button: str = 'action', taps: str = 'single') -> bool:
        """Press a button.

        The press reaches the workflow (as ``wf_api_button_event``) when the
        device's foreground interaction listed the matching ``input_types``
        (or the simulator was made with ``route_all_buttons=True``); it is
        recorded in :attr:`pressed` and the transcript either way.

        Args:
            button: ``'action'`` (the default) or ``'channel'``.
            taps: ``'single'`` (the default), ``'double'``, ``'triple'`` or ``'long'``.

        Returns:
            True when a button event was sent to a workflow.

        Raises:
            ValueError: an unknown button or tap count.
        """
        if button not in BUTTONS or taps not in TAPS:
            raise ValueError(f'press(button, taps): button is one of {BUTTONS}, taps one of '
                             f'{TAPS}; got {button!r}, {taps!r}')
        return bool(self._sim.clock.run_sync(lambda: self._sim.press(self, button, taps)))

    def say(self, text: Optional[str]) -> bool:
        """Speak (push-to-talk): answers the listen in progress on this device,
        or is kept for the next one.

        Args:
            text: what the user says; None means silence (the listen is
                answered with an empty text).

        Returns:
            True when it answered a listen in progress (the workflow gets
            ``wf_api_speech_event``), False when queued.
        """
        return bool(self._sim.clock.run_sync(lambda: self._sim.speak(self, text)))

    def acknowledge(self, name: Optional[str] = None) -> bool:
        """Acknowledge the latest active alert.

        Args:
            name: the alert's name (default None: the latest active alert,
                whatever its name).

        Returns:
            True when an alert was acknowledged (the workflow gets an
            ``ack_event`` notification event), False when none was active.
        """
        return bool(self._sim.clock.run_sync(lambda: self._sim.acknowledge(self, name)))

    def answer(self, call_id: Optional[str] = None) -> bool:
        """Answer a ringing incoming call.

        The workflow gets ``call_connected`` events for both parties.

        Args:
            call_id: the call to answer (default None: the device's latest
                call not yet ended).

        Returns:
            True when a call was answered; False when the device has no such
            call ringing for it.
        """
        calls = self._sim.calls
        return bool(self._sim.clock.run_sync(lambda: calls.answer_by_device(self, call_id)))

    def hang_up(self, call_id: Optional[str] = None) -> bool:
        """Hang up (or decline) the device's call.

        The workflow gets ``call_disconnected`` for a connected call (reason
        ``hangup``), else ``call_failed`` (``declined`` by the callee,
        ``cancelled`` by the caller), for both parties.

        Args:
            call_id: the call to end (default None: the device's latest call
                not yet ended).

        Returns:
            True when a call was ended; False when the device has no such call.
        """
        calls = self._sim.calls
        return bool(self._sim.clock.run_sync(lambda: calls.hang_up_by_device(self, call_id)))

    def request_call(self, uri: str) -> bool:
        """Ask the assistant to call someone.

        Sends ``wf_api_call_start_request_event {uri, source_uri}`` to the run
        this device's input goes to (see :meth:`Simulator.run_for`).

        Args:
            uri: whom to call (a URN, a number...), passed on as it is.

        Returns:
            True when sent; False when no workflow run is live (or its
            connection is gone).
        """
        return bool(self._sim.clock.run_sync(lambda: self._sim.request_call(self, uri)))

    # ------------------------------------- events of subscriptions (clock thread)
    def position(self, position_metadata: Any, position_tags: Optional[List[str]] = None,
                 transition: str = 'entry') -> bool:
        """Move into (or out of) an indoor position.

        Sends ``wf_api_position_event {position_metadata, position_tags,
        transition, source_uri}`` to every run subscribed to this device's
        ``indoor_position`` events; recorded in the transcript either way.

        Args:
            position_metadata: where: venue, floor, room (a string, as the
                Relay server sends it).
            position_tags: the position's tags (default: none).
            transition: ``'entry'`` (the default) or ``'exit'``.

        Returns:
            True when a run was sent the event.

        Raises:
            ValueError: ``transition`` is neither ``entry`` nor ``exit``.
        """
        fields = device_events.position_fields(position_metadata, position_tags, transition)
        return self._emit('position', fields)

    def geofence(self, geofence_label: Any, transition: str = 'entry') -> bool:
        """Cross a geofence.

        Sends ``wf_api_geofence_event {geofence_label, transition, source_uri}``
        to every run subscribed to this device's ``outdoor_position`` events.

        Args:
            geofence_label: the geofence's name.
            transition: ``'entry'`` (the default) or ``'exit'``.

        Returns:
            True when a run was sent the event.

        Raises:
            ValueError: ``transition`` is neither ``entry`` nor ``exit``.
        """
        return self._emit('geofence', device_events.geofence_fields(geofence_label, transition))

    def nfc_tap(self, uid: str, tag_content: Any = '', counter: Optional[str] = None) -> bool:
        """Tap a Relay NFC tag.

        Sends ``wf_api_nfc_tap_event {uid, counter, tag_content, source_uri}`` to
        every run subscribed to this device's ``nfc_tap`` events.

        Args:
            uid: the tag's id.
            tag_content: what the tag holds (default ``''``).
            counter: the tag's tap counter (default: this device's taps so far,
                counted from 1, as a string).

        Returns:
            True when a run was sent the event.
        """
        def fields() -> Dict[str, Any]:
            self._nfc_counter += 1
            return {'uid': uid, 'counter': counter if counter is not None
                    else str(self._nfc_counter), 'tag_content': tag_content}
        return self._emit('nfc_tap', fields)

    def http_post(self, payload: Any, headers: Any = '', query: Any = '') -> bool:
        """An HTTP POST arrives at the Relay server for this device.

        Sends ``wf_api_http_post_event {payload, headers, query, source_uri}`` to
        every run subscribed to this device's ``http_post`` events.

        Args:
            payload: the request body.
            headers: its headers (default ``''``).
            query: its query string (default ``''``).

        Returns:
            True when a run was sent the event.
        """
        return self._emit('http_post', {'payload': payload, 'headers': headers,
                                         'query': query})

    def _emit(self, event: str, fields: Any) -> bool:

        def send() -> bool:
            values = fields() if callable(fields) else fields
            return device_events.emit(self, event, values,
                                      device_events.describe(event, values))
        return bool(self._sim.clock.run_sync(send))

    # ------------------------------------------------------------- waiting
    def wait_until_heard(self, text: str, timeout: float = 5.0) -> bool:
        """Block until the device has heard a text containing ``text``, or
        ``timeout`` real seconds pass.

        Args:
            text: the text to look for in :attr:`heard`, case-insensitively
                (what was heard before the call counts too).
            timeout: real seconds to wait at most (default 5.0).

        Returns:
            True when it has heard it; False at the timeout (no exception).
        """
        wanted = text.lower()
        return bool(self._sim.clock.wait_for(
            lambda: any(wanted in h.lower() for h in self.heard), timeout))

    def wait_until_listening(self, timeout: float = 5.0) -> bool:
        """Block until a ``listen`` is in progress on this device.

        Args:
            timeout: real seconds to wait at most (default 5.0).

        Returns:
            True when a listen is in progress; False at the timeout (no exception).
        """
        return bool(self._sim.clock.wait_for(lambda: self.listening is not None, timeout))


class Group:
    """A group of devices on the simulated account.

    Create groups with :meth:`Simulator.group`.

    Args:
        name: the group name.
        members: the member devices.
        gid: the group id.

    Attributes:
        name: the group name (URN ``urn:relay-resource:name:group:<name>``).
        id: the group id (URN ``urn:relay-resource:id:group:<id>``).
        members: the member :class:`VirtualDevice` objects.
    """

    def __init__(self, name: str, members: List[VirtualDevice], gid: str) -> None:
        self.name = name
        self.id = gid
        self.members = list(members)

    def __repr__(self) -> str:
        return f'<Group {self.name} {[d.name for d in self.members]}>'

    @property
    def urn(self) -> str:
        """The name URN: ``urn:relay-resource:name:group:<name>``."""
        return urns.group_name(self.name)

    @property
    def id_urn(self) -> str:
        """The id URN: ``urn:relay-resource:id:group:<id>``."""
        return urns.group_id(self.id)


class Interaction:
    """An interaction (temporary channel) on one device, owned by one run.

    Attributes:
        uri: its interaction URN (the ``source_uri`` of its lifecycle events).
        name: the interaction name.
        device: the device it runs on.
        run: the owning :class:`Run`.
        options: the ``start_interaction`` options (``input_types`` ...).
        state: ``started``, ``suspended`` or ``ended``.
    """

    def __init__(self, uri: str, name: str, device: Any, run: Any,
                 options: Dict[str, Any]) -> None:
        self.uri = uri
        self.name = name
        self.device = device
        self.run = run
        self.options = options
        self.state = 'started'

    @property
    def active(self) -> bool:
        """True until the interaction has ended."""
        return self.state != 'ended'

    def __repr__(self) -> str:
        return f'<Interaction {self.name!r} on {self.device.name} ({self.state})>'


#: The ``args`` each trigger type starts with, besides ``source_uri`` (``Simulator.trigger``).
TRIGGER_DEFAULTS: Dict[str, Dict[str, Any]] = {
    'button': {'action': 'action_button_single_tap'},
    'phrase': {'phrase': 'hello', 'spillover': ''},
    'http': {'args': {}},
    'nfc': {'uid': '04a2b3c4d5e6f7', 'nfc_payload': {}},
}
