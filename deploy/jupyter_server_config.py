"""jupyter-lean for a class on JupyterHub: one single-user server (one pod) per student.

The image (deploy/Dockerfile) installs this file as /usr/local/etc/jupyter/jupyter_server_config.py,
where both the Jupyter server and the Lean kernel read it. Each setting has an environment
variable, so one image serves several courses and the Hub's values (``singleuser.extraEnv``)
change a limit without a rebuild. Sizing and the reasons for each value: deploy/README.md.
"""

# ruff: noqa: F821 (``get_config`` is provided by traitlets when it loads this file)

from __future__ import annotations

import os

MiB = 1 << 20


def _text(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


c = get_config()

# -- the course -------------------------------------------------------------------------------
# The course's Lake project, built at image build time and served read-only. "default" is the
# project of every notebook and Lean kernel, wherever the notebook lives in the home folder.
c.LeanSessionManager.projects = {"default": _text("JUPYTER_LEAN_COURSE_DIR", "/opt/course")}

# -- isolation --------------------------------------------------------------------------------
# "bwrap" fails closed: a pod without the user namespaces bubblewrap needs answers 503 (and
# /lean/health says why) instead of running Lean unsandboxed. "none": the pod is the only
# sandbox, and Lean code reads what the student's server reads (deploy/README.md).
c.LeanSessionManager.sandbox = _text("JUPYTER_LEAN_SANDBOX", "bwrap")

# -- limits per Lean session (the live editor's sessions and each Lean kernel's Lean) ---------
# memory_limit: resident memory of the session's Lean process tree (watchdog + one worker per
# open file) plus its /tmp and workspace. Measured here with Lean 4.35 on a prelude file: about
# 100 MiB for the watchdog and 105 MiB per open file. A file that imports Mathlib: ~6.5 GB.
c.LeanSessionManager.memory_limit = int(_number("JUPYTER_LEAN_MEMORY_LIMIT_MIB", 1536) * MiB)
c.LeanSessionManager.cpu_time_limit = int(_number("JUPYTER_LEAN_CPU_TIME_LIMIT", 1800))
c.LeanSessionManager.tmpfs_size = int(_number("JUPYTER_LEAN_TMPFS_MIB", 128) * MiB)
c.LeanSessionManager.usage_interval = _number("JUPYTER_LEAN_USAGE_INTERVAL", 2)
# One student per server: the per-user and per-server caps are the same number.
_sessions = int(_number("JUPYTER_LEAN_MAX_SESSIONS", 2))
c.LeanSessionManager.max_sessions_per_user = _sessions
c.LeanSessionManager.max_sessions = _sessions
# A warm pool would keep an unused Lean resident in every student's pod.
c.LeanSessionManager.warm_pool_size = 0

# -- idleness ---------------------------------------------------------------------------------
# A Lean session (and a Lean kernel's Lean) untouched this long is stopped; the next keystroke
# or cell starts it again. Lean traffic also counts as the server's activity, which is what
# JupyterHub's idle culler looks at (cull.timeout in the Hub's values must be longer).
c.LeanSessionManager.idle_timeout = _number("JUPYTER_LEAN_IDLE_TIMEOUT", 1200)
c.LeanSessionManager.cull_interval = 60
# Kernels idle this long are shut down (with their Lean), connected or not.
c.MappingKernelManager.cull_idle_timeout = int(_number("JUPYTER_KERNEL_CULL_IDLE_TIMEOUT", 3600))
c.MappingKernelManager.cull_interval = 300
c.MappingKernelManager.cull_connected = True
# 0: leave stopping the whole server to the Hub's culler. A server without a Hub culler can stop
# itself after this many seconds without kernels and without activity (Lean's included).
c.ServerApp.shutdown_no_activity_timeout = int(_number("JUPYTER_SHUTDOWN_NO_ACTIVITY_TIMEOUT", 0))

# Where each session's private workspace lives (default: a temporary folder of the pod).
if os.environ.get("JUPYTER_LEAN_WORKSPACE_ROOT"):
    c.LeanSessionManager.workspace_root = os.environ["JUPYTER_LEAN_WORKSPACE_ROOT"]
