"""Every string a user can see has its Russian translation, looked up as Django looks it up.

A template's `{% translate "Repeat share, %" %}` is looked up as "Repeat share, %%" (Django
doubles the percent sign of template text), so an entry written for the Python label of the
same words never matched and the page said it in English. This test extracts the messages the
way `makemessages` does and asks the compiled catalogue for each.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.utils.translation import trans_real
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["crmapp", "integrations", "reports", "webhooks", "frontend"]
# Where nobody reads Russian: the fake CRM, schema migrations.
SKIPPED = ("sandbox", "migrations")
CALL = re.compile(r"\b(gettext|pgettext|ngettext|npgettext)\(((?:\s*u?'(?:[^'\\]|\\.)*'\s*,?)+)")
LITERAL = re.compile(r"u?'(?:[^'\\]|\\.)*'")
PYTHON_CALLS = {
    "gettext": "gettext",
    "gettext_lazy": "gettext",
    "_": "gettext",
    "pgettext": "pgettext",
    "pgettext_lazy": "pgettext",
    "ngettext": "ngettext",
    "ngettext_lazy": "ngettext",
    "npgettext": "npgettext",
    "npgettext_lazy": "npgettext",
}


def _files(suffix: str):
    for package in PRODUCT:
        for path in (ROOT / package).rglob(f"*{suffix}"):
            if not any(part in SKIPPED for part in path.relative_to(ROOT).parts):
                yield path


def _template_messages():
    for path in _files(".html"):
        code = templatize(path.read_text(), origin=str(path))
        for kind, args in CALL.findall(code):
            yield path, kind, [ast.literal_eval(literal) for literal in LITERAL.findall(args)]


def _python_messages():
    for path in _files(".py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            strings = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if name in PYTHON_CALLS and strings and isinstance(strings[0], str):
                yield path, PYTHON_CALLS[name], [s for s in strings if isinstance(s, str)]


def _key(kind: str, args: list[str]):
    if kind == "pgettext":
        return f"{args[0]}\x04{args[1]}"
    if kind == "ngettext":
        return (args[0], 0)
    if kind == "npgettext":
        return (f"{args[0]}\x04{args[1]}", 0)
    return args[0]


def test_every_message_a_user_sees_is_in_the_russian_catalogue():
    catalogue = trans_real.translation("ru")._catalog
    missing = set()
    for path, kind, args in [*_template_messages(), *_python_messages()]:
        translated = catalogue.get(_key(kind, args))
        if not translated:
            missing.add(f"{path.relative_to(ROOT)}: {kind}{tuple(args)}")
    assert not missing, "\n".join(sorted(missing))
