"""Soak: complete sessions against one server process (``bench/soak.py``).

The default run does 300 sequential sessions and a burst of 100 concurrent
ones; the full soak (10,000 + 500) is marked slow (``pytest -m slow``).  Every
session is checked end to end, and the server process must come back to the
threads and file descriptors it had before the first session.
"""

import importlib.util
import os

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'bench')


def _load_soak():
    spec = importlib.util.spec_from_file_location('relaysync_bench_soak',
                                                  os.path.join(BENCH, 'soak.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


soak = _load_soak()


def check(report, sequential, concurrent):
    print('\n' + soak.format_report(report))
    assert report['failure_examples'] == []
    assert (report['completed'], report['failures']) == (sequential + concurrent, 0)
    before, after = report['server_before'], report['server_after']
    assert after['threads'] == before['threads'] == 2  # main + I/O thread
    assert after['fds'] == before['fds']
    assert report['server_after_sequential']['fds'] == before['fds']
    assert report['server_exit_code'] == 0
    # The burst really was concurrent: a worker thread per open session at the peak.
    assert report['server_peak_during_burst']['threads'] >= 2 + concurrent // 4


def test_soak_small():
    check(soak.soak(sequential=300, concurrent=100), 300, 100)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_soak_full():
    check(soak.soak(sequential=10000, concurrent=500), 10000, 500)
