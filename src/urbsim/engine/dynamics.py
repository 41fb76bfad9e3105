"""Which nodes change over time: the pre-pass over the AbstractModel (for hoisting
time-invariant sub-expressions out of the time loop), the hoisting itself, and the final
classification of nodes into initialisation-only and per-step ones. A mixin of
:class:`compile.Program`.
"""

from __future__ import annotations

import re

from pysd.translators.structures import abstract_expressions as ae

from urbsim.errors import ModelError

from . import arrays
from . import statefuls as sf
from .arrays import Ref
from .expressions import STATEFUL_ARGS, TIME, E, norm

_STATEFUL_TYPES = tuple(STATEFUL_ARGS)


class Dynamics:
    """What changes over time in :class:`compile.Program` (a mixin)."""

    # -- pre-pass: which elements change over time (for hoisting invariant sub-expressions) --
    def _scan_dynamic(self):
        info = {}

        def scan(a, acc):
            if isinstance(a, ae.InitialStructure):
                return
            if isinstance(a, ae.CallStructure):
                fname = norm(a.function.reference)
                if fname in self.macros or fname == "active_initial":
                    acc["dyn"] = True  # a macro may hold stocks; ACTIVE INITIAL changes value
            if isinstance(a, _STATEFUL_TYPES):
                acc["dyn"] = True
                return
            if isinstance(a, ae.ReferenceStructure):
                if a.reference == "time":
                    acc["dyn"] = True
                else:
                    acc["refs"].add(norm(a.reference))
                scan(a.subscripts, acc)
                return
            if isinstance(a, (list, tuple)):
                for x in a:
                    scan(x, acc)
                return
            if isinstance(a, ae.AbstractSyntax):
                for f in getattr(a, "__dataclass_fields__", {}):
                    scan(getattr(a, f), acc)

        for node in self.nodes:
            acc = {"dyn": False, "refs": set()}
            if node.kind == "aux":
                for c in node.el.components:
                    scan(c.ast, acc)
            info[node.id] = acc
        memo: dict[int, bool] = {}

        def dyn(nid, stack=frozenset()):
            if nid in memo:
                return memo[nid]
            if nid in stack:
                return False
            acc = info[nid]
            res = acc["dyn"]
            if not res:
                for r in acc["refs"]:
                    other = self.by_norm.get(r)
                    if other is not None and dyn(other.id, stack | {nid}):
                        res = True
                        break
            memo[nid] = res
            return res

        self._pre_dyn = {node.id: dyn(node.id) for node in self.nodes}

    def mark_dynamic(self, node) -> None:
        """Treat ``node`` as changing over time while the rest is compiled (macros.py)."""
        self._pre_dyn[node.id] = True

    def is_dynamic(self, nid) -> bool:
        if nid == TIME:
            return True
        pre = self._pre_dyn.get(nid)
        if pre is not None:
            return pre
        node = self.nodes[nid]
        if node.st is not None or node.kind == "stateful":
            return node.st is None or node.st.stype != "initial"
        if node.kind == "aux":
            return any(self.is_dynamic(d) for d in node.deps)
        return False

    def hoist(self, e: E, ctx) -> E:
        """Move a time-invariant array sub-expression before the time loop."""
        if not e.ra or not e.deps or any(self.is_dynamic(d) for d in e.deps):
            return e
        if isinstance(e.code, Ref) and re.fullmatch(r"v\d+", e.code.name):
            return e
        key = arrays.source(e.code)
        node = self._hoisted.get(key)
        if node is None:
            self._hidden_count += 1
            node = self.new_node(
                f"{ctx.var}#inv{self._hidden_count}", "aux", e.dims, ctx.line, False
            )
            node.code = e.code
            node.deps = set(e.deps)
            node.ra = True
            self._hoisted[key] = node
        return E(Ref(node.py), e.dims, True, {node.id})

    # -- classification ----------------------------------------------------------------------
    def _classify(self):
        for node in self.nodes:
            if node.st is not None:
                node.step_deps = sf.output_deps(node.st)
                node.init_deps = sf.init_deps(node.st)
                node.upd_deps = sf.update_deps(node.st)
            elif node.kind == "aux":
                node.step_deps = node.deps
                node.init_deps = node.init_only_deps if node.init_code else node.deps
                node.upd_deps = set()
            else:
                node.step_deps = node.init_deps = node.upd_deps = set()
        memo: dict[int, bool] = {}

        def dyn(nid, stack=()):
            if nid == TIME:
                return True
            if nid in memo:
                return memo[nid]
            node = self.nodes[nid]
            if node.st is not None:
                res = node.st.stype != "initial"
            elif node.kind == "aux":
                if nid in stack:
                    raise ModelError(self._loop_msg(stack, nid))
                res = node.init_code is not None or any(dyn(d, (*stack, nid)) for d in node.deps)
            else:
                res = False
            memo[nid] = res
            return res

        for node in self.nodes:
            node.dynamic = dyn(node.id)

    def _loop_msg(self, stack, nid):
        names = [self.nodes[i].name.split("#")[0] for i in (*stack, nid)]
        start = names.index(names[-1])
        return (
            f"model file {self.path_name}: algebraic loop (a cycle without a stock): "
            + " -> ".join(names[start:])
        )
