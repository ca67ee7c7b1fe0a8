"""The transcript: a readable record of what happened during a simulation.

Every line is an :class:`Entry`: the simulated time, who it concerns (a device
name, ``workflow`` for requests the workflow made, ``relay`` for what the
simulated server did on its own) and a short text.  :func:`format_entry` makes
the printed form, e.g.::

       0.004  workflow  say -> Alice text="hello world" lang="en-US"
       0.004  Alice     heard "hello world"

and, without times (the form tests compare), ``Alice: heard "hello world"``.
"""

import json
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional

WORKFLOW = 'workflow'
RELAY = 'relay'

# Characters that would break a transcript line or change a terminal: C0 and C1
# controls, DEL, and the Unicode line and paragraph separators.
_UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')


class Entry(NamedTuple):
    """One transcript line (a named tuple).

    Attributes:
        time: simulated seconds since the simulator started.
        who: a device name, ``'workflow'`` or ``'relay'``.
        kind: a category: ``request``, ``heard``, ``played``, ``led``,
            ``vibrate``, ``notification``, ``ack``, ``interaction``, ``button``,
            ``speech``, ``listen``, ``timer``, ``call``, ``incident``, ``error``,
            ``trigger``, ``stop``, ``note``, ``program``, ``subscribe``,
            ``position``, ``geofence``, ``nfc_tap``, ``http_post``, ``debug``.
        text: the readable text.
        run: the number of the workflow instance (run) it belongs to, or 0.
    """
    time: float
    who: str
    kind: str
    text: str
    run: int = 0

    def line(self, times: bool = True) -> str:
        """The printed form of this entry.

        Args:
            times: with the simulated time and an aligned name (the default:
                ``'   0.004  Alice     heard "hi"'``); False gives
                ``'Alice: heard "hi"'``.

        Returns:
            One line, without a newline.
        """
        return format_entry(self, times)


def format_entry(entry: Entry, times: bool = True) -> str:
    """Render one entry: ``'   0.004  Alice     heard "hi"'`` with times,
    ``'Alice: heard "hi"'`` without.  Always one line: control characters in
    ``who`` or ``text`` are escaped (see :func:`escape`)."""
    who, text = escape(entry.who), escape(entry.text)
    if not times:
        return f'{who}: {text}'
    return f'{entry.time:8.3f}  {who:<9} {text}'


def escape(text: str) -> str:
    """``text`` with control characters (newlines, carriage returns, escape
    sequences...) and line separators written as JSON escapes (``\\n``,
    ``\\u001b``), so that it stays on one line and cannot drive a terminal.

    Args:
        text: any text.

    Returns:
        The text, unchanged when it has no such character.
    """
    return _UNSAFE.sub(lambda m: json.dumps(m.group())[1:-1], text)


def quote(text: Any) -> str:
    """A string in double quotes (JSON escaping), anything else as compact JSON."""
    return json.dumps(text, ensure_ascii=False, separators=(',', ':'))


def describe_fields(fields: Dict[str, Any], skip: Iterable[str] = ()) -> str:
    """``key=value`` pairs for a message's payload, envelope keys left out."""
    skipped = set(skip)
    parts = [f'{k}={quote(v)}' for k, v in fields.items()
             if not k.startswith('_') and k not in skipped]
    return ' '.join(parts)


def lines(entries: Iterable[Entry], times: bool = False, kinds: Optional[Iterable[str]] = None,
          who: Optional[str] = None) -> List[str]:
    """The printed lines of ``entries``, optionally only some kinds or one speaker."""
    wanted = set(kinds) if kinds is not None else None
    return [format_entry(e, times) for e in entries
            if (wanted is None or e.kind in wanted) and (who is None or e.who == who)]
