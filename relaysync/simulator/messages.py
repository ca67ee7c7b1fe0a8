"""The Relay server's side of the wire: the messages it sends to a workflow.

One vocabulary for everything in this project that plays the Relay server:
the simulator, the test suite's scripted peer and the load driver of the
benchmarks.  Each function returns a message dict ready to encode.

Example:
    >>> request = {'_id': 'r1', '_type': 'wf_api_say_request', 'text': 'hi'}
    >>> response(request, id='r1')
    {'_id': 'r1', '_type': 'wf_api_say_response', 'id': 'r1'}
    >>> event('prompt', type='stopped', id='r1')
    {'_type': 'wf_api_prompt_event', 'type': 'stopped', 'id': 'r1'}
"""

from typing import Any, Dict, Mapping

Message = Dict[str, Any]


def response(request: Mapping[str, Any], **fields: Any) -> Message:
    """The response to ``request``: ``wf_api_<name>_response`` with its ``_id``.

    Args:
        request: the request (its ``_type`` is ``wf_api_<name>_request``).
        **fields: the response's fields.

    Returns:
        ``{'_id': ..., '_type': 'wf_api_<name>_response', **fields}``.

    Raises:
        ValueError: ``request`` has no ``wf_api_<name>_request`` type.
    """
    request_type = request.get('_type')
    if not (isinstance(request_type, str) and request_type.startswith('wf_api_')
            and request_type.endswith('_request')):
        raise ValueError(f'not a request: {request_type!r}')
    message: Message = {'_id': request.get('_id'),
                        '_type': request_type[:-len('_request')] + '_response'}
    message.update(fields)
    return message


def error_response(request_id: Any, error: str) -> Message:
    """The refusal of a request: ``wf_api_error_response``.

    Args:
        request_id: the refused request's ``_id``.
        error: the error text.

    Returns:
        ``{'_id': request_id, '_type': 'wf_api_error_response', 'error': error}``.
    """
    return {'_id': request_id, '_type': 'wf_api_error_response', 'error': error}


def progress_event(request_id: Any) -> Message:
    """A sign of progress for a pending request (it restarts the request's timeout).

    Args:
        request_id: the request's ``_id``.

    Returns:
        ``{'_id': request_id, '_type': 'wf_api_progress_event'}``.
    """
    return {'_id': request_id, '_type': 'wf_api_progress_event'}


def event(name: str, /, **fields: Any) -> Message:
    """The event ``wf_api_<name>_event``.

    Args:
        name: the event name, e.g. ``'button'`` (a full ``wf_api_..._event``
            type is kept as it is); positional, so a field may be called ``name``.
        **fields: the event's fields.

    Returns:
        ``{'_type': 'wf_api_<name>_event', **fields}``.
    """
    message: Message = {'_type': name if name.startswith('wf_api_') else f'wf_api_{name}_event'}
    message.update(fields)
    return message


def start_event(source_uri: str, trigger_type: str = 'phrase', **args: Any) -> Message:
    """The event that starts a workflow instance.

    Args:
        source_uri: the URN of the device that fired the workflow.
        trigger_type: what fired it (``'phrase'``, ``'button'``, ``'http'``...).
        **args: the trigger's other ``args``.

    Returns:
        ``{'_type': 'wf_api_start_event', 'trigger': {'type': ..., 'args':
        {'source_uri': ..., **args}}}``.
    """
    return event('start', trigger={'type': trigger_type,
                                   'args': {'source_uri': source_uri, **args}})


__all__ = ['Message', 'response', 'error_response', 'progress_event', 'event', 'start_event']
