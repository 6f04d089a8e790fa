"""Which build of the pure core runs: the Python sources, or their mypyc-compiled twin.

The engine (``rules/``) and the parser (``streams/parse.py``) are plain typed Python. ``make
compile`` (``python -m agents.core_build``) compiles the modules of :data:`COMPILED` with mypyc
into ``.cache/compiled/<key>/``, where the key hashes their sources and the Python version, so a
build is never used for other sources than its own. The sources' folders hold no extension
modules: a plain ``import rules.engine`` (the tests, the library) always runs the Python code.

The ``churnwatch`` console script calls :func:`select_core` before it imports any of them;
``CHURNWATCH_CORE`` chooses:

- ``auto`` (default): the compiled core when a build of these very sources is there, else the
  Python one (a build of other sources, or one that does not load, is said in one warning line);
- ``compiled``: the compiled core; without a usable build, a warning line and the Python core;
- ``pure``: the Python core.

Both give byte-identical output (``tests/unit/test_compiled_core.py`` replays a sample through
each in a subprocess and compares the alerts, dead letters and summary).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
# the modules compiled, in dependency order (what an event goes through: parse, apply, evaluate, alert);
# rules.signals (the per-signal reference) and rules.model (the buying model's float maths) stay Python
COMPILED: tuple[str, ...] = (
    "streams.timefmt",
    "streams.errors",
    "streams.events",
    "streams.parse",
    "rules.windows",
    "rules.records",
    "rules.codec_json",
    "rules.codec",
    "rules.codec_decode",
    "rules.memo",
    "rules.packed_lists",
    "rules.state",
    "rules.apply",
    "rules.scoring",
    "rules.frame_parts",
    "rules.frame",
    "rules.history",
    "rules.pack.model",
    "rules.pack.native",
    "rules.pack.compiled",
    "rules.alerts",
    "rules.acknowledgement",
    "rules.aggregates",
    "rules.due_index",
    "rules.due",
    "rules.quiet",
    "rules.engine_reads",
    "rules.engine_recovery",
    "rules.engine_store",
    "rules.engine",
)
GROUP = "churnwatch_core"  # mypyc's shared library: churnwatch_core__mypyc
BUILD_FORMAT = "2"  # bump when the build's layout, stamp or options change
MODES = ("auto", "compiled", "pure")


def cache_dir() -> Path:
    return Path(os.environ.get("CHURNWATCH_CACHE_DIR") or ROOT / ".cache") / "compiled"


def source_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def build_key(modules: Sequence[str] = COMPILED) -> str:
    """The hash of the compiled modules' sources, the interpreter (its ABI, version and build: a
    build made against one interpreter's headers is never loaded by another) and the build format."""
    interpreter = f"{sys.implementation.cache_tag} {sys.version}"
    digest = hashlib.sha256(f"{BUILD_FORMAT} {interpreter} {','.join(modules)}".encode())
    for module in modules:
        digest.update(source_path(module).read_bytes())
    return digest.hexdigest()[:16]


def build_dir(key: str | None = None) -> Path:
    return cache_dir() / (key or build_key())


def _extension(lib: Path, module: str) -> Path | None:
    """The extension module file of ``module`` in a build's ``lib`` folder."""
    *parents, name = module.split(".")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = lib.joinpath(*parents, name + suffix)
        if candidate.exists():
            return candidate
    return None


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules (and mypyc's shared library) in one build, nothing else."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


def _try_compiled() -> str | None:
    """Load the compiled core; None when it runs, else why not (one line)."""
    cached = cache_dir()
    lib = build_dir() / "lib"
    if not (lib.parent / "ok").exists():
        others = [p.name for p in cached.glob("*/ok")] if cached.is_dir() else []
        if others:
            return "the compiled core was built from other sources (run make compile)"
        return "no compiled core is built (make compile)"
    loaded = [m for m in COMPILED if m in sys.modules]
    if loaded:
        return f"{loaded[0]} was imported before the core was chosen"
    files = {m: _extension(lib, m) for m in (*COMPILED, GROUP + "__mypyc")}
    missing = [m for m, f in files.items() if f is None]
    if missing:
        return f"the compiled core in {lib.parent} lacks {missing[0]}"
    for line in (lib.parent / "ok").read_text().splitlines():  # "path size" of each module built
        name, _, size = line.rpartition(" ")
        if not (lib / name).is_file() or str((lib / name).stat().st_size) != size:
            return f"the compiled core in {lib.parent} is damaged ({name}; run make compile)"
    finder = _CompiledFinder({m: f for m, f in files.items() if f is not None})
    sys.meta_path.insert(0, finder)
    try:  # the shared library holds all the compiled code: if it loads, the modules do
        importlib.import_module(GROUP + "__mypyc")
    except Exception as exc:  # a broken build must not stop the command: back to the sources
        sys.meta_path.remove(finder)
        return f"the compiled core does not load ({type(exc).__name__}: {exc})"
    return None


def select_core(mode: str | None = None) -> str:
    """Choose the core (``CHURNWATCH_CORE`` unless ``mode`` is given) before anything imports it;
    returns what runs, "compiled" or "pure". A wanted compiled core that cannot run is one
    warning line on stderr; ``auto`` without any build says nothing."""
    wanted = (mode or os.environ.get("CHURNWATCH_CORE") or "auto").strip().lower()
    if wanted not in MODES:
        sys.stderr.write(f"churnwatch: warning: CHURNWATCH_CORE={wanted!r} is not one of {', '.join(MODES)}; auto\n")
        wanted = "auto"
    if wanted == "pure":
        return "pure"
    problem = _try_compiled()
    if problem is None:
        return "compiled"
    if wanted == "compiled" or not problem.startswith("no compiled core"):
        sys.stderr.write(f"churnwatch: warning: {problem}; running the pure-Python core\n")
    return "pure"


def active() -> str:
    """The core this process runs: "compiled" when the engine module loaded is the compiled one."""
    engine = sys.modules.get("rules.engine")
    return "compiled" if engine is not None and is_compiled(engine) else "pure"


def is_compiled(module: ModuleType) -> bool:
    """Whether a module object is an extension (compiled) module."""
    return (getattr(module, "__file__", None) or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def main() -> None:
    """Entry point of the ``churnwatch`` console script: the core first, then the commands."""
    select_core()
    from agents.cli_main import main as cli_main

    cli_main()
