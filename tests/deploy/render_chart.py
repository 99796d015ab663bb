"""Render or lint the Helm chart with Helm's own Go SDK (helm-python-sdk), offline.

Run by tests/deploy with var/deploy-tools/venv/bin/python, where `make deploy-tools` installs
helm-python-sdk (it is not in the project's own environment):

    render_chart.py render CHART VALUES_JSON  -> {"manifests": {template: text}} or {"error": ...}
    render_chart.py lint CHART VALUES_JSON    -> helm lint's report
"""

from __future__ import annotations

import json
import sys

import helm_python as helm


def main() -> int:
    command, chart, values = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    if command == "lint":
        print(json.dumps(helm.lint(chart, values, strict=True)))
        return 0
    try:
        with helm.Chart.load(chart) as loaded:
            manifests = loaded.render(values, name="erp", namespace="erp", is_install=True)
    except helm.HelmError as error:
        print(json.dumps({"error": str(error)}))
        return 0
    print(json.dumps({"manifests": manifests, "sdk": helm.helm_sdk_version()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
