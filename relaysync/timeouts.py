"""``Timeouts``: how long each kind of blocking call waits before raising.

Every blocking call is bounded.  The clock restarts at each sign of progress: a
``wf_api_progress_event`` for the request, the response itself (for calls that
then wait for an event), and a prompt ``started`` event (for say/play_and_wait).
On expiry the call raises :class:`~relaysync.RelayTimeout` naming the request and
what it was waiting for.
"""

from dataclasses import dataclass


@dataclass
class Timeouts:
    """Timeouts in seconds.  Set them per server (``Server(timeouts=...)``) or
    per instance (``relay.timeouts.request = 5``).

    Attributes:
        request: wait for the response to an ordinary request (default 30).
        refresh: wait for ``get_device_*`` with ``refresh=True`` (the device is
            asked for a fresh reading; default 45).
        notification: wait for the response to a notification request, which
            fans out to many devices (default 60).
        prompt: after the say/play response, wait for the prompt ``stopped``
            event of ``say_and_wait``/``play_and_wait`` (default 60).
        listen_margin: after the listen response, wait the listen's own
            ``timeout`` plus this margin for the speech event (default 10).

    Raises:
        ValueError: a value is not a positive number of seconds.

    Example:
        >>> Timeouts(request=10).request
        10
        >>> Timeouts(request=0)
        Traceback (most recent call last):
            ...
        ValueError: Timeouts.request must be a positive number of seconds, got 0
    """
    request: float = 30.0
    refresh: float = 45.0
    notification: float = 60.0
    prompt: float = 60.0
    listen_margin: float = 10.0

    def __post_init__(self) -> None:
        for name in ('request', 'refresh', 'notification', 'prompt', 'listen_margin'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f'Timeouts.{name} must be a positive number of seconds, '
                                 f'got {value!r}')
