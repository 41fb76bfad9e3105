"""C emitter: :mod:`ir` statements -> C statements on SIMD lane vectors.

Every float of the IR becomes a ``vd`` (GCC/Clang vector extension) holding the same
variable for ``W`` runs; element-wise IEEE operations are exact in SIMD, so each lane
computes exactly what the Python emitter's code computes for its run. Where the IR selects
(``Select``, ``MinMax``, ``If``), both sides are evaluated and the lanes select (``vsel``):
evaluation has no side effects (temporaries are hoisted before the statement, pipes are not
written inside branches), and an untaken side's inf/NaN is discarded. The helpers called here
(``v_exp``, ``vsel``, ``v_pipe`` ...) are defined by ``native._PRELUDE``.

Each assignment to a model variable carries its Vensim name in a comment
(``/* Town Residents[urb] */``), made safe by :func:`ir.comment_text`; identifiers are the
IR's generated ones prefixed ``u_`` (no collision with C keywords or libm names), numbers
exact hexadecimal literals.
"""

from __future__ import annotations

import math

from . import ir, mpack

# IR maths -> the prelude's lane-vector functions (the C library's names)
_CFUN = {"abs": "fabs", "exp": "exp", "log": "log", "sqrt": "sqrt", "trunc": "trunc"}
_CFUN.update({"pow": "pow", "arcsin": "asin", "arccos": "acos", "arctan": "atan"})
# lookups of at most this many points select their segment's values by vector masks where
# every lane reads one table (more points: a load per lane is cheaper)
SELECT_POINTS = 12
_CSPECIAL = {"t": "vt", "k": "vk", "DT": "VB(DT)", "NAN": "VB(NAN)", "INF": "VB(INFINITY)"}


class NotNative(Exception):
    """The program uses something the C emitter does not handle."""


def clit(x: float) -> str:
    """An exact C99 literal of ``x`` (hexadecimal floating point)."""
    x = float(x)
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    return f"{x.hex()}"


def _normal_reciprocal(c: float) -> bool:
    """Whether ``1 / c`` is a normal number (so ``x * (1 / c)`` is within 1.5 ulp of
    ``x / c``, see ``v_rcp_bad`` in ``native._PRELUDE``)."""
    return 2.0**-1022 <= abs(c) <= 2.0**1022


def _reciprocal(c: float) -> bool:
    """Whether dividing by the number ``c`` is worth a reciprocal: one that is a normal
    number, and ``c`` not a power of two (the compiler already multiplies by those,
    exactly)."""
    return _normal_reciprocal(c) and math.frexp(c)[0] not in (0.5, -0.5)


def fixed_divisors(prog: ir.Program) -> list[str]:
    """The variables ``prog`` divides by in its time steps that hold one value through a run:
    parameters, and values its initialisation sets and no step assigns; in the order of
    their first division. Their reciprocals are computed once, after initialisation, so
    that the vector-maths build multiplies where the program divides (the kernel's
    divisions are its slowest arithmetic: ~30 % of its time on AMD Zen 4 at 8 lanes,
    ``perf``, 2026-11-29)."""
    steps = [*prog.aux, *prog.upd, *prog.commits]
    varying = {st.target for st in ir.statements(steps) if isinstance(st, ir.Assign)}
    fixed = {nm for p in prog.params if p.kind == "const" for nm in p.names}
    fixed |= {st.target for st in ir.statements(prog.init) if isinstance(st, ir.Assign)}
    fixed -= varying
    values = [*prog.record]
    for st in ir.statements(steps):
        values += [getattr(st, f) for f in ("value", "index", "cond") if hasattr(st, f)]
    out: dict[str, None] = {}
    for x in (x for e in values for x in ir.walk(e)):
        b = x.b if isinstance(x, ir.Bin) and x.op == "/" else None
        if isinstance(b, ir.Var) and b.name in fixed:
            out[b.name] = None
    return list(out)


class CEmitter:
    """IR statements -> C lines (``lines``) inside ``urbsim_run``'s loop over run groups.

    ``tables`` maps a lookup's x-points identifier and each of its y-element identifiers to
    its number of points; ``names`` is the IR's name table (for comments). A kernel of
    ``lanes`` narrower than its vector maths' ``maths`` runs per call packs up to
    ``maths / lanes`` independent exp/log/pow calls into one call (:mod:`mpack`). Once the
    caller sets ``fixed`` (:func:`fixed_divisors`, after printing the initialisation and
    their reciprocals ``q_<name>``), a division by one of them is printed
    ``VDIV(a, b, q_b)``: a multiplication by the reciprocal where the build has the vector
    maths, else the division (``native._PRELUDE``).
    """

    def __init__(self, tables: dict[str, int], names: ir.NameTable, lanes: int = 1, maths: int = 1):
        self.tables = tables
        self.fixed: frozenset = frozenset()  # divisors with a reciprocal q_<name> (see above)
        self.names = names
        self.lanes, self.maths = lanes, maths
        self.pack = maths // lanes if lanes < maths else 0
        self.used_lookups: set[tuple[str, str]] = set()  # (_lk | _lkf, x-points identifier)
        self.doubles: set[str] = set()
        self.pipes: set[str] = set()
        self.lines: list[str] = []
        self.ind = "    "
        self.rename: dict[str, str] = {}  # inside an ``If`` branch: variable -> branch value
        self.hoisted: list[str] = []  # temporaries of the statement being translated
        self.branch = 0  # depth of ``If`` branches being translated
        self.conds = 0  # lane masks of ``If`` statements, _c1 ...
        self.tmp = 0  # MinMax temporaries, _w1 ...

    def name(self, n: str) -> str:
        return self.rename.get(n) or "u_" + n

    def note(self, ident: str) -> str:
        """`` /* Vensim name[element] */`` for a model variable's element, else ''."""
        label = self.names.label(ident)
        return f"  /* {ir.comment_text(label)} */" if label else ""

    def emit(self, s: str):
        self.lines.append(self.ind + s)

    def assign(self, target: str, code: str, note: str = ""):
        """``target = code`` after the temporaries ``code`` reads."""
        for h in self.hoisted:
            self.emit(h)
        self.hoisted = []
        self.emit(f"{target} = {code};{note}")

    # -- statements -------------------------------------------------------------------------
    def stmts(self, body):
        if self.pack < 2 or self.branch:
            for st in body:
                self.stmt(st)
            return
        for kind, group in mpack.windows(body):
            if kind == "plain":
                self.stmt(group[0])
                continue
            values = [st.value for st in group]
            while True:
                calls, values = mpack.hoist(values, self.fresh)
                if not calls:
                    break
                self.packed(calls)
            for st, v in zip(group, values, strict=True):
                self.assignment(ir.Assign(st.target, v))

    def stmt(self, st: ir.Stmt) -> None:
        if isinstance(st, ir.Assign):
            self.assignment(st)
        elif isinstance(st, ir.PipeWrite):
            self._no_branch("pipe")
            if st.pipe not in self.pipes:
                raise NotNative("item assignment")
            self.assign("_pi", self.d(st.index))
            self.assign("_pv", self.d(st.value))
            self.emit(f"v_pwrite({self.name(st.pipe)}, _pi, _pv);")
        elif isinstance(st, ir.If):
            self._if(st)
        else:
            raise NotNative(f"statement {type(st).__name__}")

    def fresh(self) -> str:
        """A new temporary (a ``vd``)."""
        self.tmp += 1
        self.doubles.add(f"_w{self.tmp}")
        return f"_w{self.tmp}"

    def packed(self, calls: list[tuple[str, ir.Call]]) -> None:
        """``temporary = call`` for each of ``calls`` (:func:`mpack.hoist`), up to ``pack``
        calls of one function per call of the vector maths where the build has them
        (``VPACK``), else call by call as before. Lane ``l`` of the ``i``-th call of a pack
        is lane ``i * W + l`` of the vector maths; spare lanes repeat the last argument."""
        by_fn: dict[str, list] = {}
        for tmp, call in calls:
            args = []
            for a in call.args:
                arg = self.name(self.fresh())
                self.assign(arg, self.d(a))
                args.append(arg)
            by_fn.setdefault(call.fn, []).append((self.name(tmp), args))
        for fn, group in by_fn.items():
            for i in range(0, len(group), self.pack):
                self._packed_call(fn, group[i : i + self.pack])

    def _packed_call(self, fn: str, chunk: list[tuple[str, list[str]]]) -> None:
        w, last = self.lanes, len(chunk) - 1
        at = [(min(j // w, last), j % w if j // w <= last else w - 1) for j in range(self.maths)]
        vecs = []
        for q in range(len(chunk[0][1])):  # argument q of every call of the chunk
            vecs.append("{" + ", ".join(f"{chunk[i][1][q]}[{j}]" for i, j in at) + "}")
        fn_m = "m_powel" if fn == "pow" else f"m_{fn}"
        self.emit("#if VPACK")
        self.emit(f"_y = {fn_m}({', '.join(f'(vdm){v}' for v in vecs)});")
        for i, (tmp, _) in enumerate(chunk):
            self.emit(f"{tmp} = (vd){{{', '.join(f'_y[{i * w + j}]' for j in range(w))}}};")
        self.emit("#else")
        for tmp, args in chunk:
            self.emit(f"{tmp} = v_{fn}({', '.join(args)});")
        self.emit("#endif")

    def assignment(self, st: ir.Assign):
        tgt, v = st.target, st.value
        if isinstance(v, ir.PipeNew):
            self._no_branch("pipe")
            self.pipes.add(tgt)
            self.assign("_pv", self.d(v.init))
            self.assign("_pn", self.d(v.length))
            self.emit(f"v_pipe({self.name(tgt)}, owned, &nown, _pv, _pn);{self.note(tgt)}")
            return
        if isinstance(v, ir.Var) and v.name in self.pipes:
            self._no_branch("pipe")
            self.pipes.add(tgt)
            a, b = self.name(tgt), self.name(v.name)
            self.emit(f"memcpy({a}, {b}, sizeof({a}));")
            return
        self.doubles.add(tgt)
        code = self.d(v)
        if self.branch:
            tmp = f"u_b{self.branch}_{tgt}"
            self.doubles.add(tmp[2:])
            self.rename[tgt] = tmp
            self.assign(tmp, code, self.note(tgt))
        else:
            self.assign(self.name(tgt), code, self.note(tgt))

    def _no_branch(self, what):
        if self.branch:
            raise NotNative(f"{what} inside a branch")

    def _if(self, st: ir.If):
        # lanes may disagree: run both branches into renamed values, then select per lane
        self.conds += 1
        cond = f"_c{self.conds}"
        self.assign(cond, self.m(st.cond))
        results = []
        outer = dict(self.rename)
        for body in (st.body, st.orelse):
            self.branch += 1
            self.rename = dict(outer)
            self.stmts(body)
            results.append(self.rename)
            self.branch -= 1
        self.rename = outer
        for var in sorted(set(results[0]) | set(results[1])):
            if var in outer and results[0].get(var) == results[1].get(var):
                continue
            a = results[0].get(var, self.name(var))
            b = results[1].get(var, self.name(var))
            if self.branch:
                tmp = f"u_b{self.branch}_{var}"
                self.doubles.add(tmp[2:])
                self.rename[var] = tmp
                self.emit(f"{tmp} = vsel({cond}, {a}, {b});")
            else:
                self.emit(f"{self.name(var)} = vsel({cond}, {a}, {b});")

    def record(self, exprs, widths) -> None:
        """Store the recorded elements of this step (``REC[k]``) in the outputs: output ``q``
        is ``(runs, saved times, widths[q])`` in C order."""
        if sum(widths) != len(exprs):
            raise NotNative("recorded elements do not match the outputs")
        self.emit("if (REC[k]) {")
        self.ind += "    "
        for j, e in enumerate(exprs):
            self.assign(f"_rec[{j}]", self.d(e))
        self.emit("for (l = 0; l < nl; l++) {")
        j = 0
        for q, w in enumerate(widths):
            self.emit(f"    o = OUT[{q}] + ((r + l) * nrec + irec) * {w};")
            for e in range(w):
                self.emit(f"    o[{e}] = _rec[{j}][l];")
                j += 1
        self.emit("}")
        self.emit("irec++;")
        self.ind = self.ind[:-4]
        self.emit("}")

    # -- expressions: d() gives a vd, m() a vm mask ------------------------------------------
    def d(self, e) -> str:
        code, kind = self.expr(e)
        return code if kind == "d" else f"vbool({code})"

    def m(self, e) -> str:
        code, kind = self.expr(e)
        return code if kind == "m" else f"({code} != VB(0.0))"

    def expr(self, e) -> tuple[str, str]:
        d = self.d
        if isinstance(e, ir.Var):
            return self.name(e.name), "d"
        if isinstance(e, ir.Num):
            return f"VB({clit(e.value)})", "d"
        if isinstance(e, ir.Special):
            return _CSPECIAL[e.name], "d"
        if isinstance(e, ir.Bin):
            if e.op == "%":
                return f"v_mod({d(e.a)}, {d(e.b)})", "d"
            if e.op == "/" and isinstance(e.b, ir.Var) and e.b.name in self.fixed:
                return f"VDIV({d(e.a)}, {d(e.b)}, q_{e.b.name})", "d"
            if e.op == "/" and isinstance(e.b, ir.Num) and _reciprocal(e.b.value):
                return f"VDIV({d(e.a)}, {d(e.b)}, VB({clit(1.0 / e.b.value)}))", "d"
            return f"({d(e.a)} {e.op} {d(e.b)})", "d"
        if isinstance(e, ir.Neg):
            return f"(-{d(e.a)})", "d"
        if isinstance(e, ir.Cmp):
            return f"({d(e.a)} {e.op} {d(e.b)})", "m"
        if isinstance(e, ir.Logic):
            op = " & " if e.op == "and" else " | "
            return "(" + op.join(self.m(v) for v in e.args) + ")", "m"
        if isinstance(e, ir.Select):
            return f"vsel({self.m(e.cond)}, {d(e.a)}, {d(e.b)})", "d"
        if isinstance(e, ir.MinMax):
            return self.minmax(e), "d"
        if isinstance(e, ir.Call):
            fn = _CFUN.get(e.fn, e.fn)
            return f"v_{fn}({', '.join(d(a) for a in e.args)})", "d"
        return self.special_call(e), "d"

    def minmax(self, e: ir.MinMax) -> str:
        """numpy's NaN-propagating minimum/maximum; operands hoisted (each evaluated once,
        in order: C leaves the order of a call's operands unspecified)."""
        w = []
        for node in (e.a, e.b):
            code = self.d(node)
            if isinstance(node, (ir.Var, ir.Num, ir.Special)):
                w.append(code)
                continue
            self.tmp += 1
            tmp = f"_w{self.tmp}"
            self.doubles.add(tmp)
            self.hoisted.append(f"{self.name(tmp)} = {code};")
            w.append(self.name(tmp))
        a, b = w
        cond = f"({a} {e.op} {b})"
        if not isinstance(e.a, ir.Num):  # a number is never NaN
            cond = f"({cond} | ({a} != {a}))"
        return f"vsel({cond}, {a}, {b})"

    def special_call(self, e) -> str:
        """Lookups, delay orders and DELAY FIXED pipes: the prelude's helpers."""
        if isinstance(e, ir.Lookup):
            m = self.tables.get(e.table)
            if m is None or m < 2 or self.tables.get(e.ys) != m:
                raise NotNative("lookup table layout")
            kind = "_lkf" if e.own else "_lk"
            self.used_lookups.add((kind, e.table))
            return f"v{kind}_{e.table}({self.d(e.x)}, u_{e.ys})"
        if isinstance(e, ir.DelayOrder):
            dts = ", ".join(self.d(a) for a in e.times)
            return f"v_dorder(&err, {e.nid}, {e.order}, {len(e.times)}, (const vd[]){{{dts}}})"
        if isinstance(e, ir.PipeLength):
            return f"v_dfo({self.d(e.d)})"
        if isinstance(e, ir.PipeRead):
            if e.pipe not in self.pipes:
                raise NotNative("subscript")
            return f"v_pread({self.name(e.pipe)}, {self.d(e.index)})"
        raise NotNative(f"expression {type(e).__name__}")


def lookup_function(kind: str, xname: str, xs) -> str:
    """Interpolation in one table whose x points are fixed by the model (they cannot be set,
    see ``CompiledModel._param_value``), for a vector of runs with their own y values.

    ``_lk`` is ``np.interp`` (``scalar._lk``: clamped ends, NaN passes through, segment
    ``bisect_right(xs, x) - 1``); ``_lkf`` the numpy backend's formula for multi-element
    tables (``scalar._lkf``: clamp x, then extrapolate the clipped segment). The segment is a
    sum of comparisons with the literal x points; each lane then does the scalar formula's
    operations in its order, and the scalar code's early returns become selections in
    reverse order of priority. The division by the segment's width is ``VDIV`` (the build
    with vector maths multiplies by the width's reciprocal, a literal).
    """
    m = len(xs)
    lit = ", ".join(clit(x) for x in xs)
    first, last = clit(xs[0]), clit(xs[-1])
    widths = [b - a for a, b in zip(xs[:-1], xs[1:], strict=True)]
    rdx = [1.0 / w if w else math.inf for w in widths]
    rlit = ", ".join(clit(r) for r in rdx)
    # the widths' reciprocals where all are normal numbers, else the divisions themselves
    slope = "VDIV((y1 - y0), (x1 - x0), rd)"
    if not all(_normal_reciprocal(w) for w in widths):
        slope = "((y1 - y0) / (x1 - x0))"
    seg = " + ".join(f"(X >= VB({clit(x)}))" for x in xs[1 : m - 1]) or "(vm){0}"
    head = (
        f"static inline vd v{kind}_{xname}(vd x, const double *const *ys) {{\n"
        f"    static const double xs[{m}] = {{{lit}}};\n"
        f"    static const double rdx[{m - 1}] = {{{rlit}}};  /* 1 / segment widths */\n"
    )
    # the segment: masks are -1, so their sum counts the x points below x; for one run (W = 1)
    # with sorted x points, a scan from the first point finds the same segment for less (x
    # moves little from step to step, so its branches are predicted)
    count = "        long i = -seg[l];"
    if list(xs) == sorted(xs):
        scan = f"        long i = 0; while (i < {m - 2} && X[0] >= xs[i + 1]) i++;"
        count = f"#if W == 1\n{scan}\n#else\n{count}\n#endif"
    gather = (
        "    for (int l = 0; l < W; l++) {\n"
        f"{count}\n"
        "        x0[l] = xs[i]; x1[l] = xs[i + 1]; y0[l] = ys[l][i]; y1[l] = ys[l][i + 1];\n"
        "        rd[l] = rdx[i];\n"
        f"        ylo[l] = ys[l][0]; yhi[l] = ys[l][{m - 1}];\n"
        "    }\n"
    )
    if m <= SELECT_POINTS:
        # one table for every lane (y values shared by the runs, the usual case): the
        # segment's values by vector permutes of the table held in two registers (VPERM,
        # where the compiler has them and the table has at most 2W points), else the same
        # x0, x1, y0, y1 by selections over the segment's masks (monotone in the sorted x
        # points: the last true one is the segment), without a load per lane
        steps = "".join(
            f"        g = X >= VB({clit(xs[k])}); x0 = vsel(g, VB({clit(xs[k])}), x0); "
            f"x1 = vsel(g, VB({clit(xs[k + 1])}), x1); rd = vsel(g, VB({clit(rdx[k])}), rd);\n"
            f"        y0 = vsel(g, VB(y[{k}]), y0); y1 = vsel(g, VB(y[{k + 1}]), y1);\n"
            for k in range(1, m - 1)
        )
        gather = (
            "    int shared = W > 1;\n"
            "    for (int l = 1; l < W; l++) shared &= ys[l] == ys[0];\n"
            "    if (shared) {\n"
            "        const double *y = ys[0];\n"
            f"#if VPERMS && {m} <= 2 * W\n"
            f"        static const double xt[16] __attribute__((aligned(64))) = {{{lit}}};\n"
            f"        static const double rt[16] __attribute__((aligned(64))) = {{{rlit}}};\n"
            "        const vd X[2] = {*(const vd *)xt, *(const vd *)(xt + W)};\n"
            "        const vd R[2] = {*(const vd *)rt, *(const vd *)(rt + W)};\n"
            f"        vd Y[2]; VLOAD2(Y, y, {m});\n"
            "        vm i = -seg, j = i + 1;  /* masks are -1: the sum counts x points below x */\n"
            "        x0 = VPERM(X, i); x1 = VPERM(X, j); rd = VPERM(R, i);\n"
            "        y0 = VPERM(Y, i); y1 = VPERM(Y, j);\n"
            "#else\n"
            "        vm g;\n"
            f"        x0 = VB({clit(xs[0])}); x1 = VB({clit(xs[1])}); rd = VB({clit(rdx[0])});\n"
            "        y0 = VB(y[0]); y1 = VB(y[1]);\n"
            + steps
            + "#endif\n"
            + f"        ylo = VB(y[0]); yhi = VB(y[{m - 1}]);\n"
            "    } else {\n"
            + "".join(("" if x[0] == "#" else "    ") + x + "\n" for x in gather.splitlines())
            + "    }\n"
        )
    gather = "    vd x0, x1, y0, y1, ylo, yhi, rd;\n" + gather
    if kind == "_lk":
        body = (
            f"    vm seg = {seg.replace('X', 'x')};\n"
            + gather.replace("X >=", "x >=").replace("X[0]", "x[0]")
            + f"    vd r = {slope} * (x - x0) + y0;\n"
            "    r = vsel(x != x, x, r);\n"
            f"    r = vsel(x < VB({first}), ylo, r);\n"
            f"    return vsel(x >= VB({last}), yhi, r);\n}}\n"
        )
    else:
        body = (
            f"    vd xc = vsel(x > VB({last}), VB({last}), x);\n"
            f"    xc = vsel(x < VB({first}), VB({first}), xc);\n"
            f"    vm seg = {seg.replace('X', 'xc')};\n"
            + gather.replace("X >=", "xc >=").replace("X[0]", "xc[0]")
            + f"    vd r = y0 + (xc - x0) * {slope};\n"
            "    return vsel(x != x, x, r);\n}\n"
        )
    return head + body
