"""The kernel's share of the Jupyter server's configuration.

``c.LeanSessionManager.*`` (and ``c.LeanKernel.*``) in ``jupyter_server_config.py``/``.json`` on the
Jupyter config path configure the kernel too, so one file sets Lean's command, projects, sandbox
and limits for the server extension and every kernel, with or without a running server.
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_config_path
from traitlets.config import Config
from traitlets.config.loader import ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

from jupyter_server_ext.session import LAKEFILES

CONFIG_BASENAME = "jupyter_server_config"
SECTIONS = ("LeanSessionManager", "LeanKernel")


def load_server_config(
    log: logging.Logger | logging.LoggerAdapter[Any], paths: list[str] | None = None
) -> Config:
    """The LeanSessionManager and LeanKernel sections of the Jupyter server's config files.

    Loaded as jupyter_server does: lowest priority directory first; in each, the `.d/*.json`
    snippets, then the `.py` file, then the `.json` file. A broken file is logged and skipped:
    a typo in the server's config must not stop the kernel.
    """
    merged = Config()
    for directory in reversed(paths if paths is not None else jupyter_config_path()):
        files: list[tuple[type, str]] = [
            (JSONFileConfigLoader, name)
            for name in sorted(glob.glob(os.path.join(directory, CONFIG_BASENAME + ".d", "*.json")))
        ]
        files += [
            (PyFileConfigLoader, os.path.join(directory, CONFIG_BASENAME + ".py")),
            (JSONFileConfigLoader, os.path.join(directory, CONFIG_BASENAME + ".json")),
        ]
        for loader_class, filename in files:
            if not os.path.isfile(filename):
                continue
            loader = loader_class(
                os.path.basename(filename), path=os.path.dirname(filename), log=log
            )
            try:
                loaded = loader.load_config()
            except ConfigFileNotFound:
                continue
            except Exception:
                log.warning(
                    "Skipping the Jupyter config file %s: it failed to load",
                    filename,
                    exc_info=True,
                )
                continue
            merged.merge(Config({s: loaded[s] for s in SECTIONS if s in loaded}))
    return merged


def default_project_dir(start: str) -> str:
    """The Lean project of a notebook in ``start``: the nearest enclosing Lake package (a folder
    with a lakefile or a lean-toolchain file), else ``start`` itself."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if any((folder / name).is_file() for name in (*LAKEFILES, "lean-toolchain")):
            return str(folder)
    return str(here)


# Settings the kernel sets on its manager itself (see LeanKernel.__init__): never re-applied.
KERNEL_OWNED = frozenset({"idle_timeout", "cull_interval", "warm_pool_size", "projects"})


def _manager_section(config: Config) -> dict[str, Any]:
    return dict(config.get("LeanSessionManager", {}))


class LiveManagerConfig:
    """The LeanSessionManager section of the config files, read again while Lean fails to
    start: a fix made in the file (another `lean_command`, `sandbox`...) is used at the next
    cell, without restarting the kernel or waiting out the pause between start attempts."""

    def __init__(
        self,
        manager: Any,
        log: logging.Logger | logging.LoggerAdapter[Any],
        loaded: Config,
        fixed: set[str],
    ) -> None:
        self.manager = manager
        self.log = log
        self.fixed = fixed | KERNEL_OWNED  # the kernel's command line wins over the files
        self.section = _manager_section(loaded)

    def refresh(self) -> str:
        """Apply what changed in the files since the last look; returns a fingerprint of the
        files' settings (it changes when they do)."""
        section = _manager_section(load_server_config(self.log))
        if section != self.section:
            for name, value in section.items():
                if (
                    name in self.fixed
                    or not self.manager.has_trait(name)
                    or self.section.get(name) == value
                ):
                    continue
                try:
                    setattr(self.manager, name, value)
                except Exception as exc:  # a wrong type in the file: say so, keep the rest
                    self.log.warning("LeanSessionManager.%s from the config files: %s", name, exc)
            self.section = section
        return repr(sorted(section.items()))
