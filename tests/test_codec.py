"""The JSON codec: None stripping on the way out, the character-code fix on the
way in, and redaction of secrets in wire logs."""

import json
import logging

import pytest

from relaysync import codec
from peer import DEVICE


# ------------------------------------------------------------- outbound
def test_strip_none_recursively():
    message = {'a': None, 'b': 1, 'c': {'d': None, 'e': {'f': None, 'g': 0}},
               'h': [None, {'i': None, 'j': False}, [None]], 'k': '', 'l': [], 'm': {}}
    assert codec.strip_none(message) == {
        'b': 1, 'c': {'e': {'g': 0}}, 'h': [None, {'j': False}, [None]], 'k': '', 'l': [],
        'm': {}}
    assert message['a'] is None  # the input is not modified


def test_strip_none_turns_tuples_into_lists():
    assert codec.strip_none({'t': (1, None, {'x': None})}) == {'t': [1, None, {}]}


def test_encode_is_compact_json_without_nulls():
    text = codec.encode({'_id': 'abc', '_type': 't', 'x': None, 'text': 'héllo',
                         'n': {'y': None}})
    assert text == '{"_id":"abc","_type":"t","text":"héllo","n":{}}'
    assert json.loads(text) == {'_id': 'abc', '_type': 't', 'text': 'héllo', 'n': {}}


# -------------------------------------------------------------- inbound
def codes(text):
    return [ord(c) for c in text]


def test_char_code_lists_become_strings():
    message = {'_type': codes('wf_api_speech_event'), 'request_id': codes('abc123'),
               'text': codes('héllo 👋'), 'nested': {'uris': [codes(DEVICE)]}}
    decoded = codec.decode(json.dumps(message))
    assert decoded == {'_type': 'wf_api_speech_event', 'request_id': 'abc123',
                       'text': 'héllo 👋', 'nested': {'uris': [DEVICE]}}


@pytest.mark.parametrize('key', ['latlong', 'pattern'])
def test_numeric_keys_are_kept(key):
    assert codec.decode(json.dumps({key: [40, 74]})) == {key: [40, 74]}


def test_numeric_key_applies_to_nested_lists():
    assert codec.decode('{"latlong": [[40, 74], [41, 75]]}') == {'latlong': [[40, 74], [41, 75]]}


@pytest.mark.parametrize('value', [
    [],                       # empty lists stay lists
    [True, False],            # bools are not character codes
    [1, True],
    [1.0, 2.0],               # floats are not character codes
    [104, 'i'],               # mixed
    [-1, 104],                # out of range
    [0x110000],
    [None, 104],
])
def test_other_lists_are_kept(value):
    assert codec.decode(json.dumps({'v': value})) == {'v': value}


def test_lists_of_dicts_are_walked():
    decoded = codec.decode(json.dumps({'items': [{'name': codes('x')}, {'latlong': [1, 2]}]}))
    assert decoded == {'items': [{'name': 'x'}, {'latlong': [1, 2]}]}


def test_decode_non_json_raises_value_error():
    for text in ('', 'not json', '{"a": }'):
        with pytest.raises(ValueError):
            codec.decode(text)


def test_decode_returns_non_objects_as_parsed():
    assert codec.decode('"text"') == 'text'
    assert codec.decode('42') == 42
    assert codec.decode('null') is None


# ------------------------------------------------------------- redaction
def test_redact_hides_secret_values():
    text = codec.encode({'_type': 'wf_api_register_request', 'uri': 'sip:a@b',
                         'password': 'SECRET-1 "quoted" \\ end',
                         'nested': {'access_token': 'SECRET-2'},
                         'Authorization': 'Bearer SECRET-3', 'refresh_token': 'SECRET-4'})
    redacted = codec.redact(text)
    assert 'SECRET' not in redacted
    assert '"uri":"sip:a@b"' in redacted
    parsed = json.loads(redacted)
    assert parsed['password'] == parsed['nested']['access_token'] == '***'
    assert parsed['Authorization'] == parsed['refresh_token'] == '***'


def test_register_password_never_reaches_the_wire_log(runner, caplog):
    caplog.set_level(logging.DEBUG, logger='relaysync')
    secret = 'sip-password-1234'
    with runner.start(lambda r: r.register(DEVICE, 'sip:alice@example.com', secret, 60)) as job:
        request = job.peer.expect('wf_api_register_request')
        assert request['password'] == secret  # sent, of course
        job.peer.respond(request, password=secret)
        job.result()
    wire = [r for r in caplog.records if r.name == 'relaysync.wire']
    assert wire, 'the wire log records every message at DEBUG'
    assert secret not in caplog.text
