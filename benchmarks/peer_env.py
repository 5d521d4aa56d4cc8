"""How the side-by-side scripts run a peer engine (PyTorch, LibTorch), shared by all of them.

A BLAS-backed peer runs in a child process of its own, at one of two settings:

  default  the environment the script was started with (only the thread counts set);
  best     also OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead of spinning between
           parallel regions: on a 2-core machine shared with other work, spinning steals the
           core the other thread needs) and OpenBLAS on this CPU's own kernel:
           OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed, together, from the peer's
           environment (a machine may set them to pin an older, slower kernel; OpenBLAS then
           runs e.g. its Haswell kernels on an AVX-512 CPU).

Only the peer's child gets the best setting: never chrysalis, never the tests or CI.

Whether the OpenBLAS core a peer reports (openblas_get_corename(), read in the peer's own
process) is this CPU's own is decided from the flags in /proc/cpuinfo, first match wins:

  avx512f  SkylakeX, Cooperlake or SapphireRapids (OpenBLAS's AVX-512 cores)
  avx2     Haswell, Zen or Excavator (its AVX2 cores)
  avx      Sandybridge
  else     no rule: the core cannot be judged, and a best-setting row gets no ratio.

A best-setting row whose core is not one of its CPU's names gets no ratio: the script says why
instead (its default rows keep theirs: the default is whatever the environment gives).
"""
import os
import platform

OPENBLAS_TUNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SETTINGS = ("best", "default")

# (the /proc/cpuinfo flag, OpenBLAS's core names for a CPU that has it): first match wins.
OWN_CORES = (
    ("avx512f", ("SkylakeX", "Cooperlake", "SapphireRapids")),
    ("avx2", ("Haswell", "Zen", "Excavator")),
    ("avx", ("Sandybridge",)),
)


def peer_env(threads, setting, base=None):
    """The environment of a peer's child process: base (os.environ) with the thread counts, and
    at the best setting passive OpenMP waits and neither OpenBLAS tuning variable."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    env = dict(os.environ if base is None else base, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    if setting == "best":
        for k in OPENBLAS_TUNING:
            env.pop(k, None)
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def describe(setting, base=None):
    """What a setting sets, in words, for the report."""
    env = os.environ if base is None else base
    if setting == "best":
        return "OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
    inherited = [f"{k}={env[k]}" for k in ("OMP_WAIT_POLICY",) + OPENBLAS_TUNING if k in env]
    return "the environment as it is: " + (
        ", ".join(inherited) or "OMP_WAIT_POLICY, OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for entry in f:
                if entry.startswith("model name"):
                    return entry.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def cpu_flags():
    """The first CPU's flags in /proc/cpuinfo (a set; empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for entry in f:
                if entry.startswith("flags"):
                    return set(entry.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def own_cores(flags=None):
    """(the deciding flag, OpenBLAS's core names for this CPU), or (None, ()) with no rule."""
    flags = cpu_flags() if flags is None else flags
    for flag, names in OWN_CORES:
        if flag in flags:
            return flag, names
    return None, ()


def core_verdict(core, flags=None):
    """(True, why) when OpenBLAS's core is this CPU's own by the rule above, else (False, why)."""
    flag, names = own_cores(flags)
    if not core:
        return False, "OpenBLAS did not report its core"
    if flag is None:
        return False, (f"no rule for this CPU's flags: OpenBLAS core {core} cannot be judged "
                       "(peer_env.OWN_CORES)")
    rule = f"{flag} in /proc/cpuinfo → {' / '.join(names)}"
    if core.lower() in (n.lower() for n in names):
        return True, f"OpenBLAS core {core} is this CPU's own ({rule})"
    return False, f"OpenBLAS core {core} is not this CPU's own ({rule})"
