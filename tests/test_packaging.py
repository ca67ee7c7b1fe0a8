"""The package as an index shows it: metadata, the version written once, links
that work on the index page, ``py.typed``, ``python -m relaysync``, the types
that users' type checkers see; and the distributions carry what an installed
relaysync needs: the simulator page's files (HTML, CSS, JavaScript modules,
SVG) are package data of both the wheel and the source distribution."""

import re
import shutil
import tarfile
import zipfile
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import relaysync

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / 'pyproject.toml').read_text(encoding='utf-8'))
PROJECT = PYPROJECT['project']
REPOSITORY = PROJECT['urls']['Repository']
STATIC = ROOT / 'relaysync' / 'simulator' / 'ui' / 'static'
SKIP = shutil.ignore_patterns('.git', 'build', 'dist', '*.egg-info', '__pycache__', 'site',
                              'venv', '.venv', '.pytest_cache', '.hypothesis', 'results')


def test_metadata():
    assert PROJECT['name'] == 'relaysync'
    assert PROJECT['requires-python'] == '>=3.10'
    assert 'Typing :: Typed' in PROJECT['classifiers']
    assert PROJECT['dynamic'] == ['version']
    assert PYPROJECT['tool']['setuptools']['dynamic']['version'] == {
        'attr': 'relaysync.version.__version__'}
    deps = {re.split(r'[<>=!]', d)[0]: d for d in PROJECT['dependencies']}
    assert deps['wsproto'] == 'wsproto>=1.2,<2'   # its internals are imported
    assert deps['h11'].startswith('h11>=0.16')
    assert deps['requests'].startswith('requests>=2.32.4')
    assert 'py.typed' in PYPROJECT['tool']['setuptools']['package-data']['relaysync']
    assert (ROOT / 'relaysync' / 'py.typed').is_file()


def test_the_version_is_written_once():
    """Docs and examples that show the version show this one."""
    version = relaysync.__version__
    assert (ROOT / 'relaysync' / 'version.py').read_text().count(f"'{version}'") == 1
    texts = [ROOT / 'README.md'] + sorted((ROOT / 'docs').rglob('*.md'))
    for path in texts:
        text = path.read_text(encoding='utf-8')
        for shown in re.findall(r'relaysync/(\d+\.\d+\.\d+)', text):
            assert shown == version, f'{path.name} shows relaysync/{shown}'
        for shown in re.findall(r'"version": "(\d+\.\d+\.\d+)"', text):
            assert shown == version, f'{path.name} shows version {shown}'
    changelog = (ROOT / 'CHANGELOG.md').read_text(encoding='utf-8')
    assert re.search(rf'^## {re.escape(version)}\b', changelog, re.M), 'CHANGELOG.md'


def test_readme_links_work_on_an_index_page():
    """An index renders the README away from the repository: every link is
    absolute, and links into the repository name files that exist."""
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    links = re.findall(r'\]\(([^)\s]+)\)', text)
    assert links
    for link in links:
        assert re.match(r'^https?://', link), f'relative link {link}'
        if link.startswith(REPOSITORY + '/'):
            path = re.sub(r'^(blob|tree|raw)/main/', '', link[len(REPOSITORY) + 1:])
            assert (ROOT / path.split('#')[0]).exists(), link


def test_python_dash_m_relaysync():
    proc = subprocess.run([sys.executable, '-m', 'relaysync', '--version'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f'relaysync {relaysync.__version__}'


USER_PROGRAM = '''
    from typing import Any, Callable
    import relaysync
    from relaysync import Relay

    wf = relaysync.Workflow('typed')

    @wf.on_button(button='action', taps='double')
    def pressed(relay: Relay, button: str, taps: str, source_uri: str) -> int:
        return 1

    @wf.on_notification
    def noticed(relay: Relay, event: str, name: str, state: Any, uri: str) -> str:
        return name

    keeps: Callable[[Relay, str, str, str], int] = pressed
    keeps_too: Callable[[Relay, str, str, Any, str], str] = noticed
    '''


@pytest.mark.skipif(__import__('importlib').util.find_spec('mypy') is None,
                    reason='mypy is not installed (the lint extra)')
def test_users_type_checkers_see_the_types(tmp_path):
    """Decorators keep the handler's type; a closed set rejects a typo."""
    good = tmp_path / 'good.py'
    good.write_text(textwrap.dedent(USER_PROGRAM))
    bad = tmp_path / 'bad.py'
    bad.write_text(textwrap.dedent(USER_PROGRAM) + "wf.on_button(button='bogus')\n"
                   "wrong: Callable[[Relay, str, str, str], str] = pressed\n")

    def check(path: Path) -> str:
        proc = subprocess.run([sys.executable, '-m', 'mypy', '--strict', '--no-incremental',
                               '--cache-dir', str(tmp_path / 'cache'), str(path)],
                              cwd=str(tmp_path),
                              env={'MYPYPATH': str(ROOT), 'PATH': '/usr/bin:/bin'},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=300)
        return proc.stdout

    out = check(good)
    assert 'Success' in out, out
    out = check(bad)
    assert 'No overload variant of "on_button"' in out, out
    assert 'Incompatible types in assignment' in out, out


def test_wheel_and_sdist_hold_the_simulator_page(tmp_path):
    source = tmp_path / 'src'
    shutil.copytree(ROOT, source, ignore=SKIP)
    build = ('from setuptools import build_meta as b; '
             's = b.build_sdist("dist"); w = b.build_wheel("dist"); print("BUILT", s, w)')
    proc = subprocess.run([sys.executable, '-c', build], cwd=str(source), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sdist_name, wheel_name = proc.stdout.split('BUILT ', 1)[1].split()
    page = sorted(p.name for p in STATIC.iterdir())
    assert {'index.html', 'app.js', 'device.js', 'leds.js', 'dom.js', 'style.css',
            'favicon.svg'} <= set(page)
    with zipfile.ZipFile(source / 'dist' / wheel_name) as wheel:
        names = set(wheel.namelist())
    assert {f'relaysync/simulator/ui/static/{name}' for name in page} <= names
    assert 'relaysync/simulator/ui/server.py' in names
    assert 'relaysync/py.typed' in names
    with tarfile.open(source / 'dist' / sdist_name) as sdist:
        names = {name.split('/', 1)[1] for name in sdist.getnames() if '/' in name}
    assert {f'relaysync/simulator/ui/static/{name}' for name in page} <= names
    assert 'samples/README.md' in names and 'docs/images/simulator-page.png' in names
