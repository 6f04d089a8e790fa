"""``python -m agents.core_build`` (``make compile``): build the compiled core with mypyc.

Compiles the modules of :data:`agents.core.COMPILED` into ``.cache/compiled/<key>/lib`` (the key
hashes their sources, see :mod:`agents.core`), in a scratch folder first and renamed when done,
so a build is either whole or absent. Nothing to do when the build of the current sources is
there; older builds are removed. Needs mypy (the ``test`` extra), a C compiler and Python's
headers; ``--if-possible`` makes their absence a note instead of a failure (exit 0).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from agents.core import COMPILED, GROUP, build_dir, build_key, cache_dir, source_path

# run in a scratch folder (setuptools must not read the project's pyproject.toml); argv: lib, temp, C dir, sources
_SETUP = """
import sys
from setuptools import Distribution
from mypyc.build import mypycify

lib, temp, c_dir, *sources = sys.argv[1:]
options = ["--ignore-missing-imports", "--python-version", "3.11"]
modules = mypycify(options + sources, opt_level="3", group_name={group!r}, target_dir=c_dir, multi_file=True)
dist = Distribution({{"name": "churnwatch-core", "ext_modules": modules}})
dist.script_args = ["build_ext", "--build-lib", lib, "--build-temp", temp, "--parallel", "{jobs}"]
dist.parse_command_line()
dist.run_commands()
"""


def _missing_tools() -> str | None:
    """What the build lacks (mypyc, a C compiler, Python.h), or None."""
    try:
        import mypyc  # noqa: F401
        import setuptools  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (the test extra has mypy, with mypyc, and setuptools)"
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if shutil.which(cc.split()[0]) is None:
        return f"no C compiler ({cc.split()[0]} not found)"
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        return "Python's C headers are missing (Debian: python3-dev)"
    return None


def build(*, force: bool = False, quiet: bool = False) -> Path:
    """Build the compiled core of the current sources (unless there already); its folder."""
    key = build_key()
    out = build_dir(key)
    if (out / "ok").exists() and not force:
        return out
    cache_dir().mkdir(parents=True, exist_ok=True)
    scratch = cache_dir() / f".build-{key}-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    jobs = max(1, min(len(COMPILED), os.cpu_count() or 1))
    setup = _SETUP.format(group=GROUP, jobs=jobs)
    sources = [str(source_path(m)) for m in COMPILED]
    args = [str(scratch / "lib"), str(scratch / "obj"), str(scratch / "c"), *sources]
    log = scratch / "build.log"
    with log.open("w") as fh:
        proc = subprocess.run(
            [sys.executable, "-c", setup, *args], cwd=scratch, stdout=fh, stderr=subprocess.STDOUT, check=False
        )
    if proc.returncode != 0:
        kept = cache_dir() / "failed-build.log"
        shutil.copyfile(log, kept)
        shutil.rmtree(scratch, ignore_errors=True)
        tail = "\n".join(kept.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"mypyc failed (exit {proc.returncode}); log: {kept}\n{tail}")
    for scratch_part in ("obj", "c"):  # objects and C sources: only the linked modules are needed
        shutil.rmtree(scratch / scratch_part, ignore_errors=True)
    # the stamp lists each extension module's size: agents.core loads nothing that differs (a
    # truncated shared library would crash the process on loading, not raise)
    sizes = {str(f.relative_to(scratch / "lib")): f.stat().st_size for f in sorted((scratch / "lib").rglob("*.so"))}
    (scratch / "ok").write_text("".join(f"{name} {size}\n" for name, size in sizes.items()))
    if force:
        shutil.rmtree(out, ignore_errors=True)
    try:
        scratch.rename(out)
    except OSError:  # another build of the same sources finished first: keep that one
        shutil.rmtree(scratch, ignore_errors=True)
        if not (out / "ok").exists():
            raise
    for old in cache_dir().iterdir():  # builds of older sources
        if old != out and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.core_build", description=__doc__.split("\n\n")[0])
    p.add_argument("--force", action="store_true", help="rebuild even when the build is current")
    p.add_argument("--if-possible", action="store_true", help="without mypyc, a compiler or headers: a note, exit 0")
    a = p.parse_args(argv)
    missing = _missing_tools()
    if missing:
        print(f"compile: {missing}; the pure-Python core stays in use", file=sys.stderr)
        return 0 if a.if_possible else 1
    key = build_key()
    if (build_dir(key) / "ok").exists() and not a.force:
        print(f"compile: the compiled core is current ({build_dir(key)})", file=sys.stderr)
        return 0
    print(f"compile: mypyc on {len(COMPILED)} modules of rules/ and streams/ ...", file=sys.stderr)
    t0 = time.monotonic()
    try:
        out = build(force=a.force)
    except RuntimeError as exc:
        print(f"compile: {exc}", file=sys.stderr)
        return 1
    print(f"compile: built {out} in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
