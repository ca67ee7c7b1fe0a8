"""The README's examples run: the simulate command it shows, and every python block
marked ``<!-- readme-test -->`` (executed as a test module by pytest itself)."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')


def marked_blocks():
    text = open(README, encoding='utf-8').read()
    return re.findall(r'<!-- readme-test -->\s*```python\n(.*?)```', text, re.S)


def test_readme_has_tested_examples():
    assert len(marked_blocks()) >= 1


def test_readme_python_examples_pass_under_pytest(tmp_path):
    for number, code in enumerate(marked_blocks()):
        path = tmp_path / f'test_readme_example_{number}.py'
        path.write_text(code)
        result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                                 '--rootdir', str(tmp_path), str(path)],
                                cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert ' passed' in result.stdout


def test_readme_simulate_command_shows_hello_world():
    result = subprocess.run([sys.executable, '-m', 'relaysync.cli', 'simulate',
                             os.path.join('samples', 'hello_world_wf.py')],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Alice     heard "hello world"' in result.stdout
    assert 'result: OK' in result.stdout
