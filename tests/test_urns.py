"""URN helpers: builders, parsers and predicates."""

from urllib.parse import quote

import pytest

import relaysync
from relaysync import urns

IMEI = '990007560023456'


def interaction(name_part, device_urn):
    """An interaction URN as the Relay server sends it: the device URN encoded
    as one query value."""
    return f'urn:relay-resource:name:interaction:{name_part}?device={quote(device_urn, safe="")}'


# -------------------------------------------------------------- builders
@pytest.mark.parametrize('builder,value,expected', [
    (urns.group_id, 'g-1', 'urn:relay-resource:id:group:g-1'),
    (urns.group_name, 'Team A', 'urn:relay-resource:name:group:Team%20A'),
    (urns.device_id, IMEI, f'urn:relay-resource:id:device:{IMEI}'),
    (urns.device_name, 'Alice', 'urn:relay-resource:name:device:Alice'),
    (urns.device_name, 'a b:c/d', 'urn:relay-resource:name:device:a%20b%3Ac/d'),
    (urns.device_name, 'café?&#', 'urn:relay-resource:name:device:caf%C3%A9%3F%26%23'),
    (urns.interaction_name, 'hello world', 'urn:relay-resource:name:interaction:hello%20world'),
])
def test_builders(builder, value, expected):
    assert builder(value) == expected


@pytest.mark.parametrize('builder', [urns.group_id, urns.group_name, urns.device_id,
                                     urns.device_name, urns.interaction_name])
@pytest.mark.parametrize('bad', ['', None, 5])
def test_builders_reject_empty_or_non_strings(builder, bad):
    with pytest.raises(ValueError):
        builder(bad)


def test_construct_does_not_encode():
    assert urns.construct('device', 'name', 'a b') == 'urn:relay-resource:name:device:a b'
    assert urns.construct('group', 'id', 'x') == 'urn:relay-resource:id:group:x'


def test_group_member():
    assert urns.group_member('abc', 'xyz') == \
        'urn:relay-resource:name:group:abc?device=urn%3Arelay-resource%3Aname%3Adevice%3Axyz'
    assert urns.group_member('Team A', 'johnny five') == (
        'urn:relay-resource:name:group:Team%20A'
        '?device=urn%3Arelay-resource%3Aname%3Adevice%3Ajohnny%20five')
    with pytest.raises(ValueError):
        urns.group_member('', 'xyz')
    with pytest.raises(ValueError):
        urns.group_member('abc', '')


def test_fixed_urns():
    assert urns.all_devices() == 'urn:relay-resource:all:device'
    assert urns.generic_originator() == 'urn:relay-resource:name:server:ibot'


def test_exported_from_package_and_workflow_module():
    from relaysync import workflow
    for name in ('group_member', 'parse_device_name', 'is_interaction_uri', 'device_id'):
        assert getattr(relaysync, name) is getattr(urns, name)
        assert getattr(workflow, name) is getattr(urns, name)


# --------------------------------------------------------------- parsers
@pytest.mark.parametrize('name', ['Alice', 'a b', 'a:b', 'a/b', 'a b:c/d', 'x?y&z=1', 'café'])
def test_round_trips(name):
    assert urns.parse_device_name(urns.device_name(name)) == name
    assert urns.parse_device_id(urns.device_id(name)) == name
    assert urns.parse_group_name(urns.group_name(name)) == name
    assert urns.parse_group_id(urns.group_id(name)) == name
    assert urns.parse_interaction(urns.interaction_name(name)) == name


def test_interaction_with_a_name_based_device():
    uri = ('urn:relay-resource:name:interaction:hello%20world'
           '?device=urn%3Arelay-resource%3Aname%3Adevice%3ACam')
    assert urns.parse_interaction(uri) == 'hello world'
    assert urns.parse_device_name(uri) == 'Cam'
    assert urns.parse_device_id(uri) is None
    assert urns.is_interaction_uri(uri) and urns.is_relay_uri(uri)


def test_interaction_with_an_id_based_device():
    uri = interaction('hello', urns.device_id(IMEI))
    assert uri == ('urn:relay-resource:name:interaction:hello'
                   f'?device=urn%3Arelay-resource%3Aid%3Adevice%3A{IMEI}')
    assert urns.parse_device_id(uri) == IMEI
    assert urns.parse_device_name(uri) is None
    assert urns.parse_interaction(uri) == 'hello'


@pytest.mark.parametrize('device', ['a b', 'a:b', 'a/b', 'a b:c/d', 'x+y'])
def test_interaction_device_names_with_special_characters(device):
    uri = interaction('my%20interaction%3A1', urns.device_name(device))
    assert urns.parse_device_name(uri) == device
    assert urns.parse_interaction(uri) == 'my interaction:1'


def test_interaction_with_a_raw_device_name_in_the_query():
    """A device URN encoded once, with a plain space in the name."""
    uri = ('urn:relay-resource:name:interaction:hi'
           '?device=urn%3Arelay-resource%3Aname%3Adevice%3Ajohnny%20five')
    assert urns.parse_device_name(uri) == 'johnny five'


def test_id_based_interaction():
    uri = f'urn:relay-resource:id:interaction:i-1?device={quote(urns.device_id("d1"), safe="")}'
    assert urns.is_interaction_uri(uri)
    assert urns.parse_interaction(uri) == 'i-1'
    assert urns.parse_device_id(uri) == 'd1'


def test_group_member_urn_parses_as_its_group():
    uri = urns.group_member('Team A', 'Alice')
    assert urns.parse_group_name(uri) == 'Team A'
    assert not urns.is_interaction_uri(uri)


@pytest.mark.parametrize('parser,uri', [
    (urns.parse_group_name, 'urn:relay-resource:id:group:g1'),
    (urns.parse_group_name, 'urn:relay-resource:name:device:Alice'),
    (urns.parse_group_id, 'urn:relay-resource:name:group:Team'),
    (urns.parse_device_name, 'urn:relay-resource:name:group:Team'),
    (urns.parse_device_name, 'urn:relay-resource:id:device:d1'),
    (urns.parse_device_id, 'urn:relay-resource:name:device:Alice'),
    (urns.parse_device_name, 'urn:relay-resource:name:interaction:hello'),  # no device part
    (urns.parse_interaction, 'urn:relay-resource:name:device:Alice'),
    (urns.parse_device_name, 'urn:relay-resource:name:device:a:b'),  # raw ':' in the name
    (urns.parse_device_name, 'urn:relay-resource:name:device'),
    (urns.parse_device_name, 'urn:relay-resource:name:device:'),
    (urns.parse_device_name, 'urn:other:name:device:Alice'),
    (urns.parse_device_name, 'Alice'),
    (urns.parse_device_name, ''),
    (urns.parse_device_name, None),
    (urns.parse_group_name, 42),
    (urns.parse_interaction, None),
])
def test_parsers_return_none_for_other_urns(parser, uri):
    assert parser(uri) is None


# ------------------------------------------------------------ predicates
@pytest.mark.parametrize('uri,is_interaction,is_relay', [
    ('urn:relay-resource:name:interaction:x?device=urn%3Arelay-resource%3Aname%3Adevice%3Ay',
     True, True),
    ('urn:relay-resource:id:interaction:x', True, True),
    ('urn:relay-resource:name:device:Alice', False, True),
    ('urn:relay-resource:all:device', False, True),
    ('urn:relay-resource:name:group:Team', False, True),
    ('urn:isbn:0451450523', False, False),
    ('relay-resource:name:device:x', False, False),
    ('', False, False),
    (None, False, False),
    (['urn:relay-resource:name:device:Alice'], False, False),
])
def test_predicates(uri, is_interaction, is_relay):
    assert urns.is_interaction_uri(uri) is is_interaction
    assert urns.is_relay_uri(uri) is is_relay
