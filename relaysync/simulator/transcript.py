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
from typing import Any, Dict, Iterable, List, NamedTuple, Optional

WORKFLOW = 'workflow'
RELAY = 'relay'


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
    ``'Alice: heard "hi"'`` without."""
    if not times:
        return f'{entry.who}: {entry.text}'
    return f'{entry.time:8.3f}  {entry.who:<9} {entry.text}'


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
