"""Targets: the devices, groups or interactions an action is aimed at.

A target is a URN string, a list of URN strings, or relay-py's
``{'uris': [...]}`` dict; every action sends it as ``"_target": {"uris": [...]}``
after :func:`make_target` has checked and normalised it.
"""

from typing import Any, Dict, List, Mapping, Sequence, Union

from . import urns
from .exceptions import InvalidArgument

#: A target: one URN, a list of URNs, or relay-py's ``{'uris': [...]}``.
Target = Union[str, Sequence[str], Mapping[str, Union[str, Sequence[str]]]]


def make_target(target: Target) -> Dict[str, List[str]]:
    """Normalise a target to the ``{'uris': [...]}`` form sent as ``_target``.

    Every action that takes a target passes it through this function, so all
    three forms work everywhere.  Nothing that is not a Relay URN is ever sent
    as a target: the mistake is reported where it is made.

    Args:
        target: a URN string, a list (or tuple) of URN strings, or a dict
            ``{'uris': [...]}`` (whose ``uris`` may also be a single string).

    Returns:
        A new dict ``{'uris': [urn, ...]}``.

    Raises:
        InvalidArgument: the target is none of those forms (None, say), one of
            its URNs is not a string starting with ``urn:relay-resource:``, or
            the list is empty.

    Example:
        >>> make_target('urn:relay-resource:name:device:Alice')
        {'uris': ['urn:relay-resource:name:device:Alice']}
        >>> make_target({'uris': 'urn:relay-resource:name:group:team'})
        {'uris': ['urn:relay-resource:name:group:team']}
    """
    uris: Any
    if isinstance(target, str):
        uris = [target]
    elif isinstance(target, dict) and set(target) == {'uris'}:
        uris = target['uris']
        if isinstance(uris, str):
            uris = [uris]
    elif isinstance(target, (list, tuple)):
        uris = target
    else:
        raise InvalidArgument(f'target must be a Relay URN, a list of URNs or '
                              f'{{"uris": [...]}}, got {target!r}')
    if not isinstance(uris, (list, tuple)):
        raise InvalidArgument(f'target URNs must be a list, got {uris!r}')
    if not uris:
        raise InvalidArgument('target must name at least one URN')
    for uri in uris:
        if not urns.is_relay_uri(uri):
            raise InvalidArgument(f'target must be a Relay URN (urn:relay-resource:...), '
                                  f'got {uri!r}')
    return {'uris': list(uris)}


def source_uri_of(trigger: Any) -> str:
    """The URN of the device that fired a workflow, from its start ``trigger``.

    Args:
        trigger: the ``trigger`` dict the ``on_start`` handler received.

    Returns:
        ``trigger['args']['source_uri']``.

    Raises:
        InvalidArgument: ``trigger`` is not a dict with a string ``args.source_uri``
            (also a ``WorkflowException``, as relay-py raised).
    """
    if not isinstance(trigger, dict):
        raise InvalidArgument('trigger parameter is not a dictionary')
    args = trigger.get('args')
    if not isinstance(args, dict):
        raise InvalidArgument('trigger parameter is not a trigger dictionary')
    source_uri = args.get('source_uri')
    if not source_uri or not isinstance(source_uri, str):
        raise InvalidArgument('there is no source_uri definition in the trigger')
    return source_uri


__all__ = ['Target', 'make_target', 'source_uri_of']
