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
    """Join the parts of a URN, with no encoding and no checks.

    Args:
        resource_type: ``device``, ``group``, ``interaction``, ``server``...
        id_type: ``id`` or ``name``.
        id_or_name: the last part, used as it is.

    Returns:
        ``urn:relay-resource:<id_type>:<resource_type>:<id_or_name>``.

    Example:
        >>> construct('device', 'name', 'Alice')
        'urn:relay-resource:name:device:Alice'
    """
    return f'{_PREFIX}{id_type}:{resource_type}:{id_or_name}'


def _build(id_type: str, resource: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f'a {resource} {id_type} must be a non-empty string, got {value!r}')
    return f'{_PREFIX}{id_type}:{resource}:{quote(value)}'


def group_id(gid: str) -> str:
    """The URN of the group with id ``gid``.

    The gid is percent-encoded as relay-py does (a space becomes ``%20``).

    Args:
        gid: the group id.

    Returns:
        ``urn:relay-resource:id:group:<gid>``.

    Raises:
        ValueError: ``gid`` is empty or not a string.

    Example:
        >>> group_id('grp_42')
        'urn:relay-resource:id:group:grp_42'
    """
    return _build('id', 'group', gid)


def group_name(name: str) -> str:
    """The URN of the group named ``name``.

    The name is percent-encoded as relay-py does (a space becomes ``%20``).

    Args:
        name: the group name.

    Returns:
        ``urn:relay-resource:name:group:<name>``.

    Raises:
        ValueError: ``name`` is empty or not a string.

    Example:
        >>> group_name('night shift')
        'urn:relay-resource:name:group:night%20shift'
    """
    return _build('name', 'group', name)


def device_id(gid: str) -> str:
    """The URN of the device with id ``gid``.

    The id is percent-encoded as relay-py does (a space becomes ``%20``).  The
    parameter keeps relay-py's name, ``gid``, so keyword calls port unchanged.

    Args:
        gid: the device id (IMEI-like for hardware).

    Returns:
        ``urn:relay-resource:id:device:<gid>``.

    Raises:
        ValueError: ``gid`` is empty or not a string.

    Example:
        >>> device_id('990007560023456')
        'urn:relay-resource:id:device:990007560023456'
    """
    return _build('id', 'device', gid)


def device_name(name: str) -> str:
    """The URN of the device named ``name``.

    The name is percent-encoded as relay-py does (a space becomes ``%20``).

    Args:
        name: the device name.

    Returns:
        ``urn:relay-resource:name:device:<name>``.

    Raises:
        ValueError: ``name`` is empty or not a string.

    Example:
        >>> device_name('Alice')
        'urn:relay-resource:name:device:Alice'
    """
    return _build('name', 'device', name)


def interaction_name(name: str) -> str:
    """The URN of the interaction named ``name`` on any device (no device part).

    The name is percent-encoded as relay-py does (a space becomes ``%20``).

    Args:
        name: the interaction name.

    Returns:
        ``urn:relay-resource:name:interaction:<name>``.

    Raises:
        ValueError: ``name`` is empty or not a string.

    Example:
        >>> interaction_name('hello')
        'urn:relay-resource:name:interaction:hello'
    """
    return _build('name', 'interaction', name)


def group_member(group: str, device: str) -> str:
    """The group-member URN that ``Relay.is_group_member`` sends.

    The device URN ``urn:relay-resource:name:device:<device>`` is
    percent-encoded as a whole (``:`` becomes ``%3A``, a space ``%20``; ``/`` is
    kept, as in every URN builder here and in relay-py) and put in the query::

        urn:relay-resource:name:group:<group>?device=<encoded device URN>

    Args:
        group: the group's name (not a URN).
        device: the device's name (not a URN).

    Returns:
        The group-member URN.

    Raises:
        ValueError: ``group`` or ``device`` is empty.

    Example:
        >>> group_member('team', 'Alice')
        'urn:relay-resource:name:group:team?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice'
        >>> group_member('team', 'Jim Smith/2').partition('?')[2]
        'device=urn%3Arelay-resource%3Aname%3Adevice%3AJim%20Smith/2'
    """
    if not group or not device:
        raise ValueError('group_member needs a group name and a device name')
    inner = quote(f'{_PREFIX}name:device:{device}')
    return f'{_PREFIX}name:group:{quote(group)}?device={inner}'


def all_devices() -> str:
    """The URN naming every device on the account.

    Returns:
        ``'urn:relay-resource:all:device'``.
    """
    return f'{_PREFIX}all:device'


def generic_originator() -> str:
    """An originator URN for notifications not sent on behalf of a device.

    Returns:
        ``'urn:relay-resource:name:server:ibot'``.
    """
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
    """The group name in a name-based group URN.

    Args:
        uri: a URN such as ``urn:relay-resource:name:group:team`` (a query
            part is ignored).

    Returns:
        The decoded group name, or None when ``uri`` is not a name-based group URN.

    Example:
        >>> parse_group_name('urn:relay-resource:name:group:night%20shift')
        'night shift'
        >>> parse_group_name('urn:relay-resource:id:group:grp_42') is None
        True
    """
    split = _split(uri)
    return split[2] if split and split[0] == 'name' and split[1] == 'group' else None


def parse_group_id(uri: str) -> Optional[str]:
    """The group id in an id-based group URN.

    Args:
        uri: a URN such as ``urn:relay-resource:id:group:grp_42``.

    Returns:
        The decoded group id, or None when ``uri`` is not an id-based group URN.
    """
    split = _split(uri)
    return split[2] if split and split[0] == 'id' and split[1] == 'group' else None


def parse_device_name(uri: str) -> Optional[str]:
    """The device name in a name-based device URN or interaction URN.

    Args:
        uri: a device URN, or an interaction URN whose ``device`` query part
            is a name-based device URN.

    Returns:
        The decoded device name, or None for any other URN (an id-based
        device, a group, not a URN at all).

    Example:
        >>> parse_device_name('urn:relay-resource:name:device:Alice')
        'Alice'
        >>> parse_device_name('urn:relay-resource:name:interaction:hello'
        ...                   '?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice')
        'Alice'
    """
    part = _device_part(uri)
    return part[1] if part and part[0] == 'name' else None


def parse_device_id(uri: str) -> Optional[str]:
    """The device id in an id-based device URN or interaction URN.

    Args:
        uri: a device URN, or an interaction URN whose ``device`` query part
            is an id-based device URN (relay-py cannot parse that case).

    Returns:
        The decoded device id, or None for any other URN.
    """
    part = _device_part(uri)
    return part[1] if part and part[0] == 'id' else None


def parse_interaction(uri: str) -> Optional[str]:
    """The interaction name in an interaction URN.

    Args:
        uri: an interaction URN.

    Returns:
        The decoded interaction name, or None when ``uri`` is not an interaction URN.

    Example:
        >>> parse_interaction('urn:relay-resource:name:interaction:hello%20world'
        ...                   '?device=urn%3Arelay-resource%3Aname%3Adevice%3AAlice')
        'hello world'
    """
    split = _split(uri)
    return split[2] if split and split[1] == 'interaction' else None


def is_interaction_uri(uri: str) -> bool:
    """Whether ``uri`` is an interaction URN (name- or id-based).

    Args:
        uri: any value.

    Returns:
        True when ``uri`` is a string starting with
        ``urn:relay-resource:name:interaction`` or ``urn:relay-resource:id:interaction``.
    """
    return isinstance(uri, str) and (uri.startswith(INTERACTION_URI_NAME)
                                     or uri.startswith(INTERACTION_URI_ID))


def is_relay_uri(uri: str) -> bool:
    """Whether ``uri`` is a Relay URN.

    Args:
        uri: any value.

    Returns:
        True when ``uri`` is a string starting with ``urn:relay-resource``.
    """
    return isinstance(uri, str) and uri.startswith('urn:relay-resource')
