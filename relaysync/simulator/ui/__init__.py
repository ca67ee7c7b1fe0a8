"""The simulator page: the virtual devices in a web browser, for a person to use.

``relaysync simulate PROGRAM --ui`` (or :meth:`Simulator.serve_ui
<relaysync.simulator.Simulator.serve_ui>`, or ``pytest --relay-ui``) serves a
page on 127.0.0.1 that draws every virtual device (its 12-LED ring running the
effects the workflow set, vibration, what it says), gives a person its
controls (talk and channel buttons, answering a listen, acknowledging alerts,
calls), the account (devices, groups, variables, triggers, restart) and the
live transcript.  The page is plain HTML, CSS and JavaScript modules shipped in
this package; it needs no build step and no network.
"""

from .server import UiServer

__all__ = ['UiServer']
