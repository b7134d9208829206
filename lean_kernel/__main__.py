"""`python -m lean_kernel -f CONNECTION_FILE` runs the kernel (what kernel.json starts);
`python -m lean_kernel install [--user|--sys-prefix|--prefix DIR]` installs its kernel spec."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install"]:
        from .install import main as install_main

        install_main(args[1:])
        return
    from ipykernel.kernelapp import IPKernelApp

    from .kernel import LeanKernel
    from .logs import quiet_session_logs

    quiet_session_logs()
    IPKernelApp.launch_instance(argv=args, kernel_class=LeanKernel)


if __name__ == "__main__":
    main()
