"""The class deployment recipe in deploy/ holds together: the Zero to JupyterHub values parse and
agree with the server config, the config loads (server and kernel) and a real `jupyter server`
started with it and the values' environment serves the real Lean with those settings, the
Dockerfile pins what it installs, and every setting deploy/README.md names exists.

No image is built (no image registry here); the Dockerfile is checked for its shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import free_port, wait_until_listening
from traitlets.config import Config, PyFileConfigLoader

from jupyter_server_ext.session import LeanSessionManager
from jupyter_server_ext.session.process import descendants
from lean_kernel.config import load_server_config

pytestmark = pytest.mark.timeout(120)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CONFIG_FILE = DEPLOY / "jupyter_server_config.py"
VALUES = DEPLOY / "z2jh-values.yaml"
NO_SANDBOX = DEPLOY / "z2jh-values-no-sandbox.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
README = DEPLOY / "README.md"
MEASURE = DEPLOY / "measure_session.py"
TOKEN = "deploy-test-token-0123456789"
MiB = 1 << 20
# What the pod's memory limit must hold besides Lean sessions: the Jupyter server (measured
# ~90 MiB) and the Python side of two Lean kernels (~50 MiB each), rounded up.
SERVER_ALLOWANCE = 256 * MiB
LEAN_KERNELS_ALLOWED = 2
HUB_ACTIVITY_INTERVAL = 300  # seconds between a single-user server's activity reports


# -- values ------------------------------------------------------------------------------------


def helm_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Values files merged as Helm merges them: maps recursively, a null removes the key."""
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_values(*overlays: Path) -> dict[str, Any]:
    values = yaml.safe_load(VALUES.read_text())
    for overlay in overlays:
        values = helm_merge(values, yaml.safe_load(overlay.read_text()))
    return values


def byte_size(quantity: str | int) -> int:
    """A Kubernetes/KubeSpawner memory quantity (1G, 6.5G, 512M, 2Gi) in bytes."""
    match = re.fullmatch(r"([0-9.]+)\s*([KMGT]?)(i?)B?", str(quantity))
    assert match, f"not a memory quantity: {quantity!r}"
    number, unit, _ = match.groups()
    # KubeSpawner reads K/M/G/T as powers of 1024 whether or not an i follows.
    return int(float(number) * 1024 ** " KMGT".index(unit or " "))


def manager_from_config(env: dict[str, str]) -> LeanSessionManager:
    """The LeanSessionManager the deploy config gives in environment ``env``."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        config = PyFileConfigLoader(CONFIG_FILE.name, path=str(DEPLOY)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return LeanSessionManager(config=config, root_dir="/")


def test_values_parse_and_agree_with_the_server_config() -> None:
    values = load_values()
    single = values["singleuser"]
    env = single["extraEnv"]
    # Kubernetes refuses a pod whose environment values are not strings.
    assert all(isinstance(v, str) for v in env.values()), env
    config_text = CONFIG_FILE.read_text()
    assert [name for name in env if f'"{name}"' not in config_text] == [], (
        "every variable the values set is read by deploy/jupyter_server_config.py"
    )

    manager = manager_from_config(env)
    assert manager.sandbox == "bwrap"
    assert manager.max_sessions == manager.max_sessions_per_user == 2
    assert manager.memory_limit == 1536 * MiB

    # The pod holds every session and two Lean kernels at their limit, so the product ends a
    # session (with a reason) before the OOM killer ends the whole server.
    lean_processes = manager.max_sessions + LEAN_KERNELS_ALLOWED
    needed = SERVER_ALLOWANCE + lean_processes * manager.memory_limit
    limit = byte_size(single["memory"]["limit"])
    assert limit >= needed, f"memory.limit {limit / 2**30:.1f} GiB < {needed / 2**30:.1f} GiB"
    assert byte_size(single["memory"]["guarantee"]) <= limit

    # The Hub culls a server only after Lean sessions had their own chance, and after at least
    # one activity report could have reached it.
    cull = values["cull"]
    assert cull["enabled"] is True
    assert cull["timeout"] > manager.idle_timeout
    assert cull["timeout"] > 2 * HUB_ACTIVITY_INTERVAL
    # A backstop against activity that never stops (an open infoview's keepAlive).
    assert cull["maxAge"] > cull["timeout"]

    # What bubblewrap needs from the pod (deploy/README.md, "Sandbox").
    context = values["hub"]["config"]["KubeSpawner"]["container_security_context"]
    assert context["seccompProfile"] == {"type": "Unconfined"}
    assert context["appArmorProfile"] == {"type": "Unconfined"}
    assert context["procMount"] == "Unmasked"
    assert single["extraPodConfig"]["hostUsers"] is False


def test_no_sandbox_overlay_drops_the_pod_privileges() -> None:
    values = load_values(NO_SANDBOX)
    assert values["singleuser"]["extraEnv"]["JUPYTER_LEAN_SANDBOX"] == "none"
    assert "container_security_context" not in values["hub"]["config"]["KubeSpawner"]
    assert "hostUsers" not in values["singleuser"]["extraPodConfig"]
    # The rest of the values stay.
    assert values["singleuser"]["memory"] == load_values()["singleuser"]["memory"]
    assert manager_from_config(values["singleuser"]["extraEnv"]).sandbox == "none"


def test_config_defaults_and_overrides(tmp_path: Path) -> None:
    manager = manager_from_config({})
    assert manager.projects == {"default": "/opt/course"}
    assert manager.sandbox == "bwrap"
    assert manager.warm_pool_size == 0
    assert manager.memory_limit == 1536 * MiB
    overridden = manager_from_config(
        {
            "JUPYTER_LEAN_COURSE_DIR": str(tmp_path),
            "JUPYTER_LEAN_MEMORY_LIMIT_MIB": "8192",
            "JUPYTER_LEAN_MAX_SESSIONS": "1",
            "JUPYTER_LEAN_WORKSPACE_ROOT": str(tmp_path / "ws"),
        }
    )
    assert overridden.projects == {"default": str(tmp_path)}
    assert overridden.memory_limit == 8192 * MiB
    assert overridden.max_sessions_per_user == 1
    assert overridden.workspace_root == str(tmp_path / "ws")


def test_kernel_reads_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Lean kernel reads the server's config files itself (lean_kernel/config.py).
    shutil.copy(CONFIG_FILE, tmp_path / "jupyter_server_config.py")
    monkeypatch.setenv("JUPYTER_LEAN_COURSE_DIR", "/srv/course-for-kernel")
    loaded = load_server_config(_quiet_log(), paths=[str(tmp_path)])
    assert loaded.LeanSessionManager.projects == {"default": "/srv/course-for-kernel"}
    assert loaded.LeanSessionManager.memory_limit == 1536 * MiB


def _quiet_log() -> Any:
    import logging

    return logging.getLogger("test_deploy")


# -- a real server with the deploy config ------------------------------------------------------


@dataclass
class DeployedServer:
    process: subprocess.Popen[bytes]
    port: int
    course: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def call(self, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {TOKEN}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, json.loads(text) if text else None


@pytest.fixture(params=["bwrap", "no-sandbox"])
def deployed(
    request: pytest.FixtureRequest, real_lean: object, tmp_path: Path
) -> Iterator[tuple[DeployedServer, dict[str, str]]]:
    """`jupyter server` with deploy/jupyter_server_config.py on its config path and the values'
    extraEnv in its environment (the course folder and workspaces in tmp_path)."""
    overlays = [NO_SANDBOX] if request.param == "no-sandbox" else []
    extra_env = load_values(*overlays)["singleuser"]["extraEnv"]
    config_dir, course, root = tmp_path / "config", tmp_path / "course", tmp_path / "home"
    for folder in (config_dir, course, root):
        folder.mkdir()
    shutil.copy(CONFIG_FILE, config_dir / "jupyter_server_config.py")
    env = {
        name: value for name, value in os.environ.items() if not name.startswith("JUPYTER_LEAN_")
    }
    env.update(
        extra_env,
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_LEAN_COURSE_DIR=str(course),
        JUPYTER_LEAN_WORKSPACE_ROOT=str(tmp_path / "workspaces"),
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--no-browser",
            "--allow-root",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    server = DeployedServer(process, port, course)
    try:
        wait_until_listening(server.process, server.port)
        yield server, extra_env
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def test_server_with_the_deploy_config(deployed: tuple[DeployedServer, dict[str, str]]) -> None:
    server, extra_env = deployed
    status, health = server.call("lean/health")
    assert status == 200
    # The real Lean, started as a session is (sandbox and limits of this config), elaborated.
    assert health["status"] == "ok", health
    assert health["check"]["ok"] is True
    assert health["sandbox"] == extra_env["JUPYTER_LEAN_SANDBOX"]
    status, projects = server.call("lean/projects")
    assert [(p["name"], p["path"]) for p in projects] == [("default", str(server.course))]

    # The per-user cap from the values: the third session is refused.
    limit = int(extra_env["JUPYTER_LEAN_MAX_SESSIONS"])
    created = [server.call("lean/sessions", "POST", {"project": "default"}) for _ in range(limit)]
    assert [status for status, _ in created] == [201] * limit
    status, refused = server.call("lean/sessions", "POST", {"project": "default"})
    assert status == 429 and f"the limit is {limit}" in refused["message"]

    # Lean gets -M at 3/4 of the configured memory limit (its graceful stop before ours).
    memory_limit_mib = int(extra_env["JUPYTER_LEAN_MEMORY_LIMIT_MIB"])
    pid = created[0][1]["pid"]
    command_lines = [
        Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") for p in (pid, *descendants(pid))
    ]
    assert any(f"-M{memory_limit_mib * 3 // 4}".encode() in line for line in command_lines)

    # Lean traffic alone (no REST call, which counts as activity by itself) moves the server's
    # last_activity: what jupyterhub-singleuser reports to the Hub and its idle culler reads.
    _, before = server.call("api/status")
    after = asyncio.run(
        _lean_traffic_until_active(server, created[0][1]["id"], before["last_activity"])
    )
    assert after > before["last_activity"]
    for _, session in created:
        assert server.call(f"lean/sessions/{session['id']}", "DELETE")[0] == 204


def _measure_module() -> Any:
    spec = importlib.util.spec_from_file_location("measure_session", MEASURE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _lean_traffic_until_active(server: DeployedServer, session_id: str, since: str) -> str:
    """Talk to Lean over the session's WebSocket until the server's last_activity moves past
    ``since`` (the server reports Lean activity at most once a second); the new value."""
    measure = _measure_module()
    client = measure.Server(server.base_url, TOKEN)
    socket = await client.lsp(session_id)
    try:
        seen: list[dict[str, Any]] = []
        await measure._request(
            socket, 1, "initialize", {"processId": None, "capabilities": {}}, 60, seen
        )
        deadline = time.monotonic() + 20
        request_id = 1
        while time.monotonic() < deadline:
            request_id += 1
            await _unknown_request(measure, socket, request_id, seen)
            status = await client.call("api/status")
            if status["last_activity"] > since:
                return str(status["last_activity"])
        raise TimeoutError("Lean traffic never moved the server's last_activity")
    finally:
        socket.close()


async def _unknown_request(
    measure: Any, socket: Any, request_id: int, seen: list[dict[str, Any]]
) -> None:
    # Lean answers an unknown method with an error, which is all the traffic this needs.
    with contextlib.suppress(RuntimeError):
        await measure._request(socket, request_id, "$/lean/unknownRequestForTest", {}, 10, seen)


def test_measure_script_sizes_a_session(deployed: tuple[DeployedServer, dict[str, str]]) -> None:
    server, extra_env = deployed
    done = subprocess.run(
        [sys.executable, str(MEASURE), "--url", server.base_url, "--token", TOKEN],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    measured = json.loads(done.stdout)
    assert measured["errors"] == [], measured
    # A watchdog and one worker: more than one Lean process, well under the session's limit.
    assert 50 < measured["session_memory_mib"] < int(extra_env["JUPYTER_LEAN_MEMORY_LIMIT_MIB"])
    assert server.call("lean/sessions")[1] == [], "the script deletes its session"


# -- Dockerfile --------------------------------------------------------------------------------


def _dockerfile() -> tuple[str, dict[str, str]]:
    text = DOCKERFILE.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S*)", text, flags=re.MULTILINE))
    return text, args


def test_dockerfile_pins_what_it_installs() -> None:
    text, args = _dockerfile()
    assert re.fullmatch(r"python:3\.\d+-slim-[a-z]+", args["BASE_IMAGE"]), args["BASE_IMAGE"]
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, flags=re.MULTILINE)
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["ELAN_VERSION"])
    assert re.fullmatch(r"leanprover/lean4:v\d+\.\d+\.\d+", args["LEAN_TOOLCHAIN"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["JUPYTERHUB_VERSION"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["JUPYTERLAB_VERSION"])
    assert '"jupyterhub==${JUPYTERHUB_VERSION}"' in text
    assert '"jupyterlab==${JUPYTERLAB_VERSION}"' in text
    assert "releases/download/v${ELAN_VERSION}/" in text, "elan by release, not the latest"
    assert '--default-toolchain "${LEAN_TOOLCHAIN}"' in text
    # No toolchain is fetched at run time: the course must use the pinned one.
    assert '!= "${LEAN_TOOLCHAIN}"' in text
    assert "elan-init.sh" not in text, "the init script always installs the latest elan"
    assert not re.search(r"\|\s*(ba)?sh\b", text), "nothing piped into a shell"


def test_dockerfile_installs_the_sandbox_and_builds_the_course() -> None:
    text, args = _dockerfile()
    installs = re.search(r"apt-get install[^&]*", text)
    assert installs is not None and "bubblewrap" in installs.group(0)
    assert "lake build" in text
    assert text.index("lake build") < text.index("chmod -R a-w /opt/course")
    # Paths the config and the values rely on.
    assert "JUPYTER_LEAN_COURSE_DIR=/opt/course" in text
    assert "COPY deploy/jupyter_server_config.py /usr/local/etc/jupyter/" in text
    values = load_values()["singleuser"]
    assert args["NB_UID"] == str(values["uid"])
    assert re.search(r"^USER \$\{NB_UID\}$", text, flags=re.MULTILINE)
    assert f'CMD ["{values["cmd"]}"]' in text
    for source in re.findall(r"^COPY (deploy/\S+)", text, flags=re.MULTILINE):
        assert (DEPLOY.parent / source).is_file(), source


# -- README ------------------------------------------------------------------------------------


def _configurable(class_name: str) -> type:
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    from jupyter_server_ext.app import LeanExtensionApp
    from lean_kernel.kernel import LeanKernel

    classes = {
        "LeanSessionManager": LeanSessionManager,
        "LeanKernel": LeanKernel,
        "ServerApp": ServerApp,
        "MappingKernelManager": MappingKernelManager,
        "LeanExtensionApp": LeanExtensionApp,
    }
    assert class_name in classes, f"deploy/README.md names an unknown class {class_name}"
    return classes[class_name]


def test_every_setting_the_readme_names_exists() -> None:
    text = README.read_text()
    named = set(
        re.findall(
            r"\b(LeanSessionManager|LeanKernel|ServerApp|MappingKernelManager|LeanExtensionApp)"
            r"\.([a-z_]+)\b",
            text,
        )
    )
    assert len(named) > 10
    missing = [
        f"{cls}.{trait}"
        for cls, trait in sorted(named)
        if not _configurable(cls).class_traits(config=True).get(trait)
    ]
    assert missing == []
    # The settings the brief of a class deployment is about are all covered.
    covered = {trait for cls, trait in named if cls == "LeanSessionManager"}
    assert {
        "memory_limit",
        "idle_timeout",
        "max_sessions_per_user",
        "sandbox",
        "projects",
        "cpu_time_limit",
    } <= covered
    # Every environment variable the README documents is one the config reads.
    config_text = CONFIG_FILE.read_text()
    documented = set(re.findall(r"\b(JUPYTER_(?:LEAN|KERNEL|SHUTDOWN)_[A-Z_]+)\b", text))
    assert documented and [v for v in documented if f'"{v}"' not in config_text] == []


def test_readme_snippets_parse(tmp_path: Path) -> None:
    text = README.read_text()
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, flags=re.DOTALL)
    kinds = {kind for kind, _ in blocks}
    assert {"yaml", "python"} <= kinds
    for index, (kind, body) in enumerate(blocks):
        if kind == "yaml":
            assert isinstance(yaml.safe_load(body), dict), body
        elif kind == "python":
            snippet = tmp_path / f"snippet{index}.py"
            snippet.write_text(body)
            config = PyFileConfigLoader(snippet.name, path=str(tmp_path)).load_config()
            assert isinstance(config, Config) and config, body
