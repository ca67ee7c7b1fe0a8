"""Dependencies inside the package point one way: no module imports itself back.

Every import statement of every module of ``relaysync/`` counts, also those
inside functions; only the blocks under ``if TYPE_CHECKING:`` (annotations)
are left out.  ``from . import name`` is an edge to the submodule ``name``
when there is one, else to the package.
"""

import ast
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'relaysync'


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and 'TYPE_CHECKING' in ast.unparse(node.test)


def imports_of(path: Path, modules: Set[str]) -> Set[str]:
    """The modules of the package that ``path`` imports."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found: Set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in getattr(node, 'orelse', []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - (node.level - 1)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            for alias in node.names:
                sub = f'{target}.{alias.name}'
                if sub in modules:
                    found.add(sub)
                elif target in modules:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding='utf-8')))
    found.discard(name)
    return found


def import_graph() -> Dict[str, Set[str]]:
    paths = sorted(PACKAGE.rglob('*.py'))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_checker_finds_a_cycle():
    assert cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c']]
    assert cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert 'relaysync.relay' in graph and graph['relaysync.server'], graph
    assert cycles(graph) == []


def test_leaves_and_direction():
    """The engine does not know the actions; the registry knows only the event
    table and the enums; the facade only re-exports."""
    graph = import_graph()
    assert 'relaysync.relay' not in graph['relaysync.connection']
    assert graph['relaysync.registry'] <= {'relaysync.events', 'relaysync.enums'}
    assert 'relaysync.registry' not in graph['relaysync.events']
    assert 'relaysync.workflow' not in set().union(*(v for k, v in graph.items()
                                                      if k != 'relaysync'))
