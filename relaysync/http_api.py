"""The Relay HTTP API: trigger a workflow and read a device, outside any connection.

Both functions take a (possibly expired) access token and a refresh token; on
HTTP 401 they obtain a new access token once (OAuth 2 ``refresh_token`` grant)
and retry the same request.  They return ``(response, access_token)`` so the
caller can keep the newest token, as relay-py does.  Tokens are never logged.

Hosts default to Relay's production servers; set ``api_url``/``auth_url`` (or the
environment variables ``RELAYSYNC_API_URL`` / ``RELAYSYNC_AUTH_URL``) to use
another environment or a local test server.
"""

import logging
import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple


from .constants import AUTH_HOSTNAME, SERVER_HOSTNAME
from .exceptions import TokenRefreshFailed
from .version import SERVER_NAME

if TYPE_CHECKING:  # imported lazily: most workflows never call the HTTP API
    import requests


def _requests() -> Any:
    import requests
    return requests


logger = logging.getLogger('relaysync.http')

#: Default API and auth servers (overridable per call or by environment).
API_URL = f'https://{SERVER_HOSTNAME}'
"""The default API server (overridden by ``api_url`` or ``RELAYSYNC_API_URL``)."""
AUTH_URL = f'https://{AUTH_HOSTNAME}'
"""The default auth server (overridden by ``auth_url`` or ``RELAYSYNC_AUTH_URL``)."""
#: Seconds for each HTTP request.
HTTP_TIMEOUT = 10.0
"""Default seconds for each HTTP request."""


def _api(api_url: Optional[str]) -> str:
    return (api_url or os.environ.get('RELAYSYNC_API_URL') or API_URL).rstrip('/')


def _auth(auth_url: Optional[str]) -> str:
    return (auth_url or os.environ.get('RELAYSYNC_AUTH_URL') or AUTH_URL).rstrip('/')


def _headers(access_token: str) -> Dict[str, str]:
    return {'Authorization': f'Bearer {access_token}', 'User-Agent': SERVER_NAME}


def refresh_access_token(refresh_token: str, client_id: str, auth_url: Optional[str] = None,
                         timeout: float = HTTP_TIMEOUT) -> str:
    """Obtain a new access token with the OAuth 2 refresh-token grant.

    Sends ``POST <auth_url>/oauth2/token`` with the form body
    ``grant_type=refresh_token&refresh_token=...&client_id=...``.  The tokens are
    never logged.

    Args:
        refresh_token: the long-lived refresh token (API key).
        client_id: the OAuth client id.
        auth_url: the auth server (default ``RELAYSYNC_AUTH_URL`` from the
            environment, else ``https://auth.relaygo.com``).
        timeout: seconds for the request (default 10).

    Returns:
        The new ``access_token``.

    Raises:
        TokenRefreshFailed: a status other than 200, or no ``access_token`` in
            the answer.
        requests.RequestException: the request itself failed (network, timeout).
    """
    response = _requests().post(f'{_auth(auth_url)}/oauth2/token',
                             data={'grant_type': 'refresh_token', 'refresh_token': refresh_token,
                                   'client_id': client_id},
                             headers={'User-Agent': SERVER_NAME, 'Accept': 'application/json'},
                             timeout=timeout)
    if response.status_code != 200:
        raise TokenRefreshFailed(f'unable to get access_token: {response.status_code}',
                                 response.status_code)
    try:
        token = response.json()['access_token']
    except (ValueError, KeyError, TypeError):
        raise TokenRefreshFailed('unable to get access_token: no access_token in the answer') \
            from None
    if not isinstance(token, str) or not token:
        raise TokenRefreshFailed('unable to get access_token: empty access_token')
    return token


def _with_refresh(method: str, url: str, access_token: str, refresh_token: str, client_id: str,
                  auth_url: Optional[str], timeout: float, what: str,
                  **kwargs: Any) -> Tuple['requests.Response', str]:
    response = _requests().request(method, url, headers=_headers(access_token), timeout=timeout,
                                **kwargs)
    if response.status_code == 401:
        logger.debug('%s: 401, refreshing the access token', what)
        access_token = refresh_access_token(refresh_token, client_id, auth_url, timeout)
        response = _requests().request(method, url, headers=_headers(access_token),
                                    timeout=timeout, **kwargs)
    logger.debug('%s: status %d', what, response.status_code)
    return response, access_token


def trigger_workflow(access_token: str, refresh_token: str, client_id: str, workflow_id: str,
                     subscriber_id: str, user_id: str, targets: List[str],
                     action_args: Optional[Dict[str, Any]] = None, *,
                     api_url: Optional[str] = None, auth_url: Optional[str] = None,
                     timeout: float = HTTP_TIMEOUT) -> Tuple['requests.Response', str]:
    """Start a workflow through its HTTP trigger.

    Sends ``POST <api_url>/ibot/workflow/<workflow_id>?subscriber_id=...&user_id=...``
    with the JSON body ``{"action": "invoke", "action_args": {...},
    "target_device_ids": [...]}`` (``action_args`` left out when empty,
    ``target_device_ids`` when ``targets`` is empty).  After a 401 the token is
    refreshed once (:func:`refresh_access_token`) and the request sent again.

    Args:
        access_token: an OAuth access token (may be expired: a 401 is retried
            once with a fresh one).
        refresh_token: the long-lived refresh token (API key) used to get a
            new access token.
        client_id: the OAuth client id of the refresh grant.
        workflow_id: the workflow's id (``wf_...``).
        subscriber_id: the account (subscriber) id.
        user_id: the user id the request is made for (a device id).
        targets: the device ids the run is attributed to: a list (a single
            string is accepted), sent as a JSON array (relay-py sent the Python
            text of the list).
        action_args: string values that become the trigger's ``args``
            (default: none).
        api_url: the API server (default ``RELAYSYNC_API_URL`` from the
            environment, else ``https://all-main-pro-ibot.relaysvr.com``).
        auth_url: the auth server for the refresh (default ``RELAYSYNC_AUTH_URL``,
            else ``https://auth.relaygo.com``).
        timeout: seconds for each HTTP request (default 10).

    Returns:
        ``(response, access_token)``: the ``requests.Response`` (any status; it
        is not raised) and the access token used last (the new one after a
        refresh), to keep for the next call.

    Raises:
        TokenRefreshFailed: the token refresh after a 401 failed.
        requests.RequestException: the request itself failed.
    """
    if isinstance(targets, str):
        targets = [targets]
    body: Dict[str, Any] = {'action': 'invoke'}
    if action_args:
        body['action_args'] = dict(action_args)
    if targets:
        body['target_device_ids'] = list(targets)
    return _with_refresh('POST', f'{_api(api_url)}/ibot/workflow/{workflow_id}', access_token,
                         refresh_token, client_id, auth_url, timeout, 'trigger_workflow',
                         params={'subscriber_id': subscriber_id, 'user_id': user_id}, json=body)


def fetch_device(access_token: str, refresh_token: str, client_id: str, subscriber_id: str,
                 user_id: str, *, api_url: Optional[str] = None, auth_url: Optional[str] = None,
                 timeout: float = HTTP_TIMEOUT) -> Tuple['requests.Response', str]:
    """Read a device's details.

    Sends ``GET <api_url>/relaypro/api/v1/device/<user_id>?subscriber_id=...``.
    After a 401 the token is refreshed once and the GET sent again (relay-py
    retried with POST).

    Args:
        access_token: an OAuth access token (may be expired: a 401 is retried
            once with a fresh one).
        refresh_token: the long-lived refresh token (API key) used to get a
            new access token.
        client_id: the OAuth client id of the refresh grant.
        subscriber_id: the account (subscriber) id.
        user_id: the device's user id.
        api_url: the API server (default ``RELAYSYNC_API_URL`` from the
            environment, else ``https://all-main-pro-ibot.relaysvr.com``).
        auth_url: the auth server for the refresh (default ``RELAYSYNC_AUTH_URL``,
            else ``https://auth.relaygo.com``).
        timeout: seconds for each HTTP request (default 10).

    Returns:
        ``(response, access_token)`` as :func:`trigger_workflow`; the device
        document is ``response.json()``.

    Raises:
        TokenRefreshFailed: the token refresh after a 401 failed.
        requests.RequestException: the request itself failed.
    """
    return _with_refresh('GET', f'{_api(api_url)}/relaypro/api/v1/device/{user_id}', access_token,
                         refresh_token, client_id, auth_url, timeout, 'fetch_device',
                         params={'subscriber_id': subscriber_id})
