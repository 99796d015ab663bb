"""Settings: every variable declared once in its process's settings module, read nowhere else,
and docs/configuration.md generated from those declarations (issue 19). `make lint` runs this."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot import configuration
from envvars import SettingsError, Variables, forget_current, integer, path
from tests.layout import ROOT, runtime_files

# What may be done with os.environ outside a settings module: hand the whole environment on
# (to a child process or to a settings module's from_env) or set a library's switch.
PASSED_ON = {"copy", "items", "setdefault", "update", "pop"}


def environ_reads(source: str) -> list[int]:
    """Lines that read a variable from os.environ (or os.getenv) directly."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            lines.append(node.lineno)
        if not (isinstance(node, ast.Attribute) and node.attr == "environ"):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.attr in PASSED_ON:
            continue
        if isinstance(parent, ast.Call) and node in parent.args:
            continue  # dict(os.environ), Settings.from_env(os.environ)
        if isinstance(parent, ast.Dict) and node in parent.values:
            continue  # {**os.environ, ...}
        if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Store | ast.Del):
            continue  # os.environ[NAME] = value
        lines.append(node.lineno)
    return sorted(lines)


def test_no_runtime_module_but_a_settings_module_reads_the_environment() -> None:
    wrong = [
        f"{file.relative_to(ROOT)}:{line}"
        for file in runtime_files()
        if file.name != "settings.py" and file.parent.name != "envvars"
        for line in environ_reads(file.read_text())
    ]
    assert wrong == [], "read these through a declared envvars.Variable: " + ", ".join(wrong)


def test_the_scan_tells_a_read_from_passing_the_environment_on() -> None:
    source = (
        "import os\n"
        "a = os.environ.get('X')\n"  # 2: a read
        "b = os.getenv('Y')\n"  # 3: a read
        "c = {**os.environ, 'Z': '1'}\n"
        "d = dict(os.environ)\n"
        "os.environ.setdefault('HF_HUB_OFFLINE', '1')\n"
        "env = os.environ if a else {}\n"  # 7: a read in disguise
        "os.environ['W'] = '1'\n"
        "e = os.environ['V']\n"  # 9: a read
    )
    assert environ_reads(source) == [2, 3, 7, 9]


def test_docs_configuration_matches_the_declarations() -> None:
    assert configuration.main(["--check"]) == 0, "run: python -m bot.configuration"


def test_every_variable_has_a_meaning_and_one_declaration_per_process() -> None:
    groups = configuration.declared()
    assert {group.process for group in groups} >= {"launcher", "gateway", "actions", "generator"}
    for group in groups:
        for variable in group:
            assert variable.doc.strip(), f"{group.process}: {variable.name} has no meaning"
            assert variable.name == variable.name.upper(), variable.name


def test_a_bad_value_names_the_variable_and_the_value() -> None:
    port = Variables("test-only", "test", register=False).add(
        "SOME_PORT", 1, "a port", integer(1, 65535)
    )
    with pytest.raises(SettingsError, match=r"SOME_PORT must be between 1 and 65535, got 0"):
        port.read({"SOME_PORT": "0"})
    with pytest.raises(SettingsError, match=r"SOME_PORT must be an integer, got 'x'"):
        port.read({"SOME_PORT": "x"})
    assert port.read({"SOME_PORT": "  "}) == 1


def test_a_relative_path_is_read_from_the_project_root() -> None:
    folder = Variables("test-only-paths", "test", register=False).add(
        "SOME_DIR", ROOT, "a folder", path()
    )
    assert folder.read({"SOME_DIR": "var/x"}) == ROOT / "var" / "x"
    assert folder.read({"SOME_DIR": "/srv/x"}) == Path("/srv/x")


def test_a_setting_a_process_keeps_is_read_once_until_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = Variables("example", "an example process", register=False)
    size = example.add("EXAMPLE_POOL_SIZE", 10, "connections", integer(1, 200))
    monkeypatch.setenv("EXAMPLE_POOL_SIZE", "20")
    assert size.current() == 20

    monkeypatch.setenv("EXAMPLE_POOL_SIZE", "30")
    assert size.current() == 20  # not read again at the next request
    forget_current()
    assert size.current() == 30
    monkeypatch.setenv("EXAMPLE_POOL_SIZE", "0")
    forget_current()
    with pytest.raises(SettingsError, match="EXAMPLE_POOL_SIZE"):
        size.current()


def test_the_erp_reads_its_mapping_once_and_again_when_schemas_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from erp.schema import DEFAULT_MAPPING, forget_schemas, mapping_path

    monkeypatch.delenv("ERP_MAPPING", raising=False)
    assert mapping_path() == DEFAULT_MAPPING
    monkeypatch.setenv("ERP_MAPPING", "erp/mappings/northwind.yml")
    assert mapping_path() == DEFAULT_MAPPING
    forget_schemas()
    assert mapping_path() == ROOT / "erp" / "mappings" / "northwind.yml"


def test_blank_reads_as_the_default_unless_the_variable_gives_its_own_meaning() -> None:
    example = Variables("example", "an example process", register=False)
    port = example.add("EXAMPLE_PORT", 8080, "port", integer(1, 65535))
    adapter = example.add("EXAMPLE_ADAPTER", ROOT / "a", "adapter folder", path(), blank=None)

    assert port.read({"EXAMPLE_PORT": "  "}) == 8080
    assert adapter.read({}) == ROOT / "a"
    assert adapter.read({"EXAMPLE_ADAPTER": ""}) is None
