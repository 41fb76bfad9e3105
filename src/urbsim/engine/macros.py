"""Vensim macros (``:MACRO: NAME(input, ...) ... :END OF MACRO:``), inlined at each call.

PySD runs every call of a macro as its own small model (``pysd.py_backend.model.Macro``) with
its own stocks, whose inputs are the call's argument expressions evaluated in the calling
model, stepped with the calling model's time. The engine does the same by copying the macro's
equations into hidden nodes per call: one node per argument (its expression, in the caller's
names) and one per macro variable (its equation, in the macro's names). The call's value is the
macro variable named like the macro. A call in a subscripted equation gives every hidden node
the caller's subscripts, so each element has its own copy of the macro's stocks, as PySD's
arrays do.

A lookup or a data variable (GET XLS/DIRECT DATA) defined inside a macro becomes hidden
lookups per call. Not inlined (``UnsupportedFeature``): macros with several outputs
(``NAME(input : output)``) and subscripted variables inside a macro, which PySD 3.14.3 cannot
run either.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from pysd.translators.structures import abstract_model as am_

from urbsim.errors import ModelError

from . import datavars
from .arrays import Lit, Ref, call, number
from .expressions import E, ExprCompiler, align, norm


class MacroScope:
    """The program as one macro call sees it: the macro's own names (its arguments and
    variables) and the model's control variables. Everything else is the program's."""

    def __init__(self, program, names: dict):
        self._p = program
        self._names = names

    def __getattr__(self, attr):
        return getattr(self._p, attr)

    def try_resolve(self, ref: str):
        node = self._names.get(norm(ref))
        if node is None:
            outer = self._p.try_resolve(ref)
            node = outer if outer is not None and outer.kind == "control" else None
        return node

    def resolve(self, ref: str, ctx):
        node = self.try_resolve(ref)
        if node is None:
            raise ModelError(
                f"variable '{ctx.var}' (line {ctx.line}) of {self._p.path_name}: refers to "
                f"'{ref}', which its macro does not define"
            )
        return node


def inline(ctx, section, args: list) -> E:
    """The value of one call of the macro ``section`` with the argument ASTs ``args``."""
    p = ctx.p
    title = section.name.upper().replace("_", " ")
    if section.returns:
        raise ctx.unsupported(f"macro {title} with several outputs")
    if len(args) != len(section.params):
        raise ctx.unsupported(f"macro {title} called with {len(args)} arguments")
    dims = tuple(d for d in ctx.lhs if d is not None)
    p.macro_calls += 1
    prefix = f"{ctx.var}#macro{p.macro_calls}"
    names = {}
    for param, arg in zip(section.params, args, strict=True):
        node = p.new_node(f"{prefix}.{param}", "aux", dims, ctx.line, False)
        _define(p, node, ctx.expr(arg), ctx)
        names[norm(param)] = node
    body = []
    for el in section.elements:
        comps = el.components
        if len(comps) == 1 and isinstance(comps[0], am_.AbstractLookup):
            if comps[0].subscripts[0]:
                raise ctx.unsupported(f"macro {title}: subscripted lookup '{el.name}'")
            names[norm(el.name)] = p.hidden_lookup(comps[0].ast, ctx)  # a table: one per call
            continue
        if comps and all(isinstance(c, am_.AbstractData) for c in comps):
            el = _data(p, el, prefix, names, ctx)
        if any(c.subscripts[0] for c in el.components) or not all(
            type(c) in (am_.AbstractComponent, am_.AbstractData) for c in el.components
        ):
            raise ctx.unsupported(f"macro {title}: subscripted variable '{el.name}'")
        node = p.new_node(f"{prefix}.{el.name}", "aux", dims, ctx.line, False)
        p.mark_dynamic(node)  # until compiled: nothing inside is moved before the time loop
        names[norm(el.name)] = node
        body.append((el, node))
    result = names.get(norm(section.name))
    if result is None:
        raise ctx.unsupported(f"macro {title} without a variable named like it")
    scope = MacroScope(p, names)
    for el, node in body:
        (comp,) = el.components if len(el.components) == 1 else (None,)
        if comp is None:
            raise ctx.unsupported(f"macro {title}: '{el.name}' defined in several parts")
        inner = ExprCompiler(scope, ctx.var, list(dims), ctx.line)
        ast = comp.ast
        e = E(number(ast)) if isinstance(ast, (int, float, np.number)) else inner.expr(ast)
        _define(p, node, e, inner)
    return E(Ref(result.py), dims, True, {result.id})


def _data(p, el, prefix: str, names: dict, ctx):
    """A data variable inside a macro: its own hidden lookup(s) per call (datavars.py), read
    now (the time grid is known), named in the macro's scope. Returns the rewritten element
    (the macro's own element is left as it is, for the next call)."""
    if any(c.subscripts[0] for c in el.components):
        raise ctx.unsupported(f"a subscripted data variable '{el.name}' inside a macro")
    own = dataclasses.replace(el, name=f"{prefix}.{el.name}", components=list(el.components))
    values, mask, comps = datavars.as_lookup(p, own, ctx.line)
    datavars.fill_one(p, values, mask, comps)
    for node in (values, mask):
        if node is not None:
            names[norm(node.name)] = node
    return dataclasses.replace(own, name=el.name)


def _define(p, node, e: E, ctx) -> None:
    """``node`` computes ``e`` over its dims (as the compiler defines any auxiliary)."""
    extra = [d for d in e.dims if d not in node.dims]
    if extra:
        raise ctx.unsupported(f"a macro argument over {', '.join(extra)} the caller lacks")
    code = align(e, node.dims)
    if node.dims and (e.dims != node.dims or not e.ra):
        code = call("_bc", code, Lit(p.sizes(node.dims)))
    node.code = code
    node.ra = bool(node.dims) or e.ra
    node.deps = set(e.deps)
