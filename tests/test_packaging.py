"""The distributions carry what an installed relaysync needs: the simulator
page's files (HTML, CSS, JavaScript modules, SVG) are package data of both the
wheel and the source distribution."""

import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / 'relaysync' / 'simulator' / 'ui' / 'static'
SKIP = shutil.ignore_patterns('.git', 'build', 'dist', '*.egg-info', '__pycache__', 'site',
                              'venv', '.venv', '.pytest_cache', '.hypothesis', 'results')


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
    with tarfile.open(source / 'dist' / sdist_name) as sdist:
        names = {name.split('/', 1)[1] for name in sdist.getnames() if '/' in name}
    assert {f'relaysync/simulator/ui/static/{name}' for name in page} <= names
    assert 'samples/README.md' in names and 'docs/images/simulator-page.png' in names
