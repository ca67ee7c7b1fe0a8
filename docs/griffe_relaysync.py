"""Griffe extension used by the documentation build (mkdocs.yml loads it).

relaysync's docstrings are written for both ``help()`` and the site, in the
reStructuredText flavour common in Python code (``:class:`X``` roles, ``::``
literal blocks).  mkdocstrings renders docstrings as Markdown, so this
extension rewrites them when the package is loaded:

* ``:class:`~relaysync.Relay``` (and ``:meth:``, ``:func:``, ``:attr:``,
  ``:mod:``, ``:data:``, ``:exc:``) becomes an *optional* cross-reference:
  a link when the target is documented on the site, plain code otherwise.
  A leading ``~`` shows only the last part of the name, as in Sphinx.
* a paragraph ending in ``::`` followed by an indented block becomes a fenced
  code block.

It also documents what static analysis cannot see:

* the ``Workflow.on_*`` decorators built at import time (``on_start =
  _simple(...)``): their runtime signature and docstring are copied in;
* under each ``Relay`` action, its row of the action table
  (:data:`relaysync.actions.ACTIONS`): the request it sends, what it waits
  for, what it returns, and what it raises;
* ``Relay``'s static methods taken from other modules (``interaction_options
  = staticmethod(options.interaction_options)``) become aliases of those
  functions.
"""

import ast
import html
import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any, List, Optional

import griffe

_ROLE = re.compile(r':(?:class|meth|func|attr|mod|data|exc|obj):`(~?)([^`<>]+?)`')
#: The repository: the runtime-built decorators are imported from this tree.
_ROOT = str(Path(__file__).resolve().parent.parent)
#: How the runtime-built decorators' handler argument and result are shown.
_HANDLER = 'Callable[..., Any]'


def _display(tilde: str, name: str) -> str:
    name = name.strip().lstrip('.')
    return name.rsplit('.', 1)[-1] if tilde else name


def _resolve(obj: Any, name: str) -> Optional[str]:
    """The canonical path of ``name`` as seen from ``obj``, or None."""
    collection = obj.modules_collection
    scopes: List[Any] = []
    current = obj
    while current is not None:
        scopes.append(current)
        current = current.parent
    if '.' in name:
        head, _, rest = name.partition('.')
        candidates = [name]
        for scope in scopes:
            try:
                candidates.append(scope.resolve(head) + ('.' + rest if rest else ''))
            except Exception:
                continue
    else:
        candidates = []
        for scope in scopes:
            try:
                candidates.append(scope.resolve(name))
            except Exception:
                continue
    for path in candidates:
        try:
            target = collection.get_member(path)
        except Exception:
            target = None
        if target is None:
            continue
        try:
            return target.canonical_path if not target.is_alias else target.final_target.path
        except Exception:
            return path
    return candidates[0] if candidates else None


def _roles_to_refs(obj: Any, text: str) -> str:
    def replace(match: 're.Match[str]') -> str:
        tilde, name = match.group(1), match.group(2).strip()
        shown = _display(tilde, name)
        if name.startswith('.'):
            name = name[1:]
        path = _resolve(obj, name) or name
        return (f'<autoref identifier="{html.escape(path)}" optional>'
                f'<code>{html.escape(shown)}</code></autoref>')
    return _ROLE.sub(replace, text)


def _literal_blocks(text: str) -> str:
    """Turn ``text::`` + indented block into ``text:`` + a fenced block."""
    lines = text.split('\n')
    out: List[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith('::') and not line.lstrip().startswith(('>>>', '```')):
            base = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            block: List[str] = []
            indent = None
            while j < len(lines):
                candidate = lines[j]
                if candidate.strip():
                    width = len(candidate) - len(candidate.lstrip())
                    if width <= base:
                        break
                    indent = width if indent is None else min(indent, width)
                block.append(candidate)
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                stripped = line.rstrip()[:-2].rstrip()
                prefix = ' ' * base
                if stripped.strip():
                    out.append(stripped + ':')
                    out.append('')
                body = [b[indent:] if b.strip() else '' for b in block]
                lang = _language('\n'.join(body))
                out.append(f'{prefix}```{lang}')
                out.extend(prefix + b if b else '' for b in body)
                out.append(f'{prefix}```')
                out.append('')
                i = j
                continue
        out.append(line)
        i += 1
    return '\n'.join(out)


def _language(code: str) -> str:
    """``python``, ``json``, ``console`` or ``text``: how to highlight a literal block."""
    stripped = code.strip()
    if stripped.startswith('{'):
        return 'json'
    if stripped.split(' ', 1)[0] in ('gunicorn', 'relaysync', 'python', 'pip'):
        return 'console'
    try:
        ast.parse(code)
    except SyntaxError:
        return 'text'
    return 'python'


def _rewrite(obj: Any) -> None:
    docstring = obj.docstring
    if docstring is not None and docstring.value:
        value = _literal_blocks(docstring.value)
        value = _roles_to_refs(obj, value)
        if value != docstring.value:
            docstring.value = value
    for member in list(obj.members.values()):
        if member.is_alias:
            continue
        _rewrite(member)


def _runtime_function(name: str, func: Any, parent: Any) -> Any:
    parameters = []
    signature = inspect.signature(func)
    for param in signature.parameters.values():
        kind = {
            param.POSITIONAL_ONLY: griffe.ParameterKind.positional_only,
            param.POSITIONAL_OR_KEYWORD: griffe.ParameterKind.positional_or_keyword,
            param.VAR_POSITIONAL: griffe.ParameterKind.var_positional,
            param.KEYWORD_ONLY: griffe.ParameterKind.keyword_only,
            param.VAR_KEYWORD: griffe.ParameterKind.var_keyword,
        }[param.kind]
        default = None if param.default is param.empty else repr(param.default)
        annotation = None if param.name == 'self' else _HANDLER
        parameters.append(griffe.Parameter(param.name, kind=kind, default=default,
                                           annotation=annotation))
    function = griffe.Function(name, parameters=griffe.Parameters(*parameters), parent=parent,
                               lineno=None, endlineno=None, returns=_HANDLER)
    model = parent.docstring
    function.docstring = griffe.Docstring(
        inspect.cleandoc(func.__doc__ or ''), parent=function,
        parser=model.parser if model is not None else None,
        parser_options=model.parser_options if model is not None else None)
    function.labels.add('method')
    return function


class RelaysyncDocs(griffe.Extension):
    """Rewrite docstrings for Markdown and document runtime-built decorators."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        if pkg.name != 'relaysync':
            return
        try:
            workflow_cls = pkg.get_member('registry.Workflow')
        except Exception:
            workflow_cls = None
        if workflow_cls is not None:
            if _ROOT not in sys.path:
                sys.path.insert(0, _ROOT)
            runtime = importlib.import_module('relaysync.registry').Workflow
            for name, member in list(workflow_cls.members.items()):
                if not name.startswith('on_') or member.is_alias or member.is_function:
                    continue
                value = runtime.__dict__.get(name)
                if inspect.isfunction(value) and value.__doc__:
                    workflow_cls.set_member(name, _runtime_function(name, value, workflow_cls))
        try:
            relay_cls = pkg.get_member('relay.Relay')
        except Exception:
            relay_cls = None
        if relay_cls is not None:
            _document_actions(relay_cls)
        # Let "Raises: RelayTimeout: ..." link to the exception from any module,
        # including those that do not import it.
        exceptions = pkg.get_member('exceptions')
        names = [n for n, m in exceptions.members.items()
                 if not n.startswith("_") and not m.is_alias and m.is_class]
        for module in _modules(pkg):
            for name in names:
                if name not in module.members and name not in module.imports:
                    module.imports[name] = f'relaysync.exceptions.{name}'
        _rewrite(pkg)


#: What every action raises (the class docstring says it once); per action the
#: timeout named is the one its row of the table uses.
_RAISES = (
    ('ErrorResponse', 'the Relay server refused the request.'),
    ('RelayTimeout', 'no answer within {timeout} (restarted by each progress event).'),
    ('ConnectionClosed', 'the connection is closed or closes meanwhile.'),
)


def _document_actions(relay_cls: Any) -> None:
    """Add each action's row of the table (and what it raises) to its docstring."""
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)
    runtime = importlib.import_module('relaysync.relay').Relay
    actions = importlib.import_module('relaysync.actions')
    for name, member in list(relay_cls.members.items()):
        value = runtime.__dict__.get(name)
        if isinstance(value, staticmethod) and not member.is_function:
            func = value.__func__
            relay_cls.set_member(name, griffe.Alias(name, f'{func.__module__}.{func.__name__}',
                                                    parent=relay_cls))
            continue
        action = actions.ACTIONS.get(name)
        if action is None or member.is_alias or member.docstring is None:
            continue
        timeout = ('``timeouts.refresh`` (``refresh`` true) or ``timeouts.request``'
                   if action.timeout == 'refresh' else f'``timeouts.{action.timeout}``')
        lines = [f'    {exc}: {text.format(timeout=timeout)}' for exc, text in _RAISES
                 if action.waits != actions.NOTHING]
        if action.target:
            lines.append('    InvalidArgument: the target is not a URN, a list of URNs or '
                         "``{'uris': [...]}`` (nothing is sent).")
        doc = member.docstring.value.rstrip()
        paragraph = actions.describe(name)
        if 'Raises:' in doc:
            head, _, tail = doc.partition('Raises:')
            doc = f'{head.rstrip()}\n\n{paragraph}\n\nRaises:\n' + '\n'.join(lines) + tail
        else:
            doc = f'{doc}\n\n{paragraph}' + ('\n\nRaises:\n' + '\n'.join(lines)
                                               if lines else '')
        member.docstring.value = doc


def _modules(module: Any) -> List[Any]:
    found = [module]
    for member in module.members.values():
        if not member.is_alias and member.is_module:
            found.extend(_modules(member))
    return found
