"""A client of the simulator page's HTTP API, as the page's JavaScript uses it:
the server-sent event stream (``/api/events``) and commands (``/api/command``)."""

import http.client
import json
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit


def request(url: str, method: str = 'GET', path: str = '/', body: Optional[bytes] = None,
            headers: Optional[Dict[str, str]] = None, timeout: float = 10.0
            ) -> Tuple[int, Dict[str, str], bytes]:
    """One HTTP request to the page server: (status, headers, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def command(url: str, action: str, **args: Any) -> Dict[str, Any]:
    """POST a command as the page does; returns the decoded answer (with ``status``)."""
    body = json.dumps(dict(args, action=action)).encode()
    status, _, data = request(url, 'POST', '/api/command', body,
                              {'Content-Type': 'application/json'})
    answer = json.loads(data)
    answer['status'] = status
    return answer


class EventStream:
    """The page's event stream: ``next()`` returns (event, data) pairs in order."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.conn.request('GET', '/api/events')
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.status
        assert self.response.getheader('Content-Type').startswith('text/event-stream')
        self.seen: List[Tuple[str, Any]] = []

    def next(self) -> Optional[Tuple[str, Any]]:
        """The next event, or None when the stream has ended."""
        event, data = None, []
        while True:
            raw = self.response.fp.readline()
            if not raw:
                return None
            line = raw.decode('utf-8').rstrip('\n')
            if not line:
                if event is not None:
                    item = (event, json.loads('\n'.join(data)))
                    self.seen.append(item)
                    return item
                continue
            field, _, value = line.partition(':')
            value = value[1:] if value.startswith(' ') else value
            if field == 'event':
                event = value
            elif field == 'data':
                data.append(value)

    def until(self, predicate: Callable[[str, Any], Any], timeout: float = 10.0) -> Any:
        """Read events until ``predicate(event, data)`` is true; returns that data."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.next()
            if item is None:
                raise AssertionError(f'the stream ended; seen: {[e for e, _ in self.seen]}')
            if predicate(*item):
                return item[1]
        raise AssertionError(f'no such event within {timeout} s; seen: '
                             f'{[e for e, _ in self.seen][-20:]}')

    def since(self, predicate: Callable[[str, Any], Any], timeout: float = 10.0) -> Any:
        """As :meth:`until`, but an event already read counts too."""
        for item in self.seen:
            if predicate(*item):
                return item[1]
        return self.until(predicate, timeout)

    def state(self, predicate: Callable[[Dict[str, Any]], Any], timeout: float = 10.0
              ) -> Dict[str, Any]:
        """The first state for which ``predicate(state)`` is true."""
        return self.until(lambda e, d: e == 'state' and predicate(d), timeout)

    def close(self) -> None:
        self.conn.close()
