"""docs/configuration.md: every environment variable the processes read, generated from the
settings modules' declarations (envvars), so that the table cannot drift from the code.

    python -m bot.configuration          # write docs/configuration.md
    python -m bot.configuration --check  # exit 1 when the file differs from the code

tests/test_configuration.py runs the check.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot import paths
from envvars import Variable, Variables, registries

# The settings module of each process (and of the libraries they share), in the order the
# table shows them. Importing one declares its variables.
SETTINGS_MODULES = (
    "bot.settings",
    "connectors.settings",
    "actions.settings",
    "erp.settings",
    "retrieval.settings",
    "models.settings",
)
OUTPUT = paths.ROOT / "docs" / "configuration.md"

HEADER = """# Configuration

Every environment variable the assistant reads, by the process that reads it. Each process
reads its variables once, when it starts (its settings module, through `envvars/`); a value
that cannot be used stops the process with a message naming the variable and the value. Unset
or blank means the default. Relative paths are read from the project root, wherever the
process starts. Secrets are never written to files by the project: `make run` generates the
shared ones into var/secrets.json (0600) when they are not set.

This file is generated from the code by `python -m bot.configuration` (do not edit it by
hand; tests/test_configuration.py checks that it matches).
"""


# The table's order: from the launcher down the path of a message.
PROCESS_ORDER = ("launcher", "rasa", "gateway", "actions", "erp", "retrieval", "generator")


def declared() -> list[Variables]:
    """Every process's variables, after importing each settings module, in PROCESS_ORDER."""
    for module in SETTINGS_MODULES:
        importlib.import_module(module)
    order = {process: index for index, process in enumerate(PROCESS_ORDER)}
    return sorted(registries(), key=lambda group: order.get(group.process, len(order)))


def render(groups: Sequence[Variables]) -> str:
    """The Markdown of docs/configuration.md."""
    lines = [HEADER]
    for group in groups:
        lines += [f"## {group.process}: {group.title}", ""]
        lines += ["| variable | default | accepted | what |", "|---|---|---|---|"]
        lines += [_row(variable) for variable in group]
        lines.append("")
    return "\n".join(lines)


def _row(variable: Variable[object]) -> str:
    default = variable.default_text
    kind = variable.parser.kind + (" (secret)" if variable.secret else "")
    cells = [f"`{variable.name}`", default, kind, variable.doc]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.configuration", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render(declared())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(paths.ROOT)} is out of date: run python -m bot.configuration"
            )
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(paths.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
