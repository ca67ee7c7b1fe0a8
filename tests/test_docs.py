"""The documentation cannot rot: its examples run, its reference is complete,
and the site builds with ``mkdocs build --strict``.

How examples in ``docs/**/*.md`` are tested
===========================================

Every fenced block is collected with the HTML comment directly above it (if
any), of the form ``<!-- test: DIRECTIVE [ARGS] -->``:

* ```` ```python ```` blocks are run, each in a fresh interpreter, in a temporary
  directory (so each block is self-contained).  A block that starts with
  ``>>>`` is run as a doctest instead.
* ```` ```console ```` blocks are run command by command (lines starting with
  ``$ ``; ``relaysync``, ``python`` and ``pytest`` are the commands allowed).
  The lines after a command are its expected output, compared line by line
  after collapsing spaces and replacing every number with ``#`` (times and
  ports vary); a ``...`` line stands for any number of lines and ``...``
  inside a line for any text.
* other languages (``text``, ``json``, ...) are data: they are not run.

Directives:

* ``skip REASON``: not run (python blocks are still compiled).  Only for what
  truly cannot run here: a server that runs forever, a third-party tool.
* ``file NAME``: the block is the content of file ``NAME``, written into the
  temporary directory of every block of the same page (python files are
  compiled); a later command or block of the page must use it.
* ``continue``: this python block runs after the page's previous python block,
  as one program.
* ``output``: a text block holding the expected standard output of the
  python block before it (compared as for console blocks).
* ``pytest``: the python block is a test module; it is run with pytest.
* ``tls-files``: ``privkey.pem`` and ``fullchain.pem`` (a throwaway
  certificate for ``localhost``) are created first; needs ``trustme``.
* ``exit N``: the last command of a console block must exit with ``N``.

Every page's directory also holds a ``samples`` link to the repository's samples.
"""

import ast
import doctest
import importlib
import inspect
import json
import os
import re
import importlib.util
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import pytest

import relaysync
from relaysync.actions import ACTIONS, NOTHING, describe
from relaysync.events import EVENTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / 'docs'
BLOCK_TIMEOUT = 60.0
DIRECTIVES = {'skip', 'file', 'continue', 'output', 'pytest', 'tls-files', 'exit'}
RUN_LANGS = {'python', 'console'}
DATA_LANGS = {'text', 'json', 'ini', 'toml', 'yaml', 'http', 'pycon'}
_MARKER = re.compile(r'^\s*<!--\s*test:\s*(.*?)\s*-->\s*$')
_FENCE = re.compile(r'^(\s*)(`{3,})\s*([\w+-]*)')


class Block(NamedTuple):
    page: str           # path relative to docs/
    line: int           # 1-based line of the opening fence
    lang: str
    code: str
    directives: Dict[str, str]

    @property
    def id(self) -> str:
        return f'{self.page}:{self.line}'


def parse_page(path: Path) -> List[Block]:
    """The fenced blocks of one Markdown page, with their directives."""
    rel = path.relative_to(DOCS).as_posix()
    lines = path.read_text(encoding='utf-8').split('\n')
    blocks: List[Block] = []
    pending: Dict[str, str] = {}
    i = 0
    while i < len(lines):
        marker = _MARKER.match(lines[i])
        if marker:
            word, _, rest = marker.group(1).partition(' ')
            pending[word] = rest.strip()
            i += 1
            continue
        fence = _FENCE.match(lines[i])
        if fence:
            indent, ticks, lang = fence.group(1), fence.group(2), fence.group(3) or 'text'
            body: List[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(ticks):
                body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
                j += 1
            blocks.append(Block(rel, i + 1, lang, '\n'.join(body) + '\n', pending))
            pending = {}
            i = j + 1
            continue
        if lines[i].strip():
            pending = {}  # a directive applies to the block right below it only
        i += 1
    return blocks


def all_blocks() -> List[Block]:
    blocks: List[Block] = []
    for path in sorted(DOCS.rglob('*.md')):
        blocks.extend(parse_page(path))
    return blocks


BLOCKS = all_blocks()


def _runnable(block: Block) -> bool:
    return (block.lang in RUN_LANGS and 'skip' not in block.directives
            and 'file' not in block.directives)


RUNNABLE = [b for b in BLOCKS if _runnable(b)]


# ---------------------------------------------------------------- helpers
def normalise(line: str) -> str:
    return ' '.join(re.sub(r'\d+(?:\.\d+)?', '#', line).split())


def _line_matches(expected: str, actual: str) -> bool:
    pattern = '.*'.join(re.escape(part) for part in expected.split('...'))
    return re.fullmatch(pattern, actual) is not None


def output_matches(expected: List[str], actual: List[str]) -> bool:
    """Line-by-line comparison with ``...`` lines matching any run of lines."""
    exp = [normalise(x) for x in expected if x.strip()]
    act = [normalise(x) for x in actual if x.strip()]

    def match(i: int, j: int) -> bool:
        if i == len(exp):
            return j == len(act)
        if exp[i] == '...':
            return any(match(i + 1, k) for k in range(j, len(act) + 1))
        return j < len(act) and _line_matches(exp[i], act[j]) and match(i + 1, j + 1)
    return match(0, 0)


def page_dir(page: str, tmp: Path) -> Path:
    """A working directory holding the page's ``file`` blocks and ``samples``."""
    for block in BLOCKS:
        if block.page == page and 'file' in block.directives:
            (tmp / block.directives['file']).write_text(block.code, encoding='utf-8')
    (tmp / 'samples').symlink_to(ROOT / 'samples', target_is_directory=True)
    return tmp


def env() -> Dict[str, str]:
    result = dict(os.environ)
    result['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT)] + ([result['PYTHONPATH']] if result.get('PYTHONPATH') else []))
    result['PYTHONUNBUFFERED'] = '1'
    result.pop('PORT', None)
    return result


def run(args: List[str], cwd: Path, timeout: float = BLOCK_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=str(cwd), env=env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def program_for(block: Block) -> str:
    """The block's code, preceded by the page's previous python block for ``continue``."""
    if 'continue' not in block.directives:
        return block.code
    earlier = [b for b in BLOCKS if b.page == block.page and b.line < block.line
               and b.lang == 'python' and _runnable(b)]
    assert earlier, f'{block.id}: "continue" without a python block before it'
    return program_for(earlier[-1]) + '\n' + block.code


def expected_output(block: Block) -> Optional[str]:
    later = [b for b in BLOCKS if b.page == block.page and b.line > block.line]
    if later and 'output' in later[0].directives:
        return later[0].code
    return None


def make_tls_files(cwd: Path) -> None:
    trustme = pytest.importorskip('trustme')
    ca = trustme.CA()
    cert = ca.issue_cert('localhost', '127.0.0.1')
    cert.private_key_pem.write_to_path(str(cwd / 'privkey.pem'))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cwd / 'fullchain.pem'))


COMMANDS = {
    'relaysync': [sys.executable, '-m', 'relaysync.cli'],
    'python': [sys.executable],
    'pytest': [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider'],
}


def console_steps(code: str) -> List[Tuple[str, List[str]]]:
    """``[(command, expected output lines)]`` of a console block."""
    steps: List[Tuple[str, List[str]]] = []
    lines = code.rstrip('\n').split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith('$ '):
            command = line[2:]
            while command.endswith('\\') and i + 1 < len(lines):
                i += 1
                command = command[:-1] + ' ' + lines[i].strip()
            steps.append((command, []))
        else:
            assert steps, f'console output before any "$ " command: {line!r}'
            steps[-1][1].append(line)
        i += 1
    return steps


# ------------------------------------------------------------ examples run
@pytest.mark.parametrize('block', RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_example(block: Block, tmp_path: Path) -> None:
    cwd = page_dir(block.page, tmp_path)
    if 'tls-files' in block.directives:
        make_tls_files(cwd)
    if block.lang == 'python':
        code = program_for(block)
        if code.lstrip().startswith('>>>'):
            parser = doctest.DocTestParser()
            test = parser.get_doctest(code, {}, block.id, block.page, block.line)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            result = runner.run(test)
            assert result.failed == 0, f'{block.id}: doctest failed'
            return
        name = 'test_doc_example.py' if 'pytest' in block.directives else 'doc_example.py'
        (cwd / name).write_text(code, encoding='utf-8')
        if 'pytest' in block.directives:
            args = COMMANDS['pytest'] + ['-q', name]
        else:
            args = [sys.executable, name]
        proc = run(args, cwd)
        assert proc.returncode == 0, (f'{block.id} failed (exit {proc.returncode}):\n'
                                      f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
        expected = expected_output(block)
        if expected is not None:
            assert output_matches(expected.split('\n'), proc.stdout.split('\n')), (
                f'{block.id}: output differs.\nexpected:\n{expected}\nactual:\n{proc.stdout}')
        return
    steps = console_steps(block.code)
    assert steps, f'{block.id}: a console block without "$ " commands'
    for index, (command, expected) in enumerate(steps):
        words = shlex.split(command)
        assert words[0] in COMMANDS, (f'{block.id}: "{words[0]}" cannot run in the tests; '
                                      f'mark the block <!-- test: skip REASON -->')
        proc = run(COMMANDS[words[0]] + words[1:], cwd)
        want = 0
        if index == len(steps) - 1 and 'exit' in block.directives:
            want = int(block.directives['exit'])
        assert proc.returncode == want, (f'{block.id}: `{command}` exited {proc.returncode}, '
                                         f'expected {want}:\n{proc.stdout[-3000:]}\n'
                                         f'{proc.stderr[-3000:]}')
        if expected and any(x.strip() for x in expected):
            assert output_matches(expected, proc.stdout.split('\n')), (
                f'{block.id}: `{command}` printed something else.\nexpected:\n'
                + '\n'.join(expected) + f'\nactual:\n{proc.stdout}')


@pytest.mark.parametrize('block', [b for b in BLOCKS if b.lang == 'python' and not _runnable(b)],
                         ids=[b.id for b in BLOCKS if b.lang == 'python' and not _runnable(b)])
def test_unrun_python_blocks_compile(block: Block) -> None:
    """Skipped python blocks and python files still compile."""
    compile(block.code, block.id, 'exec')


# ------------------------------------------------------- example hygiene
def test_examples_found() -> None:
    assert len(RUNNABLE) >= 25, [b.id for b in RUNNABLE]


def test_directives_are_known_and_justified() -> None:
    for block in BLOCKS:
        unknown = set(block.directives) - DIRECTIVES
        assert not unknown, f'{block.id}: unknown test directive(s) {unknown}'
        if 'skip' in block.directives:
            assert len(block.directives['skip'].split()) >= 3, \
                f'{block.id}: say why the block cannot run: <!-- test: skip REASON -->'
        if block.lang not in RUN_LANGS:
            assert block.lang in DATA_LANGS, (
                f'{block.id}: ```{block.lang} blocks are not run; use ```console for '
                f'commands or one of {sorted(DATA_LANGS)} for data')


def test_file_blocks_are_used() -> None:
    for block in BLOCKS:
        name = block.directives.get('file')
        if not name:
            continue
        users = [b for b in BLOCKS if b.page == block.page and b is not block
                 and _runnable(b) and name.rsplit('.', 1)[0] in b.code]
        assert users, f'{block.id}: file {name} is not used by any example of its page'


def test_skipped_blocks_are_few() -> None:
    skipped = [b.id for b in BLOCKS if b.lang in RUN_LANGS and 'skip' in b.directives]
    assert len(skipped) <= len(RUNNABLE) // 2, skipped


# --------------------------------------------------------------- doctests
@pytest.mark.parametrize('module', ['relaysync.urns', 'relaysync.targets', 'relaysync.actions',
                                    'relaysync.timeouts'])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0, result


# ---------------------------------------- code blocks inside docstrings
#: Names the docstring examples assume: relaysync, relaysync.wsgi, Simulator, a
#: hello-world workflow ``wf`` and a Flask app ``flask_app``.
DOCSTRING_PRELUDE = '''
import relaysync
import relaysync.wsgi
from relaysync.simulator import Simulator
wf = relaysync.Workflow('hello workflow')

@wf.on_start
def _start(relay, trigger):
    relay.start_interaction(relay.make_target_uris(trigger), 'hello interaction')

@wf.on_interaction_lifecycle
def _lifecycle(relay, itype, interaction_uri, reason):
    if itype == relaysync.TYPE_STARTED:
        relay.say_and_wait(interaction_uri, 'hello world')
        relay.end_interaction(interaction_uri)
    elif itype == relaysync.TYPE_ENDED:
        relay.terminate()

try:
    from flask import Flask
    flask_app = Flask('docstring_example')
except ImportError:
    flask_app = None
'''


def docstring_blocks() -> List[Tuple[str, str]]:
    """``(where, code)`` for every reST literal block (``text::``) in relaysync's docstrings."""
    found: List[Tuple[str, str]] = []
    for path in sorted((ROOT / 'relaysync').rglob('*.py')):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            lines = doc.split('\n')
            for i, line in enumerate(lines):
                if not line.rstrip().endswith('::'):
                    continue
                base = len(line) - len(line.lstrip())
                block: List[str] = []
                for later in lines[i + 1:]:
                    if later.strip() and len(later) - len(later.lstrip()) <= base:
                        break
                    block.append(later)
                where = f'{path.relative_to(ROOT).as_posix()}:{getattr(node, "name", "module")}'
                found.append((where, textwrap.dedent('\n'.join(block)).strip('\n') + '\n'))
    return found


DOCSTRING_BLOCKS = docstring_blocks()


def _python(code: str) -> bool:
    try:
        ast.parse(code)
    except SyntaxError:
        return False
    return True


@pytest.mark.parametrize('where,code', DOCSTRING_BLOCKS, ids=[w for w, _ in DOCSTRING_BLOCKS])
def test_docstring_literal_blocks(where: str, code: str, tmp_path: Path) -> None:
    """The code shown in docstrings (and so in the API reference) runs: complete
    programs under ``relaysync simulate``, tests under pytest, fragments after a
    prelude defining the names they assume (``wf``, ``flask_app``); JSON parses."""
    stripped = code.lstrip()
    if stripped.startswith('{'):
        data = json.loads(code)
        if 'scenario' in where:
            from relaysync.simulator import Scenario
            Scenario(data)
        return
    if not _python(code):
        if stripped.split()[0] in ('gunicorn', 'relaysync', 'python', 'pip'):
            pytest.skip(f'a command line: {stripped.splitlines()[0]}')
        return  # text: a diagram, a URN pattern, a transcript
    if 'server.start()' in code:
        (tmp_path / 'program.py').write_text(code, encoding='utf-8')
        proc = run(COMMANDS['relaysync'] + ['simulate', 'program.py', '--time-scale', '0.01'],
                   tmp_path)
    elif re.search(r'^def test_', code, re.M):
        (tmp_path / 'test_docstring_example.py').write_text(DOCSTRING_PRELUDE + code,
                                                            encoding='utf-8')
        proc = run(COMMANDS['pytest'] + ['-q', 'test_docstring_example.py'], tmp_path)
    else:
        (tmp_path / 'example.py').write_text(DOCSTRING_PRELUDE + code, encoding='utf-8')
        proc = run([sys.executable, 'example.py'], tmp_path)
    assert proc.returncode == 0, f'{where}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'


# ----------------------------------------------------- reference coverage
REFERENCE_MODULES = ['relaysync', 'relaysync.workflow', 'relaysync.registry', 'relaysync.relay',
                     'relaysync.actions', 'relaysync.targets', 'relaysync.options',
                     'relaysync.server',
                     'relaysync.exceptions', 'relaysync.timeouts', 'relaysync.urns',
                     'relaysync.http_api', 'relaysync.wsgi', 'relaysync.gunicorn_conf',
                     'relaysync.constants', 'relaysync.version', 'relaysync.enums',
                     'relaysync.coroutines', 'relaysync.events']
#: The simulator's public API, held to the same standard: the names
#: ``relaysync.simulator`` exports (and their public methods and properties),
#: the ``relay_simulator`` pytest fixture, and the engine of ``relaysync simulate``.
SIMULATOR_MODULES = ['relaysync.simulator', 'relaysync.simulator.pytest_plugin',
                     'relaysync.simulator.command', 'relaysync.cli', 'relaysync.simulator.ui',
                     'relaysync.simulator.explain']
_SECTION = re.compile(r'^(\s*)(Args|Arguments|Keyword Args|Keyword Arguments|Other Parameters|'
                      r'Attributes):\s*$')


def documented_names(doc: str) -> set:
    """The names described in the Args/Keyword Args/Attributes sections of a docstring."""
    names = set()
    lines = doc.split('\n')
    i = 0
    while i < len(lines):
        section = _SECTION.match(lines[i])
        i += 1
        if not section:
            continue
        base = len(section.group(1))
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > base):
            item = re.match(r'(\s*)\**([A-Za-z_]\w*)\s*(\([^)]*\))?:', lines[i])
            if item and len(item.group(1)) == base + 4:
                names.add(item.group(2))
            i += 1
    return names


def public_objects(modules: List[str] = REFERENCE_MODULES) -> List[Tuple[str, Any]]:
    """``(qualified name, class or function)`` for the public names of ``modules``:
    their ``__all__``, else the names not starting with ``_`` defined there."""
    found: List[Tuple[str, Any]] = []
    seen = set()
    for modname in modules:
        module = importlib.import_module(modname)
        names = getattr(module, '__all__', None)
        if names is None:
            names = [n for n in vars(module) if not n.startswith('_')]
        for name in names:
            obj = getattr(module, name)
            wrapped = getattr(obj, '__wrapped__', None)
            if not inspect.isclass(obj) and not inspect.isfunction(obj) \
                    and inspect.isfunction(wrapped):
                obj = wrapped  # a pytest fixture (pytest 8.4+ wraps it in an object)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, '__module__', '').startswith('relaysync'):
                continue
            if names is not getattr(module, '__all__', None) and obj.__module__ != modname:
                continue  # imported from another module: documented there
            if id(obj) not in seen:
                seen.add(id(obj))
                found.append((f'{modname}.{name}', obj))
    return found


def shared_arguments(owner: Any) -> set:
    """The arguments a class docstring describes once for all its methods
    (``* ``name``: ...`` items), as :class:`relaysync.Relay` does for ``target``."""
    return set(re.findall(r'^\* ``(\w+)``:', inspect.getdoc(owner) or '', re.M))


def _callable_problems(qual: str, func: Any, owner: Any = None) -> List[str]:
    """A method's arguments may also be described in its summary (````name````) or
    once on its class (:func:`shared_arguments`); a Relay action's result may
    be the one its row of the action table names, or its summary may say it
    (``The ...``, ``Whether ...``, ``... returns ...``)."""
    doc = inspect.getdoc(func)
    if not doc:
        return [f'{qual}: no docstring']
    problems = []
    params = [p for p in inspect.signature(func).parameters if p not in ('self', 'cls')]
    described = documented_names(doc)
    if owner is not None:
        described |= shared_arguments(owner) | set(re.findall(r'``(\w+)``', doc))
    missing = [p for p in params if p not in described]
    if missing:
        problems.append(f'{qual}: arguments not described: {missing}')
    returns = inspect.signature(func).return_annotation
    sections = ('Returns:', 'Yields:') if inspect.isgeneratorfunction(func) else ('Returns:',)
    summary = doc.split('\n\n')[0]
    said = owner is not None and (
        getattr(ACTIONS.get(func.__name__), 'returns', '') or 'return' in summary
        or summary.startswith(('The ', 'Whether ', 'Wrap ', 'Read ')))
    if returns not in (None, 'None', inspect.Signature.empty) \
            and not any(s in doc for s in sections) and not said:
        problems.append(f'{qual}: no {" or ".join(s[:-1] for s in sections)} section')
    return problems


def docstring_problems(modules: List[str]) -> List[str]:
    """What is missing from the docstrings of the public names of ``modules``:
    a docstring anywhere; an argument not described under Args (a class's
    constructor arguments in the class docstring); a Returns (Yields, for a
    generator) section where something is returned."""
    problems: List[str] = []
    for modname in modules:
        if not inspect.getdoc(importlib.import_module(modname)):
            problems.append(f'{modname}: no module docstring')
    for qual, obj in public_objects(modules):
        if inspect.isfunction(obj):
            problems.extend(_callable_problems(qual, obj))
            continue
        doc = inspect.getdoc(obj)
        if not doc:
            problems.append(f'{qual}: no docstring')
            continue
        init = obj.__dict__.get('__init__')
        if inspect.isfunction(init):
            params = [p for p in inspect.signature(init).parameters if p != 'self']
            missing = [p for p in params if p not in documented_names(doc)]
            if missing:
                problems.append(f'{qual}(): arguments not described: {missing}')
        for name, member in vars(obj).items():
            if name.startswith('_'):
                continue
            if isinstance(member, property):
                if not member.__doc__:
                    problems.append(f'{qual}.{name}: property without a docstring')
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if inspect.isfunction(member):
                problems.extend(_callable_problems(f'{qual}.{name}', member, obj))
    return problems


def test_every_public_name_has_a_complete_docstring() -> None:
    problems = docstring_problems(REFERENCE_MODULES)
    assert not problems, '\n'.join(problems)


def test_simulator_public_names_have_complete_docstrings() -> None:
    names = [q for q, _ in public_objects(SIMULATOR_MODULES)]
    for wanted in ('relaysync.simulator.Simulator', 'relaysync.simulator.Run',
                   'relaysync.simulator.VirtualDevice', 'relaysync.simulator.Scenario',
                   'relaysync.simulator.pytest_plugin.relay_simulator',
                   'relaysync.simulator.command.simulate'):
        assert wanted in names, f'{wanted} is not checked; checked: {names}'
    problems = docstring_problems(SIMULATOR_MODULES)
    assert not problems, '\n'.join(problems)


def test_reference_lists_every_public_name() -> None:
    page = (DOCS / 'reference' / 'relaysync.md').read_text(encoding='utf-8')
    listed = set(re.findall(r'\[`([\w.]+)`\]\[', page))
    missing = [n for n in relaysync.__all__ if n not in listed]
    assert not missing, f'reference/relaysync.md does not list {missing}'
    import relaysync.simulator as simulator
    sim_page = (DOCS / 'reference' / 'simulator.md').read_text(encoding='utf-8')
    missing = [n for n in simulator.__all__ if f'relaysync.simulator.{n}' not in sim_page]
    assert not missing, f'reference/simulator.md does not render {missing}'


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / 'mkdocs.yml').read_text(encoding='utf-8')
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob('*.md')]
    missing = [p for p in pages if f': {p}' not in config]
    assert not missing, missing


def test_event_table_matches_the_workflow_decorators() -> None:
    """handlers.md lists every ``on_*`` decorator with its handler signature."""
    text = (DOCS / 'handlers.md').read_text(encoding='utf-8')
    rows = dict(re.findall(r'^\| `(on_\w+)[^`]*` \| `(handler\([^`]*\))` \|', text, re.M))
    decorators = [n for n in dir(relaysync.Workflow) if n.startswith('on_')]
    assert sorted(rows) == sorted(decorators)
    for name in decorators:
        doc = inspect.getdoc(getattr(relaysync.Workflow, name))
        signature = re.search(r'``(handler\(.*?\))``', doc.replace('\n', ' '), re.S).group(1)
        assert ' '.join(rows[name].split()) == ' '.join(signature.split()), name
    wired = {spec.name for spec in EVENTS.values()}
    assert wired <= {n[3:] for n in decorators}


# ------------------------------------- each action sends what its table row says
def deprecated(action: Any, *args: Any) -> Any:
    with pytest.warns(DeprecationWarning):
        return action(*args)


def _action_calls(relay: relaysync.Relay, me: str, bob: str, here: str) -> Dict[str, Any]:
    """One call of every Relay method (with every optional field present)."""
    team = relaysync.group_name('team')
    trigger = {'type': 'button', 'args': {'source_uri': me}}
    calls = {
        'request': lambda: relay.request('get_var', {'name': 'x'}),
        'make_target_uris': lambda: relay.make_target_uris(trigger),
        'get_source_uri_from_trigger': lambda: relay.get_source_uri_from_trigger(trigger),
        'targets_from_source_uri': lambda: relay.targets_from_source_uri(me),
        'interaction_options': lambda: relay.interaction_options(),
        'push_options': lambda: relay.push_options(),
        'led_info': lambda: relay.led_info(count=1),
        'set_default_analytic_event_parameters':
            lambda: relay.set_default_analytic_event_parameters({'a': 1}),
        'get_var': lambda: relay.get_var('x'),
        'get_number_var': lambda: relay.get_number_var('n', 1),
        'get_mapped_var': lambda: relay.get_mapped_var('x', str),
        'get_boolean_var': lambda: relay.get_boolean_var('x'),
        'get_array_var': lambda: relay.get_array_var('x'),
        'get_number_array_var': lambda: relay.get_number_array_var('x'),
        'set_var': lambda: relay.set_var('x', '1'),
        'set_vars': lambda: relay.set_vars({'y': '2'}),
        'unset_var': lambda: relay.unset_var('x'),
        'unset_vars': lambda: relay.unset_vars(['y']),
        'start_interaction': lambda: relay.start_interaction(
            me, 'second', relay.interaction_options()),
        'say': lambda: relay.say(here, 'hi'),
        'say_and_wait': lambda: relay.say_and_wait(here, 'hi'),
        'play': lambda: relay.play(here, 'relay-static://emergency'),
        'play_and_wait': lambda: relay.play_and_wait(here, 'relay-static://emergency'),
        'stop_playback': lambda: relay.stop_playback(here, 'abc'),
        'listen': lambda: relay.listen(here, 'yes', alt_lang='es-ES', timeout=5),
        'translate': lambda: relay.translate('hello'),
        'alert': lambda: relay.alert(team, me, 'a1', 'help'),
        'cancel_alert': lambda: relay.cancel_alert(team, 'a1'),
        'broadcast': lambda: relay.broadcast(team, me, 'b1', 'news'),
        'cancel_broadcast': lambda: relay.cancel_broadcast(team, 'b1'),
        'notify': lambda: deprecated(relay.notify, team, me, 'n1', 'fyi'),
        'cancel_notify': lambda: deprecated(relay.cancel_notify, team, 'n1'),
        'get_device_name': lambda: relay.get_device_name(me),
        'get_device_id': lambda: relay.get_device_id(me),
        'get_device_type': lambda: relay.get_device_type(me),
        'get_user_profile': lambda: relay.get_user_profile(me),
        'get_device_location': lambda: relay.get_device_location(me, True),
        'get_device_address': lambda: relay.get_device_address(me),
        'get_device_coordinates': lambda: relay.get_device_coordinates(me),
        'get_device_latlong': lambda: relay.get_device_latlong(me),
        'get_device_indoor_location': lambda: relay.get_device_indoor_location(me),
        'get_device_battery': lambda: relay.get_device_battery(me),
        'get_device_location_enabled': lambda: relay.get_device_location_enabled(me),
        'set_device_name': lambda: relay.set_device_name(bob, 'Bobby'),
        'enable_location': lambda: relay.enable_location(me),
        'disable_location': lambda: relay.disable_location(me),
        'set_channel': lambda: relay.set_channel(me, 'team'),
        'enable_home_channel': lambda: relay.enable_home_channel(me),
        'disable_home_channel': lambda: relay.disable_home_channel(me),
        'set_user_profile': lambda: relay.set_user_profile(me, 'alice'),
        'led_action': lambda: relay.led_action(here, 'flash', relay.led_info(count=1)),
        'switch_all_led_on': lambda: relay.switch_all_led_on(here),
        'switch_led_on': lambda: relay.switch_led_on(here, 3),
        'switch_all_led_off': lambda: relay.switch_all_led_off(here),
        'rainbow': lambda: relay.rainbow(here),
        'rotate': lambda: relay.rotate(here),
        'flash': lambda: relay.flash(here),
        'breathe': lambda: relay.breathe(here),
        'vibrate': lambda: relay.vibrate(here),
        'start_timer': lambda: relay.start_timer(600),
        'stop_timer': lambda: relay.stop_timer(),
        'set_timer': lambda: relay.set_timer('t', timeout=600),
        'clear_timer': lambda: relay.clear_timer('t'),
        'create_incident': lambda: relay.create_incident(me, 'test'),
        'resolve_incident': lambda: relay.resolve_incident('unknown', 'done'),
        'place_call': lambda: relay.place_call(me, bob),
        'answer_call': lambda: relay.answer_call(me, 'unknown'),
        'hangup_call': lambda: relay.hangup_call(me, 'unknown'),
        'register': lambda: relay.register(me, 'sip:alice@example.com', 'secret', 60),
        'register_for_calls': lambda: relay.register_for_calls(me, 'sip:a@example.com', 's'),
        'unregister_for_calls': lambda: relay.unregister_for_calls(me, 'sip:a@example.com', 's'),
        'get_group_members': lambda: relay.get_group_members(team),
        'is_group_member': lambda: relay.is_group_member(team, me),
        'create_group': lambda: relay.create_group('new group'),
        'delete_group': lambda: relay.delete_group(relaysync.group_name('new group')),
        'add_group_members': lambda: relay.add_group_members(team, me),
        'remove_group_members': lambda: relay.remove_group_members(team, me),
        'get_unread_inbox_size': lambda: relay.get_unread_inbox_size(me),
        'play_unread_inbox_messages': lambda: relay.play_unread_inbox_messages(me),
        'log_message': lambda: relay.log_message('hello', target=me),
        'log_user_message': lambda: relay.log_user_message('hello', me, 'cat'),
        'track_event': lambda: relay.track_event('cat', {'k': 'v'}),
        'track_user_event': lambda: relay.track_user_event('cat', me, {'k': 'v'}),
        'sms': lambda: relay.sms('text', 'hello', 'tel:+15555550100'),
        'debug_log': lambda: relay.debug_log('a line'),
        'subscribe': lambda: relay.subscribe(me, 'nfc_tap'),
        'unsubscribe': lambda: relay.unsubscribe(me, 'nfc_tap'),
        'end_interaction': lambda: relay.end_interaction(here),
        'terminate': lambda: relay.terminate(),
    }
    return calls


def test_every_action_sends_what_its_table_row_says(relay_simulator) -> None:
    """Run every Relay method against the simulator; compare what reached the
    simulated Relay server with its row of the action table (request type and
    fields, with every optional argument given); methods without a row send
    nothing and say so."""
    methods = sorted(n for n, m in vars(relaysync.Relay).items()
                     if not n.startswith('_') and (inspect.isfunction(m)
                                                   or isinstance(m, staticmethod)))
    wf = relaysync.Workflow('every action')
    sent: Dict[str, List[Dict[str, Any]]] = {}
    done: List[str] = []

    @wf.on_interaction_started
    def started(relay: relaysync.Relay, here: str, reason: Any) -> None:
        if sent:
            return  # the second interaction, started by the start_interaction call
        run = sim.runs[-1]
        me, bob = alice.urn, sim.device('Bob').urn
        calls = _action_calls(relay, me, bob, here)
        assert sorted(calls) == methods, set(calls) ^ set(methods)
        for name, call in calls.items():
            if name == 'terminate':
                continue
            before = len(run.requests)
            try:
                call()
            except relaysync.ErrorResponse:
                pass
            sent[name] = run.requests[before:]
        done.append('all')
        relay.terminate()

    @wf.on_start
    def start(relay: relaysync.Relay, trigger: Dict[str, Any]) -> None:
        relay.start_interaction(relay.make_target_uris(trigger), 'every action')

    sim = relay_simulator(wf, time_scale=0.01)
    alice = sim.device('Alice', says=['yes'])
    sim.group('team', ['Alice', 'Bob'])
    run = sim.trigger(alice)
    run.wait_until_done(timeout=20)
    assert done == ['all'] and run.terminated
    sent['terminate'] = [m for m in run.requests if m.get('_type') == 'wf_api_terminate_request']

    problems = []
    for name in methods:
        messages = sent[name]
        action = ACTIONS.get(name)
        if name == 'request':
            assert [m['_type'] for m in messages] == ['wf_api_get_var_request']
            continue
        if action is None:
            doc = inspect.getdoc(getattr(relaysync.Relay, name))
            if 'Nothing is sent' not in doc:
                problems.append(f'{name}: no row in the action table, and no "Nothing is sent"')
            elif messages:
                problems.append(f'{name}: documented as sending nothing, sent {messages}')
            continue
        types = {m.get('_type') for m in messages}
        if types != {f'wf_api_{action.request}_request'}:
            problems.append(f'{name}: the table says {action.request}, sent {sorted(types)}')
            continue
        fields = {f.name for f in action.fields} | ({'_target'} if action.target else set())
        for message in messages:
            keys = set(message) - {'_id', '_type'}
            if keys != fields:
                problems.append(f'{name}: the table says {sorted(fields)}, sent {sorted(keys)}')
        if action.waits == NOTHING:
            continue
        described = describe(name)
        assert f'``wf_api_{action.request}_request``' in described, described
    assert not problems, '\n'.join(problems)


# ------------------------------------------------------------ site build
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict`` (as CI runs it): any warning fails."""
    pytest.importorskip('mkdocs')
    pytest.importorskip('mkdocstrings')
    pytest.importorskip('material')
    environment = env()
    environment['NO_MKDOCS_2_WARNING'] = '1'
    proc = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '--site-dir',
                           str(tmp_path / 'site'), '--config-file', str(ROOT / 'mkdocs.yml')],
                          cwd=str(ROOT), env=environment, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stdout[-5000:]
    site = tmp_path / 'site'
    assert (site / 'index.html').is_file()
    relay_page = (site / 'reference' / 'relay' / 'index.html').read_text(encoding='utf-8')
    for name, member in vars(relaysync.Relay).items():
        if not name.startswith('_') and (inspect.isfunction(member)
                                         or isinstance(member, (staticmethod, property))):
            assert f'id="relaysync.Relay.{name}"' in relay_page, name
    # Each action's entry renders its row of the action table and what it raises.
    for name, action in ACTIONS.items():
        entry = relay_page.split(f'id="relaysync.Relay.{name}"', 1)[1]
        entry = entry.split('id="relaysync.Relay.', 1)[0]
        assert f'wf_api_{action.request}_request' in entry, name
        if action.returns:
            assert f'<code>{action.returns}</code>' in entry, name
        if action.waits != NOTHING:
            assert 'RelayTimeout' in entry and 'ConnectionClosed' in entry, name
    workflow_page = (site / 'reference' / 'workflow' / 'index.html').read_text(encoding='utf-8')
    for name in dir(relaysync.Workflow):
        if name.startswith('on_'):
            assert f'id="relaysync.Workflow.{name}"' in workflow_page, name


def test_docstring_roles_are_understood() -> None:
    """Docstrings reach the site through the docs' griffe extension, which turns
    reST roles into links; make sure it still understands every role used."""
    spec = importlib.util.spec_from_file_location('griffe_relaysync', DOCS / 'griffe_relaysync.py')
    if importlib.util.find_spec('griffe') is None:
        pytest.skip('griffe is not installed (the docs extra)')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path in sorted((ROOT / 'relaysync').rglob('*.py')):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for role in re.findall(r':(\w+):`', node.value):
                    assert role in ('class', 'meth', 'func', 'attr', 'mod', 'data', 'exc',
                                    'obj'), f'{path.name}: unknown role :{role}:'

