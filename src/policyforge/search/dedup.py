"""Duplicate detection before evaluation: the same code, or the same code up to comments, docstrings,
blank lines and formatting, is never paid for twice."""

from __future__ import annotations

import ast
import hashlib

from policyforge.trust.static_check import parse as parse_source


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalised_hash(code: str) -> str:
    """Hash of the code's syntax tree without docstrings; falls back to the exact hash if it does not parse."""
    try:
        tree = parse_source(code)
    except (SyntaxError, ValueError):
        return code_hash(code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()
