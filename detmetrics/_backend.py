"""Backend selection: the numba probe, ``resolve_backend`` and the ``kernel`` decorator.

Every primitive in detmetrics exists twice: a NumPy reference and a Numba
kernel. This module is the one place that knows about numba.

* ``kernel`` is ``numba.njit(cache=True, nogil=True)``: nopython mode, cached
  on disk, releases the GIL.  numba itself is imported only when a kernel is
  first needed: until then ``kernel`` returns a ``LazyKernel`` placeholder,
  and the first kernel call (or ``load_numba()``) imports numba, builds every
  pending dispatcher and puts them in place of the placeholders in the
  detmetrics modules' globals (so kernels calling kernels see dispatchers).
  Compilation stays lazy (first call per signature), and cached on disk.
  Without numba the kernels are plain Python functions (still correct, only
  slow); they are never dispatched to in that case.
* ``resolve_backend("numba")`` is ``"numba"`` (``ImportError`` without numba);
  ``"numpy"`` is ``"numpy"``.
* ``resolve_backend("auto", work=n, kernels=(...))`` picks by cost: the
  NumPy reference answers while the kernels are not loaded in this process
  yet and the work is small (importing numba alone costs ~0.2 s and a cold
  compile seconds, more than the reference spends on a small input); the
  kernel answers once it is loaded, or when ``work`` (summed over the calls
  of that site in this process) reaches ``AUTO_WORK`` -- or, for the
  evaluation's call sites (fast whole-array references, kernels that take
  seconds to compile) when the kernels are not in numba's on-disk cache
  either (``kernels_cached``), only from ``COLD_WORK`` on.  Both give
  identical results (tested), so the choice is about time only.  Without ``work``,
  ``"auto"`` is ``"numba"`` whenever numba is available.  Without numba,
  ``"auto"`` is ``"numpy"`` with a single warning.
"""

from __future__ import annotations

import builtins
import importlib.util
import os
import sys
import warnings

__all__ = ["HAVE_NUMBA", "BACKENDS", "AUTO_WORK", "LazyKernel", "kernel", "parallel_kernel", "resolve_backend",
           "defer_backend", "load_numba", "numba_loaded", "kernels_ready", "prange", "all_kernels",
           "set_compile_notice", "COLD_WORK", "LOAD_WORK", "kernels_cached", "prefetch"]

BACKENDS = ("auto", "numba", "numpy")

#: The work (in the units of each call site, see ``resolve_backend``) from which ``backend="auto"``
#: loads numba for a kernel that is not loaded yet.  Call sites scale their work so that one unit
#: is about 1 microsecond of the NumPy reference: the reference then answers for at most ~0.1 s in
#: a process before numba (import ~0.2 s, cache load ~10-30 ms per kernel, cold compile 0.1-1 s)
#: takes over.
AUTO_WORK = 100_000

#: The work from which ``backend="auto"`` compiles kernels that are neither loaded nor in numba's
#: on-disk cache: a cold compile of the evaluation kernels costs ~4.5 s (measured with
#: ``benchmarks/bench_startup.py --compile``), so the NumPy reference answers up to about 3 s of
#: its own work instead (COCO scale, 5000 images / 400k detections, is ~0.5 s of the vectorised
#: evaluation references).  Work keeps adding up per call site, so a long-running process that
#: keeps evaluating compiles once it has spent that much.
COLD_WORK = 3_000_000

#: For the same call sites, with the kernels cached but numba not imported yet: the work from which
#: importing numba (~0.25 s, paid once for every later stage) and loading the kernels (~20 ms each)
#: pays.  Measured with ``bench_startup.py --coco-scale`` (5000 images / 400k results: ~0.4 s of
#: reference work in the results scan, ~0.27 s in matching and in accumulation), fresh processes
#: with a warm cache: all stages on the references 0.95 s, all on the kernels 0.92 s, but numba
#: imported by the matching stage alone (the scan on its reference) 1.18 s.  So a COCO-scale
#: process stays on NumPy; twice that imports numba.
LOAD_WORK = 400_000


def _probe() -> tuple[bool, object]:
    try:
        found = importlib.util.find_spec("numba") is not None
    except Exception as exc:  # pragma: no cover - a finder that refuses numba
        return False, exc
    return found, None if found else ImportError("No module named 'numba'")


HAVE_NUMBA, _NUMBA_ERROR = _probe()
_numba = None
_warned_no_numba = False
_pending: list = []      # LazyKernel objects waiting for numba
_spent: dict = {}        # call-site key -> work answered by the NumPy reference so far


class LazyKernel:
    """A ``@kernel`` function before numba is imported: calling it imports numba and compiles.

    Attribute access (``signatures``, ``py_func``, ...) is forwarded to the
    numba dispatcher (importing numba on first use).
    """

    def __init__(self, func, options: dict):
        self.py_func = func
        self.options = options
        self.dispatcher_ = None
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__module__ = func.__module__
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    @property
    def dispatcher(self):
        if self.dispatcher_ is None:
            load_numba(required=True)
        return self.dispatcher_

    def __call__(self, *args):
        return self.dispatcher(*args)

    def __getattr__(self, name):
        return getattr(self.dispatcher, name)

    def __repr__(self) -> str:
        return f"<detmetrics kernel {self.__module__}.{self.__qualname__} (numba not loaded)>"


def _build(func, options: dict):
    assert _numba is not None
    return _numba.njit(**options)(func)


def kernel(func):
    """Compile ``func`` with ``numba.njit(cache=True, nogil=True)`` (lazy: numba is imported on first call)."""
    return _decorate(func, {"cache": True, "nogil": True})


def parallel_kernel(func):
    """Like ``kernel`` with ``parallel=True``, for independent outer loops (``prange``)."""
    return _decorate(func, {"cache": True, "nogil": True, "parallel": True})


def intrinsic(func):
    """``numba.extending.intrinsic(func)`` once numba is loaded (for kernels that call C functions).

    Until then ``func`` stays a placeholder (``LazyIntrinsic``) that only numba may call; its
    body imports ``llvmlite`` / ``numba.types`` itself, so defining one costs nothing at import.
    """
    if not HAVE_NUMBA:
        return func
    if _numba is not None:
        from numba.extending import intrinsic as build

        return build(func)
    lazy = LazyIntrinsic(func)
    _pending.append(lazy)
    return lazy


def prefetch(array, index) -> None:
    """Hint that ``array``'s element ``index`` (flat, C order) will be read soon; nothing else.

    Compiled (numba): LLVM's ``llvm.prefetch`` of that address, which starts the cache miss
    without waiting for it, so a loop that reads rows in a random order (a gather through a
    permutation) can have the next rows on their way while it works on this one.  In Python
    (the NumPy references' world, ``NUMBA_DISABLE_JIT``): does nothing.  It changes no result;
    callers only pass indices inside the array.
    """
    return None


def _register_prefetch() -> None:
    """The compiled ``prefetch``: an overload (so Python keeps calling the no-op) over an intrinsic."""
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic as build_intrinsic
    from numba.extending import overload

    @build_intrinsic
    def _prefetch_address(typingctx, array, index):
        def codegen(context, builder, sig, args):
            data = context.make_array(sig.args[0])(context, builder, args[0]).data
            byte_ptr = ir.IntType(8).as_pointer()
            at = builder.bitcast(builder.gep(data, [args[1]]), byte_ptr)
            i32 = ir.IntType(32)
            fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr],
                                                  ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]))
            # read (0), keep in every cache level (3), data cache (1)
            builder.call(fn, [at, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()
        return types.none(array, types.int64), codegen

    @overload(prefetch, jit_options={"nogil": True})  # compiled into (and cached with) each caller
    def _prefetch_overload(array, index):
        def impl(array, index):
            _prefetch_address(array, index)
        return impl


class LazyIntrinsic:
    """An ``@intrinsic`` before numba is imported; ``load_numba`` puts the real one in its module."""

    def __init__(self, func):
        self.definition = func  # not ``py_func``: an intrinsic is not a kernel (``all_kernels``)
        self.dispatcher_ = None
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__module__ = func.__module__
        self.__doc__ = func.__doc__

    def __call__(self, *args):
        raise TypeError(f"{self.__qualname__} is a numba intrinsic: only a compiled kernel can call it")


def _decorate(func, options: dict):
    if not HAVE_NUMBA:
        return func
    if _numba is not None:
        return _build(func, options)
    lazy = LazyKernel(func, options)
    _pending.append(lazy)
    return lazy


#: ``range`` until numba is loaded, then swapped for ``numba.prange`` in the modules that imported it.
prange = range


def load_numba(*, required: bool = False) -> bool:
    """Import numba and turn every pending ``LazyKernel`` into a numba dispatcher.

    Returns whether numba is usable.  With ``required=True`` a missing or
    broken numba raises ``ImportError`` instead.
    """
    global _numba, HAVE_NUMBA, _NUMBA_ERROR, prange
    if _numba is None and HAVE_NUMBA:
        try:
            import numba
        except Exception as exc:  # pragma: no cover - numba installed but broken
            HAVE_NUMBA, _NUMBA_ERROR = False, exc
            for lazy in _pending:
                lazy.dispatcher_ = getattr(lazy, "py_func", lazy)  # an intrinsic stays a placeholder
        else:
            _numba = numba
            prange = numba.prange
            _listen_for_compiles(numba)
            from numba.extending import intrinsic as build_intrinsic

            _register_prefetch()
            for lazy in _pending:
                if isinstance(lazy, LazyIntrinsic):
                    lazy.dispatcher_ = build_intrinsic(lazy.definition)
                else:
                    lazy.dispatcher_ = _build(lazy.py_func, lazy.options)
            _patch_globals()
        _pending.clear()
    if required and _numba is None:
        raise ImportError(
            f"backend='numba' was requested but numba cannot be imported ({_NUMBA_ERROR!r}); "
            "install numba or use backend='numpy'"
        )
    return _numba is not None


_compile_notice = None


def set_compile_notice(callback) -> None:
    """Call ``callback()`` once, just before the first kernel compilation (a cache miss) in this process.

    The command line uses it to print a one-line notice instead of a silent
    wait.  ``None`` removes it.
    """
    global _compile_notice
    _compile_notice = callback


def _listen_for_compiles(numba) -> None:
    try:
        from numba.core import event
    except Exception:  # pragma: no cover - an old numba without the event API: no notice
        return

    class _Notice(event.Listener):
        def on_start(self, ev):
            global _compile_notice
            callback, _compile_notice = _compile_notice, None
            if callback is not None:
                callback()

        def on_end(self, ev):
            pass

    event.register("numba:compile", _Notice())


def _patch_globals() -> None:
    # numba resolves the functions a kernel calls in the kernel's module globals at compile time:
    # put the dispatchers there in place of the placeholders (and numba.prange in place of range).
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "detmetrics" or name.startswith("detmetrics.")):
            continue
        namespace = vars(module)
        for key, value in list(namespace.items()):
            if isinstance(value, (LazyKernel, LazyIntrinsic)):
                namespace[key] = value.dispatcher_
            elif key == "prange" and value is builtins.range and name != __name__:
                namespace[key] = prange


def numba_loaded() -> bool:
    """Whether numba has been imported (by detmetrics) in this process."""
    return _numba is not None


def kernels_ready(kernels) -> bool:
    """Whether every kernel in ``kernels`` is loaded in this process (compiled or read from the cache)."""
    if not kernels or _numba is None:
        return False
    for k in kernels:
        if isinstance(k, LazyKernel):
            k = k.dispatcher_
        if k is None:
            return False
        signatures = getattr(k, "signatures", None)
        if signatures is not None and not signatures:  # a dispatcher that has not compiled anything yet
            return False
    return True


_source_hashes: dict = {}


def _numba_version():
    # numba's version without importing numba (importlib.metadata alone costs ~40 ms)
    import re

    try:
        spec = importlib.util.find_spec("numba")
        folder = os.path.dirname(spec.origin) if spec is not None and spec.origin else None
        with open(os.path.join(str(folder), "_version.py"), encoding="utf-8") as f:
            found = re.search(r'"version":\s*"([^"]+)"', f.read())
    except (OSError, TypeError, ValueError):
        return None
    return found.group(1) if found else None


def _cache_dir(source: str) -> str:
    """The directory numba's cache locators pick for functions of ``source`` (the first that applies)."""
    import hashlib

    folder = os.path.dirname(os.path.abspath(source))
    subpath = "_".join([os.path.basename(folder), hashlib.sha1(folder.encode()).hexdigest()])
    configured = _numba.config.CACHE_DIR if _numba is not None else os.environ.get("NUMBA_CACHE_DIR", "")
    if configured:
        return os.path.join(configured, subpath)
    in_tree = os.path.join(folder, "__pycache__")
    usable = os.access(in_tree, os.W_OK) if os.path.isdir(in_tree) else (
        not os.path.exists(in_tree) and os.access(folder, os.W_OK))
    if usable:  # numba's in-tree locator: it can create (or write into) the source's __pycache__
        return in_tree
    # numba's user-wide fallback (appdirs' user_cache_dir("numba")) for read-only package folders
    if sys.platform == "darwin":
        user = os.path.expanduser("~/Library/Caches")
    elif sys.platform == "win32":
        user = os.path.join(os.environ.get("LOCALAPPDATA", os.path.expanduser("~")), "numba", "Cache")
        return os.path.join(user, subpath)
    else:
        user = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(user, "numba", subpath)


def _index_is_fresh(path: str, source: str) -> bool:
    import hashlib
    import pickle

    try:
        with open(path, "rb") as f:
            version = pickle.load(f)  # the index starts with numba's version string
            rest = f.read()
        if source not in _source_hashes:
            with open(source, "rb") as f:
                _source_hashes[source] = hashlib.sha256(f.read()).digest()
    except Exception:  # a missing, truncated or foreign file: not cached
        return False
    current = _numba_version()
    if current is not None and version != current:
        return False
    return _source_hashes[source] in rest  # the index records the source's sha256 (numba >= 0.61)


def kernels_cached(kernels) -> bool:
    """Whether every kernel in ``kernels`` has a fresh entry in numba's on-disk cache.

    Read without importing numba: the index file numba would look up
    (``<module>.<function>-<line>.pyXY.nbi`` in ``NUMBA_CACHE_DIR``, the
    source's ``__pycache__`` when writable, else the user-wide cache
    directory) exists, was written by this numba version and records the
    current source's hash.  Whether it holds the very signature a call needs
    is not checked (validation normalises the dtypes, so it does).
    """
    if not kernels or not HAVE_NUMBA:
        return False
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}{getattr(sys, 'abiflags', '')}.nbi"
    for k in kernels:
        func = getattr(k, "py_func", k)
        code = getattr(func, "__code__", None)
        if code is None:
            return False
        source = code.co_filename
        module = os.path.splitext(os.path.basename(source))[0]
        name = f"{module}.{func.__qualname__}".replace("<", "").replace(">", "")
        index = f"{name}-{code.co_firstlineno}.{tag}"
        if not _index_is_fresh(os.path.join(_cache_dir(source), index), source):
            return False
    return True


def all_kernels() -> list:
    """Every ``@kernel`` of the package (importing its modules), as ``(module:name, kernel)`` pairs."""
    import importlib

    found = []
    root = os.path.dirname(os.path.abspath(__file__))
    files = [("", name) for name in sorted(os.listdir(root))]
    files += [("io.", name) for name in sorted(os.listdir(os.path.join(root, "io")))]  # the JSON scan kernels
    for prefix, filename in files:
        if not filename.endswith(".py") or filename.startswith("__"):
            continue
        with open(os.path.join(root, prefix.replace(".", os.sep), filename), encoding="utf-8") as f:
            source = f.read()
        if "@kernel" not in source and "@parallel_kernel" not in source:
            continue
        module = importlib.import_module(f"{__package__}.{prefix}{filename[:-3]}")
        for key, value in sorted(vars(module).items()):
            py_func = getattr(value, "py_func", None)
            if py_func is not None and getattr(py_func, "__module__", None) == module.__name__:
                found.append((f"{module.__name__}:{key}", value))
    return found


def _no_numba_warning() -> None:
    global _warned_no_numba
    if not _warned_no_numba:
        warnings.warn(
            "numba is not importable; detmetrics falls back to its NumPy reference "
            "implementations (correct but slower)",
            RuntimeWarning,
            stacklevel=4,
        )
        _warned_no_numba = True


def _check(backend) -> None:
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of 'auto', 'numba', 'numpy'; got {backend!r}")


def defer_backend(backend) -> str:
    """Validate ``backend`` for a pipeline whose stages resolve it later with their own work.

    Returns ``"numpy"``, ``"numba"`` (numba imported; ``ImportError`` without
    it) or ``"auto"`` (numba available, each stage picks by its work with
    ``resolve_backend``).
    """
    _check(backend)
    if backend == "numba":
        load_numba(required=True)
        return "numba"
    if backend == "auto" and not HAVE_NUMBA:
        _no_numba_warning()
        return "numpy"
    return backend


def resolve_backend(backend, work=None, kernels=(), site=None, cold_work=None) -> str:
    """Return ``"numba"`` or ``"numpy"`` for a user's ``backend=`` argument.

    Parameters
    ----------
    backend : {"auto", "numba", "numpy"}
    work : int, optional
        The size of this call in the call site's units (about a microsecond of
        the NumPy reference each, see ``AUTO_WORK``).  Without it ``"auto"``
        is ``"numba"`` whenever numba is available.  Below ``AUTO_WORK`` (summed
        per site) the reference answers; below ``cold_work`` too when a kernel
        is not in numba's on-disk cache (``kernels_cached``).
    kernels : tuple
        The kernels this call would run: when all are already loaded in this
        process, ``"auto"`` takes them whatever the size.
    site : hashable, optional
        Key under which the reference's work is summed across calls (default:
        the first kernel): a process that keeps calling with small inputs
        moves to numba once the sum reaches ``AUTO_WORK``.
    cold_work : int, optional
        For call sites whose reference is fast where compiling their kernels
        is slow (the evaluation's, ``COLD_WORK``): while a kernel is not in
        numba's on-disk cache (``kernels_cached``) the reference answers up to
        this much summed work instead of ``AUTO_WORK``, and while numba is
        not imported yet up to ``LOAD_WORK`` (cached kernels).  Without it a
        cold kernel is compiled from ``AUTO_WORK`` on, as a cached one is
        loaded.

    Raises
    ------
    ValueError
        ``backend`` is not one of ``"auto"``, ``"numba"``, ``"numpy"``.
    ImportError
        ``backend="numba"`` but numba cannot be imported.
    """
    _check(backend)
    if backend == "numpy":
        return "numpy"
    if backend == "numba":
        load_numba(required=True)
        return "numba"
    if not HAVE_NUMBA:
        _no_numba_warning()
        return "numpy"
    if work is None or kernels_ready(kernels):
        return "numba" if load_numba() else _fallback()
    key = site if site is not None else (kernels[0] if kernels else None)
    key = getattr(key, "py_func", key)
    total = _spent.get(key, 0) + int(work)
    limit = AUTO_WORK
    if cold_work is not None and kernels:
        if not kernels_cached(kernels):
            limit = max(limit, cold_work)          # a compile would cost more than the reference
        elif _numba is None:
            limit = max(limit, LOAD_WORK)          # so would importing numba, for a small evaluation
    if total < limit:
        _spent[key] = total
        return "numpy"
    return "numba" if load_numba() else _fallback()


def _fallback() -> str:  # pragma: no cover - numba found but failed to import
    _no_numba_warning()
    return "numpy"
