"""The HTTP API helpers against a local HTTP server on 127.0.0.1: request shape,
token refresh on 401, failures, and no tokens in logs."""

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, NamedTuple, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import relaysync
from relaysync import (TokenRefreshFailed, WorkflowException, fetch_device, refresh_access_token,
                       trigger_workflow)

ACCESS = 'access-token-OLD-7f3a9'
NEW_ACCESS = 'access-token-NEW-c41d2'
REFRESH = 'refresh-token-SECRET-99e1'
CLIENT = 'client-id-abc'
SUBSCRIBER = 'sub-1234'
USER = '990007560023456'
WORKFLOW = 'wf_hello_123'


class Seen(NamedTuple):
    method: str
    path: str
    query: Dict[str, List[str]]
    headers: Dict[str, str]
    body: bytes


class FakeRelayApi:
    """A local HTTP server playing the Relay API and auth servers.

    ``respond(seen) -> (status, json_body)`` decides each answer; by default the
    API accepts only ``Bearer <valid_token>`` and the token endpoint returns
    ``NEW_ACCESS``.
    """

    def __init__(self) -> None:
        self.seen: List[Seen] = []
        self.valid_token = ACCESS
        self.token_reply: Tuple[int, Any] = (200, {'access_token': NEW_ACCESS,
                                                   'token_type': 'bearer'})
        self.api_reply: Tuple[int, Any] = (200, {'ok': True})
        self.respond: Callable[[Seen], Tuple[int, Any]] = self.default
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

            def handle_any(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                url = urlsplit(self.path)
                seen = Seen(self.command, url.path, parse_qs(url.query),
                            {k.lower(): v for k, v in self.headers.items()}, body)
                api.seen.append(seen)
                status, payload = api.respond(seen)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def default(self, seen: Seen) -> Tuple[int, Any]:
        if seen.path == '/oauth2/token':
            return self.token_reply
        if seen.headers.get('authorization') != f'Bearer {self.valid_token}':
            return 401, {'error': 'unauthorized'}
        return self.api_reply

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def api(monkeypatch):
    for name in ('http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY',
                 'ALL_PROXY', 'RELAYSYNC_API_URL', 'RELAYSYNC_AUTH_URL'):
        monkeypatch.delenv(name, raising=False)
    server = FakeRelayApi()
    yield server
    server.close()


def urls(api):
    return {'api_url': api.url, 'auth_url': api.url, 'timeout': 5}


# ------------------------------------------------------------ trigger_workflow
def test_trigger_workflow_request(api):
    response, token = trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER,
                                       [USER, '990007560099999'], {'color': 'red'}, **urls(api))
    assert response.status_code == 200 and response.json() == {'ok': True}
    assert token == ACCESS
    (seen,) = api.seen
    assert seen.method == 'POST'
    assert seen.path == f'/ibot/workflow/{WORKFLOW}'
    assert seen.query == {'subscriber_id': [SUBSCRIBER], 'user_id': [USER]}
    assert seen.headers['authorization'] == f'Bearer {ACCESS}'
    assert seen.headers['user-agent'] == relaysync.VERSION
    assert seen.headers['content-type'] == 'application/json'
    assert json.loads(seen.body) == {'action': 'invoke', 'action_args': {'color': 'red'},
                                     'target_device_ids': [USER, '990007560099999']}


def test_trigger_workflow_minimal_body(api):
    trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER, [], **urls(api))
    trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER, USER, {},
                     **urls(api))
    assert json.loads(api.seen[0].body) == {'action': 'invoke'}
    assert json.loads(api.seen[1].body) == {'action': 'invoke', 'target_device_ids': [USER]}


def test_trigger_workflow_refreshes_on_401(api):
    api.valid_token = NEW_ACCESS
    response, token = trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER,
                                       [USER], {'k': 'v'}, **urls(api))
    assert response.status_code == 200 and token == NEW_ACCESS
    first, refresh, retry = api.seen
    assert first.headers['authorization'] == f'Bearer {ACCESS}'
    assert refresh.method == 'POST' and refresh.path == '/oauth2/token'
    assert refresh.headers['content-type'] == 'application/x-www-form-urlencoded'
    assert parse_qs(refresh.body.decode()) == {'grant_type': ['refresh_token'],
                                               'refresh_token': [REFRESH],
                                               'client_id': [CLIENT]}
    assert 'authorization' not in refresh.headers
    assert retry.method == 'POST' and retry.path == first.path
    assert retry.headers['authorization'] == f'Bearer {NEW_ACCESS}'
    assert retry.query == first.query and retry.body == first.body


def test_second_401_is_returned_not_looped(api):
    api.valid_token = 'nobody has this one'
    response, token = trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER,
                                       [USER], **urls(api))
    assert response.status_code == 401 and token == NEW_ACCESS
    assert [s.path for s in api.seen] == [f'/ibot/workflow/{WORKFLOW}', '/oauth2/token',
                                          f'/ibot/workflow/{WORKFLOW}']


def test_other_error_statuses_are_returned(api):
    api.api_reply = (500, {'error': 'internal'})
    response, token = trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER,
                                       [USER], **urls(api))
    assert response.status_code == 500 and token == ACCESS
    assert len(api.seen) == 1


@pytest.mark.parametrize('reply', [(400, {'error': 'invalid_grant'}),
                                   (200, {'no_token': 'here'}),
                                   (200, b'not json'),
                                   (200, {'access_token': ''})])
def test_refresh_failure_raises_token_refresh_failed(api, reply):
    api.valid_token = NEW_ACCESS
    api.token_reply = reply
    with pytest.raises(TokenRefreshFailed, match='access_token'):
        trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER, [USER],
                         **urls(api))
    assert [s.path for s in api.seen] == [f'/ibot/workflow/{WORKFLOW}', '/oauth2/token']


def test_environment_variables_choose_the_servers(api, monkeypatch):
    monkeypatch.setenv('RELAYSYNC_API_URL', api.url + '/')
    monkeypatch.setenv('RELAYSYNC_AUTH_URL', api.url)
    api.valid_token = NEW_ACCESS
    response, token = trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER,
                                       [USER], timeout=5)
    assert response.status_code == 200 and token == NEW_ACCESS
    assert api.seen[0].path == f'/ibot/workflow/{WORKFLOW}'


def test_network_errors_propagate(api):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER, [USER],
                         api_url=f'http://127.0.0.1:{port}', auth_url=api.url, timeout=5)


# ---------------------------------------------------------------- fetch_device
def test_fetch_device(api):
    api.api_reply = (200, {'device_label': 'Alice', 'device_status': 'online'})
    response, token = fetch_device(ACCESS, REFRESH, CLIENT, SUBSCRIBER, USER, **urls(api))
    assert response.json() == {'device_label': 'Alice', 'device_status': 'online'}
    assert token == ACCESS
    (seen,) = api.seen
    assert seen.method == 'GET' and seen.path == f'/relaypro/api/v1/device/{USER}'
    assert seen.query == {'subscriber_id': [SUBSCRIBER]}
    assert seen.headers['authorization'] == f'Bearer {ACCESS}'
    assert seen.headers['user-agent'] == relaysync.VERSION


def test_fetch_device_refreshes_and_retries_with_get(api):
    api.valid_token = NEW_ACCESS
    response, token = fetch_device(ACCESS, REFRESH, CLIENT, SUBSCRIBER, USER, **urls(api))
    assert response.status_code == 200 and token == NEW_ACCESS
    first, refresh, retry = api.seen
    assert (first.method, refresh.method, retry.method) == ('GET', 'POST', 'GET')
    assert retry.path == f'/relaypro/api/v1/device/{USER}'
    assert retry.query == {'subscriber_id': [SUBSCRIBER]}
    assert retry.headers['authorization'] == f'Bearer {NEW_ACCESS}'


def test_fetch_device_refresh_failure(api):
    api.valid_token = NEW_ACCESS
    api.token_reply = (401, {'error': 'bad refresh token'})
    with pytest.raises(TokenRefreshFailed, match='401') as info:
        fetch_device(ACCESS, REFRESH, CLIENT, SUBSCRIBER, USER, **urls(api))
    assert isinstance(info.value, WorkflowException) and info.value.status == 401


# ---------------------------------------------------------- refresh directly
def test_refresh_access_token(api):
    assert refresh_access_token(REFRESH, CLIENT, api.url, timeout=5) == NEW_ACCESS
    (seen,) = api.seen
    assert seen.method == 'POST' and seen.path == '/oauth2/token'
    assert seen.headers['user-agent'] == relaysync.VERSION
    assert parse_qs(seen.body.decode()) == {'grant_type': ['refresh_token'],
                                            'refresh_token': [REFRESH], 'client_id': [CLIENT]}


# ----------------------------------------------------------------------- logs
def test_tokens_never_appear_in_debug_logs(api, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    api.valid_token = NEW_ACCESS
    trigger_workflow(ACCESS, REFRESH, CLIENT, WORKFLOW, SUBSCRIBER, USER, [USER],
                     {'k': 'v'}, **urls(api))
    fetch_device(ACCESS, REFRESH, CLIENT, SUBSCRIBER, USER, **urls(api))
    api.token_reply = (400, {'error': 'x'})
    with pytest.raises(WorkflowException):
        fetch_device(ACCESS, REFRESH, CLIENT, SUBSCRIBER, USER, **urls(api))
    assert any(r.name == 'relaysync.http' for r in caplog.records), 'expected debug lines'
    for token in (ACCESS, NEW_ACCESS, REFRESH):
        assert token not in caplog.text
