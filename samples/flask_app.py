"""A Flask app that serves a web page and two workflows on the same port.

Workflow requests (WebSocket upgrades on /hellopath and /echo) are served by
relaysync; every other request goes to Flask as usual.  No Flask route is
needed for the workflow paths.

Development server:   PORT=8080 python samples/flask_app.py
Production (gunicorn): gunicorn -c python:relaysync.gunicorn_conf --workers 2 \\
                           --bind 0.0.0.0:8080 --chdir samples flask_app:app
"""
import logging
import os

from flask import Flask

import relaysync
import relaysync.wsgi

app = Flask(__name__)
server = relaysync.Server()   # holds the registrations; host and port are Flask's

hello = relaysync.Workflow('hello workflow')
server.register(hello, '/hellopath')
echo = relaysync.Workflow('echo workflow')
server.register(echo, '/echo')


@app.route('/')
def index():
    live = server.total_connections()
    return f'<h1>relaysync + Flask</h1><p>{live} workflow instance(s) running.</p>'


@hello.on_start
def hello_start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'hello interaction')


@hello.on_interaction_lifecycle
def hello_lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.say_and_wait(interaction_uri, 'hello from flask')
        relay.end_interaction(interaction_uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


@echo.on_start
def echo_start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'echo interaction')


@echo.on_interaction_lifecycle
def echo_lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        heard = relay.listen(interaction_uri, transcribe=True, timeout=30)
        relay.say_and_wait(interaction_uri, f'you said {heard}' if heard else 'I heard nothing')
        relay.end_interaction(interaction_uri)
    elif itype in (relaysync.TYPE_ENDED, relaysync.TYPE_FAILED):
        relay.terminate()


# Route workflow upgrades to relaysync, everything else to Flask.
relaysync.wsgi.mount(app, server)

if __name__ == '__main__':
    logging.basicConfig(level=logging.INFO)
    app.run(host='0.0.0.0', port=int(os.getenv('PORT', 8080)), threaded=True)
