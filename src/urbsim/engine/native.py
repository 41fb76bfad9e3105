"""Native backend: the scalar program translated to C, compiled once, run on all cores.

The numpy backend pays for ~730 array operations per time step (temporaries, call overhead);
the scalar backend pays Python's interpreter per float operation. Both are the same program:
:mod:`scalar` has already unrolled every array statement into straight-line float code, one
local per element. This module translates *that* source (its :mod:`ast`) into a C function
``urbsim_run`` that simulates a range of runs, each run entirely in registers and on the
stack, and compiles it with the machine's C compiler (``$CC``, else ``cc``, ``gcc``,
``clang``, else the ``ziglang`` package). The shared library is cached under
:func:`urbsim.paths.cache_dir` keyed by the sha256 of the C source and the compiler command,
so each model is compiled once per machine. Runs are split over threads; ``ctypes`` releases
the GIL during the call.

Numerics: the C code performs the scalar program's operations in the same order, in IEEE
double (``-ffp-contract=off``, no fast-math), calling the same C library ``exp``/``log``/
``pow`` that Python's :mod:`math` calls, so it reproduces the scalar backend's numbers
(tested). Where Python raises (x/0, ``log(0)``, ``exp`` overflow), C yields inf/NaN as numpy
does. Python's float ``%`` (floor modulo) and ``np.round`` (half to even) are replicated by
``u_mod`` and ``nearbyint``.

Safety: the C text is produced from the scalar source, which contains only generated
identifiers (prefixed ``u_`` here, so they cannot collide with C or libm names), numbers
(emitted as exact hexadecimal float literals) and the helper names of :mod:`scalar`; only
the node types handled below are accepted, anything else raises :class:`NotNative` and the
model keeps the numpy/scalar backends. Nothing from the model file reaches the C text.
"""

from __future__ import annotations

import ast
import ctypes
import hashlib
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from urbsim.errors import ModelError
from urbsim.paths import cache_dir

# -ffp-contract=off: no fused multiply-add, so every operation rounds as in Python/numpy;
# -fno-math-errno lets the compiler treat exp/log/pow as pure (same results, no errno writes)
CFLAGS = ("-O2", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno", "-w")
# tuned for this CPU where the compiler supports it; the library's key includes the CPU
# (``_host``), so a cache shared between different machines never loads a foreign build
NATIVE_ARCH = ("-march=native",)
_MATH = {"_abs": "fabs", "_exp": "exp", "_log": "log", "_sqrt": "sqrt", "_trunc": "trunc"}
_MATH2 = {"_pow": "pow"}
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}

_PRELUDE = r"""
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Python's float %: the result takes the sign of the divisor */
static double u_mod(double a, double b) {
    double r = fmod(a, b);
    if (r != 0.0) { if ((b < 0.0) != (r < 0.0)) r += b; }
    else r = copysign(0.0, b);
    return r;
}
/* PySD's delay order lowering (scalar._dorder1); *err = nid + 1 when no order fits */
static double u_dorder(long *err, long nid, long k, double dt, long nd, const double *dts) {
    double m = dts[0];
    for (long j = 1; j < nd; j++) { double d = dts[j]; if (d < m || d != d) m = d; }
    long o = k;
    for (long j = 0; j < k; j++) if (o * dt > m) o -= 1;
    if (o <= 0) { if (!*err) *err = nid + 1; return 1.0; }
    return (double)o;
}
/* DELAY FIXED pipe length (scalar._dfo1): np.round is half to even, as nearbyint */
static double u_dfo(double d, double dt) {
    double a = d / dt;
    return nearbyint((a > 1.0 ? a : 1.0) + 1e-6);
}
static double *u_pipe(double **owned, long *nown, double v, double len) {
    long m = (long)len;
    double *p = (double *)malloc(sizeof(double) * (m > 0 ? m : 1));
    for (long j = 0; j < m; j++) p[j] = v;
    owned[(*nown)++] = p;
    return p;
}
"""


class NotNative(Exception):
    """The scalar program uses something this translator does not handle."""


def _lit(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    return f"{x.hex()}"  # exact: C99 hexadecimal floating literal


class _Translator:
    """Python scalar source (``scalar.generate_scalar``) -> C statements."""

    def __init__(self, tables: dict[str, int], widths: list[int]):
        self.tables = tables  # lookup x-name / y-element name -> number of points
        self.widths = widths  # elements recorded per output
        self.used_lookups: set[tuple[str, str]] = set()  # (_lk | _lkf, x-name)
        self.doubles: set[str] = set()
        self.pipes: set[str] = set()
        self.lines: list[str] = []
        self.ind = "    "
        self.rec: list[str] | None = None

    def name(self, n: str) -> str:
        if n in ("t", "k", "DT"):
            return {"t": "t", "k": "((double)k)", "DT": "DT"}[n]
        if n == "_NAN":
            return "NAN"
        if n == "_INF":
            return "INFINITY"
        if not n.replace("_", "").isalnum() or not n.isascii():
            raise NotNative(f"name {n!r}")
        return "u_" + n

    def emit(self, s: str):
        self.lines.append(self.ind + s)

    # -- statements -------------------------------------------------------------------------
    def stmts(self, body):
        for st in body:
            self.stmt(st)

    def stmt(self, st):
        if isinstance(st, ast.Assign) and len(st.targets) == 1:
            tgt, v = st.targets[0], st.value
            if isinstance(tgt, ast.Name):
                if tgt.id in ("_rows", "_app", "_last", "t", "k", "DT"):
                    return  # C declares these itself (DT from the same program.dt)
                if (
                    isinstance(v, ast.BinOp)
                    and isinstance(v.op, ast.Mult)
                    and isinstance(v.left, ast.List)
                    and len(v.left.elts) == 1
                ):
                    self.pipes.add(tgt.id)
                    init, length = self.expr(v.left.elts[0]), self.expr(v.right)
                    self.emit(f"{self.name(tgt.id)} = u_pipe(owned, &nown, {init}, {length});")
                    return
                if isinstance(v, ast.Name) and v.id in self.pipes:
                    self.pipes.add(tgt.id)
                    self.emit(f"{self.name(tgt.id)} = {self.name(v.id)};")
                    return
                self.doubles.add(tgt.id)
                self.emit(f"{self.name(tgt.id)} = {self.expr(v)};")
                return
            if isinstance(tgt, ast.Subscript) and isinstance(tgt.value, ast.Name):
                if tgt.value.id not in self.pipes:
                    raise NotNative("item assignment")
                idx = self.expr(tgt.slice)
                self.emit(f"{self.name(tgt.value.id)}[(long)({idx})] = {self.expr(v)};")
                return
            raise NotNative("assignment target")
        if isinstance(st, ast.If):
            t = st.test
            if (
                isinstance(t, ast.Subscript)
                and isinstance(t.value, ast.Name)
                and t.value.id == "REC"
            ):
                call = st.body[0].value if len(st.body) == 1 else None
                if not (isinstance(call, ast.Call) and isinstance(call.args[0], ast.Tuple)):
                    raise NotNative("record")
                self.rec = [self.expr(e) for e in call.args[0].elts]
                if sum(self.widths) != len(self.rec):
                    raise NotNative("recorded elements do not match the outputs")
                self.emit("if (REC[k]) {")
                j = 0
                for q, w in enumerate(self.widths):  # output q is (n, saved times, w) C order
                    self.emit(f"    o = OUT[{q}] + (r * nrec + irec) * {w};")
                    for e in range(w):
                        self.emit(f"    o[{e}] = {self.rec[j]};")
                        j += 1
                self.emit("    irec++;")
                self.emit("}")
                return
            if (
                isinstance(t, ast.Compare)
                and isinstance(t.comparators[0], ast.Name)
                and t.comparators[0].id == "_last"
            ):
                self.emit("if (k == nT - 1) break;")
                return
            self.emit(f"if ({self.expr(t)}) {{")
            self.ind += "    "
            self.stmts(st.body)
            self.ind = self.ind[:-4]
            if st.orelse:
                self.emit("} else {")
                self.ind += "    "
                self.stmts(st.orelse)
                self.ind = self.ind[:-4]
            self.emit("}")
            return
        if isinstance(st, ast.For):
            self.emit("for (k = 0; k < nT; k++) {")
            self.ind += "    "
            self.emit("t = T[k];")
            self.stmts(st.body)
            self.ind = self.ind[:-4]
            self.emit("}")
            return
        if isinstance(st, ast.Return):
            return
        raise NotNative(f"statement {type(st).__name__}")

    # -- expressions ------------------------------------------------------------------------
    def expr(self, e) -> str:
        if isinstance(e, ast.Constant):
            if e.value is True or e.value is False:
                return "1" if e.value else "0"
            if isinstance(e.value, (int, float)):
                return _lit(e.value)
            raise NotNative(f"constant {e.value!r}")
        if isinstance(e, ast.Name):
            return self.name(e.id)
        if isinstance(e, ast.BinOp):
            a, b = self.expr(e.left), self.expr(e.right)
            if isinstance(e.op, ast.Mod):
                return f"u_mod({a}, {b})"
            op = _BIN.get(type(e.op))
            if op is None:
                raise NotNative(f"operator {type(e.op).__name__}")
            return f"({a} {op} {b})"
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.USub):
                return f"(-{self.expr(e.operand)})"
            if isinstance(e.op, ast.Not):
                return f"(!{self.expr(e.operand)})"
            raise NotNative("unary operator")
        if isinstance(e, ast.Compare) and len(e.ops) == 1:
            op = _CMP.get(type(e.ops[0]))
            if op is None:
                raise NotNative("comparison")
            return f"({self.expr(e.left)} {op} {self.expr(e.comparators[0])})"
        if isinstance(e, ast.BoolOp):
            op = " && " if isinstance(e.op, ast.And) else " || "
            return "(" + op.join(self.expr(v) for v in e.values) + ")"
        if isinstance(e, ast.IfExp):
            return f"({self.expr(e.test)} ? {self.expr(e.body)} : {self.expr(e.orelse)})"
        if isinstance(e, ast.NamedExpr):
            self.doubles.add(e.target.id)
            return f"({self.name(e.target.id)} = {self.expr(e.value)})"
        if isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name):
            if e.value.id not in self.pipes:
                raise NotNative("subscript")
            return f"{self.name(e.value.id)}[(long)({self.expr(e.slice)})]"
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.keywords:
            return self.call(e.func.id, e.args)
        raise NotNative(f"expression {type(e).__name__}")

    def call(self, f: str, args) -> str:
        if f in _MATH and len(args) == 1:
            return f"{_MATH[f]}({self.expr(args[0])})"
        if f in _MATH2 and len(args) == 2:
            return f"{_MATH2[f]}({self.expr(args[0])}, {self.expr(args[1])})"
        if f in ("_lk", "_lkf") and len(args) == 3:
            xs, ys = args[1], args[2]
            if not (isinstance(xs, ast.Name) and isinstance(ys, ast.Name)):
                raise NotNative("lookup table")
            m = self.tables.get(xs.id)
            if m is None or m < 2 or self.tables.get(ys.id) != m:
                raise NotNative("lookup table layout")
            self.used_lookups.add((f, xs.id))
            return f"u{f}_{xs.id}({self.expr(args[0])}, {self.name(ys.id)})"
        if f == "_dorder1" and len(args) >= 3:
            nid, k = (int(ast.literal_eval(a)) for a in args[:2])
            dts = ", ".join(self.expr(a) for a in args[2:])
            return f"u_dorder(&err, {nid}, {k}, DT, {len(args) - 2}, (const double[]){{{dts}}})"
        if f == "_dfo1" and len(args) == 2:
            return f"u_dfo({self.expr(args[1])}, DT)"
        raise NotNative(f"function {f}")


def _lookup_function(kind: str, xname: str, xs) -> str:
    """Interpolation in one table whose x points are fixed by the model (they cannot be set,
    see ``CompiledModel._param_value``): the segment is a sum of comparisons with literals.

    ``_lk`` is ``np.interp`` (``scalar._lk``: clamped ends, NaN passes through, segment
    ``bisect_right(xs, x) - 1``); ``_lkf`` the numpy backend's formula for multi-element
    tables (``scalar._lkf``: clamp x, then extrapolate the clipped segment).
    """
    m = len(xs)
    lit = ", ".join(_lit(x) for x in xs)
    seg = " + ".join(f"(X >= {_lit(x)})" for x in xs[1 : m - 1]) or "0"
    head = f"static double u{kind}_{xname}(double x, const double *ys) {{\n"
    head += f"    static const double xs[{m}] = {{{lit}}};\n"
    if kind == "_lk":
        body = (
            f"    if (x >= xs[{m - 1}]) return ys[{m - 1}];\n"
            "    if (x < xs[0]) return ys[0];\n"
            "    if (x != x) return x;\n"
            f"    long i = {seg.replace('X', 'x')};\n"
            "    double x0 = xs[i], y0 = ys[i];\n"
            "    return ((ys[i + 1] - y0) / (xs[i + 1] - x0)) * (x - x0) + y0;\n}\n"
        )
    else:
        body = (
            "    if (x != x) return x;\n"
            f"    double xc = x < xs[0] ? xs[0] : (x > xs[{m - 1}] ? xs[{m - 1}] : x);\n"
            f"    long i = {seg.replace('X', 'xc')};\n"
            "    double x0 = xs[i], y0 = ys[i];\n"
            "    return y0 + (xc - x0) * ((ys[i + 1] - y0) / (xs[i + 1] - x0));\n}\n"
        )
    return head + body


def translate(src: str, layout, widths, program) -> tuple[str, int]:
    """C source of ``urbsim_run`` from the scalar source ``src``; returns (C text, P width).

    ``layout`` and ``widths`` are ``scalar.generate_scalar``'s: the constants and lookups in
    the order of the parameter tuple, and the number of elements recorded per output. Each
    run's row of ``P`` holds, in that order, a constant's elements, or a lookup's x points
    followed by each element's y points. Output ``q`` is written straight into ``OUT[q]``,
    a C-ordered ``(runs, saved times, widths[q])`` array.
    """
    tree = ast.parse(src)
    fn = tree.body[0]
    if not isinstance(fn, ast.FunctionDef):
        raise NotNative("not a function")
    body = list(fn.body)
    names: list[str] = []
    if body and isinstance(body[0], ast.Assign) and isinstance(body[0].targets[0], ast.Tuple):
        names = [e.id for e in body.pop(0).targets[0].elts]
    tables: dict[str, int] = {}
    xpoints: dict[str, tuple] = {}  # x-name -> x points (the first name of each lookup)
    unpack: list[str] = []
    off = 0
    pos = 0
    for kind, i in layout:
        nd = program.nodes[i]
        size = math.prod(program.sizes(nd.dims))
        if kind == "lookup":
            m = len(nd.x)
            for nm in names[pos : pos + 1 + size]:
                tables[nm] = m
                xpoints.setdefault(nm, tuple(float(x) for x in nd.x))
                unpack.append(f"    const double *u_{nm} = pr + {off};")
                off += m
            pos += 1 + size
        else:
            for nm in names[pos : pos + size]:
                unpack.append(f"    const double u_{nm} = pr[{off}];")
                off += 1
            pos += size
    if pos != len(names):
        raise NotNative("parameter layout")
    tr = _Translator(tables, list(widths))
    tr.stmts(body)
    if tr.rec is None:
        raise NotNative("no recorded outputs")
    params = set(names)
    decl_d = sorted(tr.doubles - params)
    decl_p = sorted(tr.pipes)
    out = [_PRELUDE]
    out.extend(_lookup_function(kind, xn, xpoints[xn]) for kind, xn in sorted(tr.used_lookups))
    out.append(
        "long urbsim_run(long r0, long r1, const double *P, long pbase, long pw, long nT,\n"
        "                const double *T, const unsigned char *REC, long nrec, double **OUT)\n{"
    )
    out.append(f"    const double DT = {_lit(program.dt)};")
    out.append("    long err = 0;")
    out.append("    for (long r = r0; r < r1; r++) {")
    out.append("    const double *pr = P + (r - pbase) * pw;")
    out.append("    double *o; long irec = 0;")
    out.append(f"    double *owned[{max(1, len(decl_p))}]; long nown = 0;")
    out.append("    long k = 0; double t = T[0];")
    out.extend(unpack)
    for i in range(0, len(decl_d), 16):
        out.append("    double " + ", ".join(f"u_{x}" for x in decl_d[i : i + 16]) + ";")
    for x in decl_p:
        out.append(f"    double *u_{x};")
    out.extend(tr.lines)
    out.append("    for (long j = 0; j < nown; j++) free(owned[j]);")
    out.append("    if (err) return err;")
    out.append("    }")
    out.append("    return 0;")
    out.append("}")
    return "\n".join(out) + "\n", off


def compiler() -> list[str] | None:
    """The C compiler command: ``$CC``, else cc/gcc/clang on PATH, else ``ziglang``."""
    cc = os.environ.get("CC")
    if cc:
        return shlex.split(cc)
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    try:
        import ziglang  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "ziglang", "cc"]


def build(csrc: str) -> Path:
    """Compile ``csrc`` to a shared library (cached by content); raise NotNative on failure."""
    cc = compiler()
    if cc is None:
        raise NotNative("no C compiler found (set $CC, or install gcc or the ziglang package)")
    key = hashlib.sha256("\0".join([*cc, *CFLAGS, _host(), csrc]).encode()).hexdigest()[:24]
    lib = cache_dir() / "native" / f"urbsim_{key}.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        c = Path(tmp) / "kernel.c"
        c.write_text(csrc)
        so = Path(tmp) / "kernel.so"
        for arch in (NATIVE_ARCH, ()):  # a compiler without -march=native gets a generic build
            proc = subprocess.run(
                [*cc, *CFLAGS, *arch, "-o", str(so), str(c), "-lm"],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0 and so.exists():
                break
        else:
            raise NotNative(f"C compiler failed: {proc.stderr.strip()[-500:]}")
        os.replace(so, lib)  # atomic: concurrent builders never see a partial library
    return lib


def _host() -> str:
    """What ``-march=native`` depends on: the CPU's model and feature flags."""
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        info = []
    keep = [x for x in info if x.startswith(("model name", "flags", "Features"))][:2]
    return "|".join([platform.machine(), platform.processor(), *keep])


class NativeKernel:
    """A compiled ``urbsim_run``; :meth:`run` fills the output arrays in place."""

    def __init__(self, lib: Path, width: int, error_message):
        self._lib = ctypes.CDLL(str(lib))
        f = self._lib.urbsim_run
        f.restype = ctypes.c_long
        f.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_long]
        f.argtypes += [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        f.argtypes += [ctypes.c_long, ctypes.c_void_p]
        self._f = f
        self.width = width
        self._error = error_message

    def run(self, P: np.ndarray, start: int, T: np.ndarray, REC: np.ndarray, outs, threads: int):
        """Simulate runs ``start : start + len(P)`` with the parameter rows ``P``.

        ``outs`` are C-contiguous float64 arrays ``(n, saved times, *dims)``, one per output;
        the runs' rows are written in place. Raises ModelError where the model cannot run.
        """
        m = P.shape[0]
        P = np.ascontiguousarray(P, dtype=np.float64)
        T = np.ascontiguousarray(T, dtype=np.float64)
        REC = np.ascontiguousarray(REC, dtype=np.uint8)
        if not all(o.flags.c_contiguous and o.dtype == np.float64 for o in outs):
            raise ValueError("outputs must be C-contiguous float64 arrays")
        ptrs = (ctypes.c_void_p * max(1, len(outs)))(*[o.ctypes.data for o in outs])
        nrec = int(REC.sum())

        def part(bounds):
            return self._f(
                bounds[0], bounds[1], P.ctypes.data, start, self.width, len(T),
                T.ctypes.data, REC.ctypes.data, nrec, ptrs,
            )  # fmt: skip

        k = max(1, min(threads, m // 64 or 1))
        edges = (start + np.linspace(0, m, k + 1).astype(int)).tolist()
        parts = list(zip(edges[:-1], edges[1:], strict=True))
        if k == 1:
            errs = [part(parts[0])]
        else:
            with ThreadPoolExecutor(k) as pool:
                errs = list(pool.map(part, parts))
        bad = next((e for e in errs if e), 0)
        if bad:
            raise ModelError(self._error(bad - 1))
