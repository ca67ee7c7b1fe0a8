"""Relay URNs: build, parse and test ``urn:relay-resource:...`` identifiers.

Grammar: ``urn:relay-resource:<id_type>:<resource_type>:<id_or_name>[?<query>]``
with ``id_type`` ``id``, ``name`` or ``all``.  Interaction URNs carry the device
in the query: ``urn:relay-resource:name:interaction:<name>?device=<encoded device URN>``.

Builders percent-encode the name as relay-py does (``urllib.parse.quote``: a
space becomes ``%20``, ``/`` is kept).  Parsers split off the query, split the
head into exactly five parts, and decode only the last part, so names that
contain ``:`` or encoded ``?``/``&`` survive.  A parser given something that is
not the expected kind of URN returns None (relay-py raises ValueError for some
shapes and returns None for others).
"""

from typing import Optional, Tuple
from urllib.parse import parse_qs, quote, unquote

from .constants import INTERACTION_URI_ID, INTERACTION_URI_NAME

_PREFIX = 'urn:relay-resource:'


def construct(resource_type: str, id_type: str, id_or_name: str) -> str:
    """Return ``urn:relay-resource:<id_type>:<resource_type>:<id_or_name>`` (no encoding)."""
    return f'{_PREFIX}{id_type}:{resource_type}:{id_or_name}'


def _build(id_type: str, resource: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f'a {resource} {id_type} must be a non-empty string, got {value!r}')
    return f'{_PREFIX}{id_type}:{resource}:{quote(value)}'


def group_id(gid: str) -> str:
    """URN of the group with id ``gid``: ``urn:relay-resource:id:group:<gid>``."""
    return _build('id', 'group', gid)


def group_name(name: str) -> str:
    """URN of the group named ``name``: ``urn:relay-resource:name:group:<name>``."""
    return _build('name', 'group', name)


def device_id(did: str) -> str:
    """URN of the device with id ``did``: ``urn:relay-resource:id:device:<did>``."""
    return _build('id', 'device', did)


def device_name(name: str) -> str:
    """URN of the device named ``name``: ``urn:relay-resource:name:device:<name>``."""
    return _build('name', 'device', name)


def interaction_name(name: str) -> str:
    """URN of the interaction named ``name`` on any device (no device part)."""
    return _build('name', 'interaction', name)


def group_member(group: str, device: str) -> str:
    """The group-member URN used by ``is_group_member``::

        urn:relay-resource:name:group:<group>?device=<encoded device URN>

    where the device URN is ``urn:relay-resource:name:device:<device>``,
    percent-encoded as a whole (``:`` becomes ``%3A``).

    ``group`` and ``device`` are plain names (not URNs).
    """
    if not group or not device:
        raise ValueError('group_member needs a group name and a device name')
    inner = quote(f'{_PREFIX}name:device:{device}', safe='')
    return f'{_PREFIX}name:group:{quote(group)}?device={inner}'


def all_devices() -> str:
    """The URN of every device on the account: ``urn:relay-resource:all:device``."""
    return f'{_PREFIX}all:device'


def generic_originator() -> str:
    """An originator URN for notifications not sent on behalf of a device."""
    return f'{_PREFIX}name:server:ibot'


def _split(uri: str) -> Optional[Tuple[str, str, str, str]]:
    """Return (id_type, resource_type, decoded value, raw query) or None."""
    if not isinstance(uri, str) or not uri.startswith(_PREFIX):
        return None
    head, _, query = uri.partition('?')
    parts = head.split(':')
    if len(parts) != 5 or not parts[4]:
        return None
    return parts[2], parts[3], unquote(parts[4]), query


def _device_part(uri: str) -> Optional[Tuple[str, str]]:
    """For a device or interaction URN: (id_type, device name or id)."""
    split = _split(uri)
    if split is None:
        return None
    id_type, resource, value, query = split
    if resource == 'device':
        return id_type, value
    if resource == 'interaction':
        devices = parse_qs(query).get('device')
        if devices:
            return _device_part(devices[0])
    return None


def parse_group_name(uri: str) -> Optional[str]:
    """The group name of a ``urn:relay-resource:name:group:...`` URN, else None."""
    split = _split(uri)
    return split[2] if split and split[0] == 'name' and split[1] == 'group' else None


def parse_group_id(uri: str) -> Optional[str]:
    """The group id of a ``urn:relay-resource:id:group:...`` URN, else None."""
    split = _split(uri)
    return split[2] if split and split[0] == 'id' and split[1] == 'group' else None


def parse_device_name(uri: str) -> Optional[str]:
    """The device name of a name-based device URN or of an interaction URN whose
    device is name-based, else None."""
    part = _device_part(uri)
    return part[1] if part and part[0] == 'name' else None


def parse_device_id(uri: str) -> Optional[str]:
    """The device id of an id-based device URN or of an interaction URN whose
    device is id-based, else None."""
    part = _device_part(uri)
    return part[1] if part and part[0] == 'id' else None


def parse_interaction(uri: str) -> Optional[str]:
    """The interaction name of an interaction URN, else None."""
    split = _split(uri)
    return split[2] if split and split[1] == 'interaction' else None


def is_interaction_uri(uri: str) -> bool:
    """True for an interaction URN (name- or id-based)."""
    return isinstance(uri, str) and (uri.startswith(INTERACTION_URI_NAME)
                                     or uri.startswith(INTERACTION_URI_ID))


def is_relay_uri(uri: str) -> bool:
    """True when ``uri`` is a string starting with ``urn:relay-resource``."""
    return isinstance(uri, str) and uri.startswith('urn:relay-resource')
