"""Writing diagrams: format from the suffix, Graphviz with a time limit, atomic files.

Every file is written to a temporary name in the target folder and moved into
place, so a failed or interrupted render never leaves a half-written output.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import graphviz

from ..errors import RenderError, option, warn_user
from ..record import gcpause
from .dot import dot_text
from .drawing import Drawing, make_drawing
from .fast import dot_text as pinned_dot_text
from .fast import write_svg
from .options import FORMAT_NAMES, FORMATS

DEFAULT_TIMEOUT = 120.0
FAST = option("layout='fast'", "--layout fast")        # advice, in the caller's spelling
COLLAPSE = option("collapse=True", "--collapse-all")
DOT = option("layout='dot'", "--layout dot")
AUTO = option("layout='auto'", "--layout auto")
AUTO_BUDGET = 10.0    # layout="auto" gives dot this long, then draws with the fast layout
INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: "
                "brew install graphviz; conda: conda install graphviz) so that `dot` is on PATH")


class GraphvizTimeout(RenderError):
    """Graphviz did not finish within its time limit."""


class GraphvizMissing(RenderError):
    """Graphviz's programs are not installed (not on PATH)."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder."""
    path = Path(path)
    if not path.parent.exists():
        raise RenderError(f"cannot write {path}: folder {path.parent} does not exist")
    _streamed(path, lambda f: f.write(data), "wb")


def write_streamed(path: Path, produce) -> None:
    """Like ``write_atomic``, for text that ``produce(write)`` hands over in pieces."""
    path = Path(path)
    if not path.parent.exists():
        raise RenderError(f"cannot write {path}: folder {path.parent} does not exist")
    _streamed(path, lambda f: produce(f.write), "w")


def _streamed(path: Path, fill, mode: str) -> None:
    """Write through a temporary file in the same folder, then rename; file-system errors
    come back as a RenderError naming the file (not as the user's model failing)."""
    with _stopping_cleanly():
        _write_via_temporary(path, fill, mode)


def _write_via_temporary(path: Path, fill, mode: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise RenderError(f"cannot write {path}: {e.strerror}") from None
    try:
        f = os.fdopen(fd, mode) if "b" in mode else \
            os.fdopen(fd, mode, encoding="utf-8", newline="\n")
        with f:
            fill(f)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise RenderError(f"cannot write {path}: {e.strerror or e}") from None
        raise


@contextmanager
def _stopping_cleanly():
    """SIGTERM or SIGHUP while a file is written ends the process through Python's own
    exit (SystemExit), so the temporary file is removed rather than left hidden beside
    the output.  (Signal handlers can only be set from the main thread.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:   # (an ignored or handled one: as is)
            previous[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _mode_for(path: Path) -> int:
    """An overwritten file keeps its mode; a new one gets the umask's (the temporary file
    mkstemp made is 0600)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def format_for(path: Path, format: str | None) -> str:
    if format is not None:
        if not isinstance(format, str):
            raise RenderError(f"format must be a string such as 'svg', not {format!r}")
        fmt = format.lower().lstrip(".")
        if fmt == "gv":
            fmt = "dot"
        if fmt not in FORMAT_NAMES:
            raise RenderError(f"unknown format '{format}'; choose one of "
                              f"{', '.join(FORMAT_NAMES)}")
        return fmt
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise RenderError(f"cannot tell the format of '{path}' from its suffix; use one of "
                          f"{', '.join(sorted(FORMATS))} or pass {option('format=', '--format')}")
    return found


def graphviz_program(engine: str, needs: str = "this",
                     instead: str = "write .svg, .html or .dot, which gradtrace makes without "
                                    "it") -> str:
    """The path of Graphviz's ``engine``; if it is absent, a GraphvizMissing saying what
    ``needs`` it, how to install it, and what to do ``instead``."""
    exe = shutil.which(engine)
    if exe is None:
        raise GraphvizMissing(f"{needs} needs Graphviz's `{engine}` program, which was not "
                              f"found on PATH; {INSTALL_HINT}; or {instead}")
    return exe


def has_dot() -> bool:
    return shutil.which("dot") is not None


def memory_limit_mb() -> int:
    """Graphviz's memory cap: $GRADTRACE_GRAPHVIZ_MEMORY_MB, else half of physical memory."""
    env = os.environ.get("GRADTRACE_GRAPHVIZ_MEMORY_MB")
    if env:
        try:
            return max(int(env), 16)
        except ValueError:
            raise RenderError(f"GRADTRACE_GRAPHVIZ_MEMORY_MB must be a whole number of MiB, "
                              f"not {env!r}") from None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8192
    return max(total // 2**21, 256)


def _limited(memory_mb: int):
    """Run in the Graphviz child before exec: cap its address space, and have the kernel
    kill it when gradtrace dies (so no dot outlives a killed gradtrace)."""
    def setup():
        try:
            import resource
            cap = memory_mb * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        except (ImportError, ValueError, OSError):
            pass
        try:
            import ctypes
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)       # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    return setup


def no_limit(timeout) -> float | None:
    """A timeout of 0, inf or None means no time limit."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise RenderError(f"timeout must be a number of seconds (0 or inf for no limit), not "
                          f"{timeout!r}")
    if timeout is None or timeout == 0 or math.isinf(timeout):
        return None
    if timeout < 0 or math.isnan(timeout):
        raise RenderError(f"timeout must be a number of seconds (0 or inf for no limit), not "
                          f"{timeout}")
    return float(timeout)


def run_graphviz(text: str, fmt: str, timeout: float | None = DEFAULT_TIMEOUT,
                 memory_mb: int | None = None, pinned: bool = False,
                 purpose: str = "") -> bytes:
    """Lay out and draw the DOT ``text`` (``pinned``: positions are given, so ``neato -n2``
    only draws), in a child capped at ``memory_mb`` MiB that cannot outlive gradtrace;
    ``purpose``: the output format a missing Graphviz is named for."""
    if fmt not in graphviz.FORMATS:
        raise RenderError(f"Graphviz cannot write format '{fmt}'")
    limit = no_limit(timeout)
    memory_mb = memory_mb or memory_limit_mb()
    needs = f"writing {(purpose or fmt).upper()}"
    cmd = [graphviz_program("neato", needs), "-n2"] if pinned else \
        [graphviz_program("dot", needs)]
    cmd.append(f"-T{fmt}")
    nodes = max(text.count("label=<") - text.count("->"), 0)
    # its own process group: a `dot` that is a wrapper script dies with its children
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, preexec_fn=_limited(memory_mb),
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(text.encode("utf-8"), timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise GraphvizTimeout(
                f"Graphviz ran past the {limit:g} s time limit laying out about {nodes} "
                f"nodes; collapse scopes ({COLLAPSE}), use the fast layout ({FAST}), "
                f"or allow more time ({option('timeout=...', '--timeout SECONDS')}, 0 for no "
                "limit)") from None
    if proc.returncode == 0 and _drawing(fmt, out):
        pass_on_warnings(err.decode("utf-8", "replace"))
        return out
    if proc.returncode == 0:
        raise RenderError(f"Graphviz ({Path(cmd[0]).name}) exited successfully but wrote "
                          f"{'nothing' if not out.strip() else 'no ' + fmt.upper() + ' drawing'}"
                          f" ({len(out)} bytes); check the Graphviz install (`dot -V`) or use "
                          f"the fast layout ({FAST})")
    raise RenderError(_failure(Path(cmd[0]).name, proc.returncode,
                               err.decode("utf-8", "replace"), memory_mb, nodes))


_MAGIC = {"svg": b"<svg", "png": b"\x89PNG", "pdf": b"%PDF", "gif": b"GIF8"}


def _drawing(fmt: str, out: bytes) -> bool:
    """Whether Graphviz's output is a drawing of the format asked for (not empty, not an
    error page a wrapper printed)."""
    magic = _MAGIC.get(fmt)
    if magic is None:
        return bool(out.strip())
    return out.startswith(magic) if fmt != "svg" else magic in out[:4096]


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _failure(program: str, code: int, stderr: str, memory_mb: int, nodes: int) -> str:
    """One line that says what happened to Graphviz, and what to do instead."""
    advice = f"use the fast layout ({FAST}), which gradtrace draws itself, or fold scopes " \
        f"({COLLAPSE})"
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = " ".join(lines).lower()
    if "longer than" in text or "too long" in text:
        return (f"Graphviz refused a label longer than its 16 KB limit ({lines[0]}); "
                f"{advice}")
    if "memory" in text or "bad_alloc" in text or code in (-signal.SIGKILL, -signal.SIGABRT):
        return (f"Graphviz ({program}) ran out of the memory it may use ({memory_mb} MiB, "
                f"set with GRADTRACE_GRAPHVIZ_MEMORY_MB) laying out about {nodes} nodes; "
                f"{advice}")
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"Graphviz ({program}) crashed ({name}) on about {nodes} nodes; {advice}"
    return f"Graphviz failed ({program}): {lines[0] if lines else 'exit status ' + str(code)}"


_SCALED = re.compile(r"[Ss]caling by ([0-9.]+)")


def pass_on_warnings(stderr: str) -> None:
    """Graphviz's warnings reach the user as GradtraceWarnings (a shrunk PNG above all)."""
    seen: set[str] = set()
    for line in stderr.splitlines():
        line = line.strip()
        if not line or line in seen or len(seen) >= 5:
            continue
        seen.add(line)
        scaled = _SCALED.search(line)
        if scaled:
            pct = float(scaled.group(1)) * 100
            warn_user(f"Graphviz shrank the bitmap to {pct:.0f}% of its size to fit its "
                      "limits, so its text may be unreadable; render SVG or PDF instead, or "
                      "fold scopes (--collapse-all)")
        else:
            warn_user(f"Graphviz: {line}")


def write_drawing(drawing: Drawing, path: Path, fmt: str,
                  timeout: float | None = None) -> Path:
    """Write ``drawing`` to ``path`` as svg, png, pdf or dot; returns the path written."""
    if fmt == "dot":
        write_atomic(path, dot_text(drawing).encode("utf-8"))
        return path
    data = None if fmt == "svg" and draws_own_svg(drawing) else _drawn(drawing, fmt, timeout)
    if data is None:     # gradtrace draws the SVG (its own choice, no dot, or dot too slow)
        with gcpause.paused():     # millions of small objects, none of them cyclic garbage
            write_streamed(path, lambda write: write_svg(drawing.scene, write))
        return path
    write_atomic(path, data)
    return path


def draws_own_svg(drawing: Drawing) -> bool:
    """gradtrace writes this SVG itself: the fast layout was chosen, or Graphviz's ``dot``
    is not installed (said in a one-line note; layout='dot' insists on it)."""
    if drawing.fast:
        return True
    if has_dot():
        return False
    if drawing.options.layout == "dot":
        graphviz_program("dot", DOT, f"use {AUTO}, which draws with gradtrace's own layout "
                         "when Graphviz is missing")
    warn_user("Graphviz is not installed, so gradtrace drew this with its own layout; for "
              f"dot's layout, {INSTALL_HINT}")
    return True


def _drawn(drawing: Drawing, fmt: str, timeout) -> bytes | None:
    """Graphviz's drawing in ``fmt``.  With layout='auto' and no explicit timeout, dot
    gets ``AUTO_BUDGET`` seconds and past that the fast layout draws it instead (said in
    one warning; None for SVG, which gradtrace then writes itself); an explicit timeout
    (0 or inf: none) always wins."""
    text = dot_text(drawing)
    if drawing.options.layout != "auto" or drawing.fast or timeout is not None:
        return run_graphviz(text, fmt, DEFAULT_TIMEOUT if timeout is None else timeout,
                            pinned=drawing.fast)
    try:
        return run_graphviz(text, fmt, AUTO_BUDGET)
    except GraphvizTimeout:
        warn_user(f"Graphviz dot did not lay this graph out within {AUTO_BUDGET:g} s, so it "
                  "was drawn with gradtrace's fast layout (every label kept); pass "
                  f"{DOT} with a longer "
                  f"{option('timeout', '--timeout')} to insist on dot")
    if fmt == "svg":
        return None
    return run_graphviz(pinned_dot_text(drawing.scene), fmt, DEFAULT_TIMEOUT, pinned=True)


def svg_of(drawing: Drawing, timeout: float | None = None) -> str:
    """The drawing as SVG text (the page, Jupyter, tests)."""
    if not draws_own_svg(drawing):
        data = _drawn(drawing, "svg", timeout)
        if data is not None:
            return data.decode("utf-8")
    parts: list[str] = []
    with gcpause.paused():
        write_svg(drawing.scene, parts.append)
    return "".join(parts)


def svg_text(trace, timeout: float | None = None, **options) -> str:
    """The diagram of ``trace`` as SVG text, for these rendering options."""
    return svg_of(make_drawing(trace, **options), timeout)
