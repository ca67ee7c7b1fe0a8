"""The table of request handlers, and the decorator that fills it.

Kept apart from the package's ``__init__`` so the handler modules, which
register themselves here, do not import the package that imports them.
"""

from typing import Callable, Dict, Tuple

from ..context import RequestContext

Handler = Callable[[RequestContext], None]

#: request name -> handler
HANDLERS: Dict[str, Handler] = {}

#: request name -> the error text it is refused with
UNSUPPORTED: Dict[str, str] = {
    'set_device_mode': 'set_device_mode is not supported',
    'device_power_off': 'device_power_off is not supported',
}

#: request name -> payload fields left out of the transcript
HIDDEN_FIELDS: Dict[str, Tuple[str, ...]] = {
    'register': ('password',),
    'notification': ('target',),
    'listen': ('request_id',),
    'debug_log': ('content',),   # shown as its own "debug log" line
}

#: request name -> response fields left out of the transcript
HIDDEN_RESPONSE: Dict[str, Tuple[str, ...]] = {
    'say': ('id',),
    'play': ('id',),
    'set_var': ('type',),
}


def handles(*names: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``wf_api_<name>_request``."""
    def decorator(func: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = func
        return func
    return decorator
