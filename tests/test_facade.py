"""relay-py's import path: every public name of ``relaysync`` is also in ``relaysync.workflow``."""

import relaysync
import relaysync.workflow


def test_every_public_name_is_importable_from_relaysync_workflow():
    for name in relaysync.__all__:
        assert getattr(relaysync.workflow, name) is getattr(relaysync, name), name


def test_relay_py_constants_keep_their_values():
    w = relaysync.workflow
    assert (w.TYPE_STARTED, w.TYPE_ENDED) == ('started', 'ended')
    assert (w.SCHEME, w.ROOT, w.GROUP, w.ID, w.NAME, w.DEVICE) == \
        ('urn', 'relay-resource', 'group', 'id', 'name', 'device')
    assert w.DEVICE_PATTERN == '?device='
    assert w.INTERACTION_URI_NAME == 'urn:relay-resource:name:interaction'
    assert w.INTERACTION_URI_ID == 'urn:relay-resource:id:interaction'
    assert issubclass(w.WorkflowException, Exception)
    assert issubclass(w.ServerException, Exception)
