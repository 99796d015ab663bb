"""How the ERP's command lines (``python -m erp``, ``python -m demo``) run a command: an
ErpError or ValueError is printed as one line (with the reason a database is unavailable) and
the exit code is 1, never a traceback."""

from __future__ import annotations

import argparse
import sys

from erp.errors import ErpError, ErpUnavailable


def run_handler(args: argparse.Namespace) -> int:
    """Run ``args.handler(args)``, the handler an argparse sub-command set; its exit code."""
    try:
        return int(args.handler(args))
    except (ErpError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, ErpUnavailable):
            print(f"  {exc.detail}", file=sys.stderr)
        return 1
