"""JSON encoding of requests and decoding of inbound messages.

Outbound: keys holding ``None`` are dropped, recursively through nested dicts and
lists (``None`` list items are kept), because the Relay server reads a JSON
``null`` as the string ``"null"``.

Inbound: some Relay server versions send strings as arrays of character codes
(``[117, 114, 110, ...]`` for ``"urn..."``).  A non-empty list whose items are all
ints (not bools) in the Unicode range is turned back into a string, except under
keys known to hold numbers (``latlong``, ``pattern``) and inside the values that
carry a user's own data, which are passed on verbatim (an HTTP POST's
``payload``, ``headers`` and ``query``, a position's ``position_metadata`` and
``position_tags``, an NFC tag's ``tag_content``).  This runs before routing, so
``_id`` and ``request_id`` comparisons see strings.
"""

import json
import re
from typing import Any, Dict, List, Optional

#: Keys whose integer lists are real numbers, never encoded strings.
NUMERIC_LIST_KEYS = frozenset(('latlong', 'pattern'))
#: Keys whose values are a user's own data, never rewritten.
VERBATIM_KEYS = frozenset(('payload', 'headers', 'query', 'position_metadata',
                           'position_tags', 'tag_content'))

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(',', ':')).encode
_loads = json.loads


def strip_none(obj: Any) -> Any:
    """Return ``obj`` with every dict entry whose value is None removed, recursively.

    relay-py's ``remove_null`` (``relaysync.workflow.remove_null`` is this function).
    """
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if v is None:
                continue
            out[k] = strip_none(v) if isinstance(v, (dict, list, tuple)) else v
        return out
    if isinstance(obj, (list, tuple)):
        return [strip_none(v) if isinstance(v, (dict, list, tuple)) else v for v in obj]
    return obj


def encode(message: Dict[str, Any]) -> str:
    """Serialise an outbound message to compact JSON text, None values omitted."""
    return _dumps(strip_none(message))


def _is_char_codes(value: List[Any]) -> bool:
    return bool(value) and all(type(i) is int and 0 <= i <= 0x10FFFF for i in value)


def _fix(value: Any, key: Optional[str] = None) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and k not in VERBATIM_KEYS:
                value[k] = _fix(v, k)
        return value
    if isinstance(value, list):
        if key not in NUMERIC_LIST_KEYS and _is_char_codes(value):
            try:
                return ''.join(map(chr, value))
            except ValueError:  # pragma: no cover - range already checked
                return value
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                value[i] = _fix(v, key)
        return value
    return value


def decode(text: str) -> Any:
    """Parse one inbound message.

    Returns the parsed JSON value (callers check that it is a dict) with
    character-code lists turned back into strings.  Raises ``ValueError`` for
    text that is not JSON.
    """
    value = _loads(text)
    # Cheap guard: only messages that contain a list can need the fix.
    if '[' in text and isinstance(value, (dict, list)):
        value = _fix(value)
    return value


#: Keys whose string values never appear in logs.
SECRET_KEYS = ('password', 'access_token', 'refresh_token', 'token', 'client_secret',
               'authorization')
_SECRET = re.compile(r'("(?:%s)"\s*:\s*)"(?:[^"\\]|\\.)*"' % '|'.join(SECRET_KEYS),
                     re.IGNORECASE)


def redact(text: str) -> str:
    """Return JSON text with the string values of :data:`SECRET_KEYS` replaced by ``"***"``."""
    return _SECRET.sub(r'\1"***"', text)
