"""TLS: a certificate made in the test (trustme); wss works, plaintext is never
served on a TLS port, bad key/cert settings fail at construction."""

import logging
import queue
import socket
import ssl

import pytest

import relaysync
from relaysync import ServerException
from peer import HandshakeRejected, RelayPeer, http_exchange, upgrade_request


@pytest.fixture
def tls_served(serve, tls_files):
    key, cert = tls_files
    return serve(scheme='wss', ssl_key_filename=key, ssl_cert_filename=cert)


def test_wss_client_works(tls_served, client_context):
    results = queue.Queue()
    tls_served.workflow.on_start(lambda relay, trigger: results.put(relay.get_var('secure')))
    with tls_served.peer(ssl_context=client_context) as peer:
        assert isinstance(peer.ws.sock, ssl.SSLSocket)
        peer.start()
        request = peer.expect('wf_api_get_var_request')
        peer.respond(request, value='over tls')
        assert results.get(timeout=5) == 'over tls'


def test_wss_client_refused_for_unknown_path(tls_served, client_context):
    with pytest.raises(HandshakeRejected) as info:
        RelayPeer(tls_served.url('/unknown'), ssl_context=client_context)
    assert info.value.status == 404


def test_client_that_does_not_trust_the_cert_fails(tls_served):
    with pytest.raises(ssl.SSLError):
        RelayPeer(tls_served.url(), ssl_context=ssl.create_default_context())


def test_plaintext_client_is_never_served(tls_served):
    reply = http_exchange(tls_served.port, upgrade_request(tls_served.path))
    assert b'101' not in reply and b'HTTP/1.1' not in reply
    with pytest.raises((ConnectionError, OSError)):
        RelayPeer(tls_served.url().replace('wss://', 'ws://'))
    assert tls_served.server.total_connections() == 0


def test_plaintext_health_check_on_tls_port_is_not_answered(tls_served):
    reply = http_exchange(tls_served.port, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    assert b'HTTP/1.1' not in reply


def test_health_check_over_tls(tls_served, client_context):
    with socket.create_connection(('127.0.0.1', tls_served.port), timeout=5) as raw:
        with client_context.wrap_socket(raw, server_hostname='127.0.0.1') as sock:
            sock.sendall(b'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
            data = b''
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b'HTTP/1.1 200')


# -------------------------------------------------------- configuration
def test_missing_key_file(tls_files, tmp_path):
    _, cert = tls_files
    with pytest.raises(ServerException, match='not readable'):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=str(tmp_path / 'missing.key'),
                         ssl_cert_filename=cert)


def test_missing_cert_file(tls_files, tmp_path):
    key, _ = tls_files
    with pytest.raises(ServerException, match='not readable'):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=key,
                         ssl_cert_filename=str(tmp_path / 'missing.pem'))


def test_directory_instead_of_file(tls_files, tmp_path):
    _, cert = tls_files
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=str(tmp_path),
                         ssl_cert_filename=cert)


def test_invalid_key_contents(tls_files, tmp_path):
    _, cert = tls_files
    bad = tmp_path / 'bad.key'
    bad.write_text('-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n')
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=str(bad), ssl_cert_filename=cert)


def test_invalid_cert_contents(tls_files, tmp_path):
    key, _ = tls_files
    bad = tmp_path / 'bad.pem'
    bad.write_text('garbage')
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=key, ssl_cert_filename=str(bad))


def test_key_that_does_not_match_the_cert(ca, tls_files, tmp_path):
    _, cert = tls_files
    other = ca.issue_cert('other.example')
    other_key = tmp_path / 'other.key'
    other.private_key_pem.write_to_path(str(other_key))
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', 0, ssl_key_filename=str(other_key),
                         ssl_cert_filename=cert)


@pytest.mark.parametrize('which', ['key', 'cert'])
def test_only_one_of_key_and_cert(tls_files, which):
    key, cert = tls_files
    kwargs = {'ssl_key_filename': key} if which == 'key' else {'ssl_cert_filename': cert}
    with pytest.raises(ServerException):
        relaysync.Server('127.0.0.1', 0, **kwargs)


def test_startup_log_line_names_the_mode(tls_files, caplog):
    caplog.set_level(logging.INFO, logger='relaysync.server')
    key, cert = tls_files
    for kwargs, mode in (({'ssl_key_filename': key, 'ssl_cert_filename': cert},
                          'ssl_context'), ({}, 'plaintext')):
        caplog.clear()
        server = relaysync.Server('127.0.0.1', 0, **kwargs).start_in_background()
        try:
            lines = [r.getMessage() for r in caplog.records if r.name == 'relaysync.server'
                     and 'listening on' in r.getMessage()]
            assert len(lines) == 1
            assert f'with {mode}' in lines[0]
            assert f'port {server.port}' in lines[0]
            other = 'plaintext' if mode == 'ssl_context' else 'ssl_context'
            assert other not in lines[0]
        finally:
            server.stop(drain_timeout=0)
