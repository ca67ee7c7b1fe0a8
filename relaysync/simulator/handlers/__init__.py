"""The simulated Relay server's request handlers, in a table keyed by request name.

``HANDLERS['say']`` handles ``wf_api_say_request``; each handler takes a
:class:`~relaysync.simulator.context.RequestContext`, validates the request
(raising :class:`~relaysync.simulator.context.Refused` for an error response),
sets the response fields and queues the follow-up events.  The handlers are
grouped by topic in the submodules of this package.

Requests in :data:`UNSUPPORTED` are answered with an error, as the Relay
server is documented to do for them; anything else not in the table is an
unknown request type.

Not modelled, and why:

* ``set_device_mode`` and ``device_power_off``: every SDK disables them as
  "not supported"; they are refused with that error.
* ``set_device_channel`` (a typo in commented-out SDK code) and relay-py's
  test-only ``mkinard_breakage`` are not real requests: unknown request type.
* ``register`` is recorded on the device (``VirtualDevice.sip``), but no SIP
  endpoint exists, so nothing follows from it.
* ``sms`` is answered and recorded (``Simulator.sms``); its events are
  undocumented, so no ``wf_api_sms_event`` is sent.
* ``subscribe``, ``unsubscribe`` and ``debug_log`` follow server features no
  released SDK has yet (see :mod:`.subscriptions`).
* Never sent: ``wf_api_resume_event`` and ``wf_api_audio_event`` (undocumented),
  interaction lifecycle ``failed`` and prompt ``failed`` (nothing fails here),
  and the ``timed_out`` notification state (alerts do not time out).
* ``listen`` phrases do not constrain what the device says; ``translate`` is
  scripted; calls to numbers or SIP URIs outside the account fail as
  ``unreachable``.
"""

from .table import (HANDLERS, HIDDEN_FIELDS, HIDDEN_RESPONSE, UNSUPPORTED,  # noqa: F401
                    Handler, handles)
from . import account, calls, device, instance, interactions  # noqa: F401  (they register)
from . import subscriptions  # noqa: F401

__all__ = ['HANDLERS', 'UNSUPPORTED', 'HIDDEN_FIELDS', 'HIDDEN_RESPONSE', 'handles', 'end_run',
           'account', 'calls', 'device', 'instance', 'interactions', 'subscriptions']


def end_run(run) -> None:  # type: ignore[no-untyped-def]
    """Release what a finished run holds: timers, listens, prompts, calls and
    interactions (ended without events, as when a workflow terminates)."""
    instance.stop_timers(run)
    interactions.end_all(run)
    calls.end_all(run)
    subscriptions.end_all(run)
