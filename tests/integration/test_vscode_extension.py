"""The VS Code extension builds, passes its own unit tests and packages into a .vsix.

Runs the extension's toolchain for real (npm ci from the committed lockfile, tsc, esbuild,
node's test runner, vsce) so neither the tests nor the packaging can rot unnoticed.
"""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from tests.fixtures.vscode_extension import ensure_node_modules, extension_version, require_node, run_npm

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node_modules() -> None:
    require_node()
    ensure_node_modules()


def test_extension_unit_tests_pass(node_modules):
    result = run_npm("test", timeout=600)
    counts = {name: int(n) for name, n in re.findall(r"^ℹ (tests|pass|fail|cancelled) (\d+)$", result.stdout, re.M)}
    assert counts.get("fail") == 0 and counts.get("cancelled") == 0, result.stdout[-4000:]
    # The suite covers the whole brief (debounce, cancel, cache, supersede, typed-ahead, settings,
    # secrets, telemetry, errors, CLI, bundle); far fewer tests means files stopped being found.
    assert counts.get("pass", 0) >= 70, counts


def test_vsce_packages_the_bundle(node_modules, tmp_path):
    version = extension_version()
    run_npm("run", "package", "--", "--out", str(tmp_path), timeout=600)
    vsix = tmp_path / f"codemill-{version}.vsix"
    assert vsix.is_file(), sorted(p.name for p in tmp_path.iterdir())
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        assert {"extension/dist/extension.js", "extension/package.json", "extension.vsixmanifest"} <= names, names
        assert not any(name.startswith(("extension/node_modules/", "extension/src/", "extension/test/")) for name in names), names
        manifest = json.loads(archive.read("extension/package.json"))
        bundle = archive.read("extension/dist/extension.js").decode()
    assert manifest["engines"]["vscode"] == "^1.90.0"
    assert manifest["main"] == "./dist/extension.js"
    # `vscode` is provided by the editor: the bundle must require it, not inline a copy.
    assert 'require("vscode")' in bundle
    assert "registerInlineCompletionItemProvider" in bundle
