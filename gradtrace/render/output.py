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
import warnings
from contextlib import contextmanager
from pathlib import Path

import graphviz

from .. import gcpause
from ..errors import GradtraceWarning, RenderError
from .dot import fast_scene, to_dot, uses_fast_layout
from .fast import write_svg

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
           ".json": "json", ".html": "html", ".htm": "html", ".gif": "gif"}
DEFAULT_TIMEOUT = 120.0
AUTO_BUDGET = 10.0    # layout="auto" gives dot this long, then draws with the fast layout
INSTALL_HINT = ("install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: "
                "brew install graphviz; conda: conda install graphviz) so that `dot` is on PATH")


class GraphvizTimeout(RenderError):
    """Graphviz did not finish within its time limit."""


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
        if fmt not in set(FORMATS.values()):
            raise RenderError(f"unknown format '{format}'; choose one of svg, png, pdf, dot, "
                              "json, html, gif")
        return fmt
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise RenderError(f"cannot tell the format of '{path}' from its suffix; use one of "
                          f"{', '.join(sorted(FORMATS))} or pass format=")
    return found


def graphviz_program(engine: str) -> str:
    exe = shutil.which(engine)
    if exe is None:
        raise RenderError(f"Graphviz's `{engine}` program was not found on PATH; {INSTALL_HINT}")
    return exe


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


def run_graphviz(dot_text: str, fmt: str, timeout: float | None = DEFAULT_TIMEOUT,
                 memory_mb: int | None = None) -> bytes:
    """Lay out and draw ``dot_text`` (pinned-position DOT goes through ``neato -n2``), in a
    child capped at ``memory_mb`` MiB that cannot outlive gradtrace."""
    if fmt not in graphviz.FORMATS:
        raise RenderError(f"Graphviz cannot write format '{fmt}'")
    limit = no_limit(timeout)
    memory_mb = memory_mb or memory_limit_mb()
    fast = uses_fast_layout(dot_text)
    cmd = [graphviz_program("neato"), "-n2"] if fast else [graphviz_program("dot")]
    cmd.append(f"-T{fmt}")
    nodes = max(dot_text.count("label=<") - dot_text.count("->"), 0)
    # its own process group: a `dot` that is a wrapper script dies with its children
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, preexec_fn=_limited(memory_mb),
                          start_new_session=True) as proc:
        try:
            out, err = proc.communicate(dot_text.encode("utf-8"), timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise GraphvizTimeout(
                f"Graphviz ran past the {limit:g} s time limit laying out about {nodes} "
                "nodes; collapse scopes (collapse=True), use the fast layout (layout='fast'), "
                "or allow more time (timeout=..., 0 for no limit)") from None
    if proc.returncode == 0 and _drawing(fmt, out):
        pass_on_warnings(err.decode("utf-8", "replace"))
        return out
    if proc.returncode == 0:
        raise RenderError(f"Graphviz ({Path(cmd[0]).name}) exited successfully but wrote "
                          f"{'nothing' if not out.strip() else 'no ' + fmt.upper() + ' drawing'}"
                          f" ({len(out)} bytes); check the Graphviz install (`dot -V`) or use "
                          "the fast layout (layout='fast')")
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
    advice = ("use the fast layout (layout='fast'), which gradtrace draws itself, or fold "
              "scopes (collapse=True)")
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


def free_name(path: Path) -> Path:
    """``path``, or ``name.1.dot``, ``name.2.dot`` ... if it exists: a file the user did not
    name is never overwritten."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


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
            warnings.warn(f"Graphviz shrank the bitmap to {pct:.0f}% of its size to fit its "
                          "limits, so its text may be unreadable; render SVG or PDF instead, "
                          "or fold scopes (--collapse-all)", GradtraceWarning, stacklevel=4)
        else:
            warnings.warn(f"Graphviz: {line}", GradtraceWarning, stacklevel=4)


def render(trace, path, format: str | None = None, timeout: float | None = None,
           **options) -> Path:
    """Write the diagram of ``trace`` to ``path``; returns the path written.
    (The HTML step-through is ``files.render``'s, which calls this for the rest.)"""
    path = Path(path)
    fmt = format_for(path, format)
    if fmt in ("html", "gif"):
        raise RenderError(f"internal: {fmt} is written by gradtrace.render.files.render")
    if fmt == "json":
        write_atomic(path, trace.to_json(indent=1).encode("utf-8"))
        return path
    if fmt == "svg":
        with gcpause.paused():     # millions of small objects, none of them cyclic garbage
            scene = fast_scene(trace, **options)
            if scene is not None:      # gradtrace drew it: no Graphviz run at all
                write_streamed(path, lambda write: write_svg(scene, write))
                return path
    dot_text = to_dot(trace, **options)
    if fmt == "dot":
        write_atomic(path, dot_text.encode("utf-8"))
        return path
    try:
        data, _ = _drawn(trace, dot_text, fmt, timeout, options)
    except RenderError as e:
        if "not found on PATH" in str(e):
            beside = free_name(path.with_suffix(".dot"))
            write_atomic(beside, dot_text.encode("utf-8"))
            raise RenderError(f"{e}. The DOT source was written to {beside}") from None
        raise
    write_atomic(path, data)
    return path


def _drawn(trace, dot_text: str, fmt: str, timeout, options: dict):
    """Graphviz's drawing of ``dot_text``.  With layout='auto' and no explicit timeout,
    dot gets ``AUTO_BUDGET`` seconds and past that the fast layout draws it instead (said
    in one warning); an explicit timeout (0 or inf: none) always wins.
    Returns (bytes, the DOT text actually drawn)."""
    auto = options.get("layout", "auto") == "auto" and not uses_fast_layout(dot_text)
    if not auto or timeout is not None:
        return run_graphviz(dot_text, fmt, DEFAULT_TIMEOUT if timeout is None else timeout), \
            dot_text
    try:
        return run_graphviz(dot_text, fmt, AUTO_BUDGET), dot_text
    except GraphvizTimeout:
        warnings.warn(f"Graphviz dot did not lay this graph out within {AUTO_BUDGET:g} s, so "
                      "it was drawn with gradtrace's fast layout (every label kept); pass "
                      "layout='dot' with a longer timeout to insist on dot", GradtraceWarning,
                      stacklevel=4)
        fast = {**options, "layout": "fast"}
        if fmt == "svg":
            return svg_text(trace, **fast).encode("utf-8"), None
        fast_dot = to_dot(trace, **fast)
        return run_graphviz(fast_dot, fmt, DEFAULT_TIMEOUT), fast_dot


def svg_text(trace, **options) -> str:
    """The diagram as SVG text (for Jupyter and tests)."""
    timeout = options.pop("timeout", None)
    with gcpause.paused():
        scene = fast_scene(trace, **options)
        if scene is not None:
            parts: list[str] = []
            write_svg(scene, parts.append)
            return "".join(parts)
    data, _ = _drawn(trace, to_dot(trace, **options), "svg", timeout, options)
    return data.decode("utf-8")
