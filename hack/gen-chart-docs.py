#!/usr/bin/env python3
"""Generate charts/sensorpipe/README.md from values.yaml comments with helm-docs.

The values table is only as good as the `# --` comments in values.yaml, so it is generated,
never edited: a test runs this with `--check` and fails when README.md is stale. helm-docs is
pinned here and built once from the Go module proxy into .cache/bin/helm-docs-<version>/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "sensorpipe"
HELM_DOCS_VERSION = "v1.14.2"
HELM_DOCS_MODULE = "github.com/norwoodj/helm-docs/cmd/helm-docs"


def helm_docs_binary() -> Path:
    """The pinned helm-docs, built with `go install` the first time it is needed."""
    bindir = ROOT / ".cache" / "bin" / f"helm-docs-{HELM_DOCS_VERSION}"
    binary = bindir / "helm-docs"
    if not binary.exists():
        bindir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(bindir), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        subprocess.run(
            [
                "go",
                "install",
                "-trimpath",
                "-ldflags",
                "-s -w",
                f"{HELM_DOCS_MODULE}@{HELM_DOCS_VERSION}",
            ],
            check=True,
            env=env,
        )
    return binary


def render_readme() -> str:
    """README.md as helm-docs renders it now (values in file order, as they read in values.yaml)."""
    proc = subprocess.run(
        [
            str(helm_docs_binary()),
            "--chart-search-root",
            str(CHART.parent),
            "--chart-to-generate",
            str(CHART),
            "--sort-values-order",
            "file",
            "--skip-version-footer",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # helm-docs logs a chart it cannot parse as a warning and still exits 0.
    if "skipping" in proc.stderr or "## Values" not in proc.stdout:
        raise SystemExit(f"helm-docs could not document {CHART}:\n{proc.stderr}")
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args(argv)
    readme = CHART / "README.md"
    text = render_readme()
    current = readme.read_text() if readme.exists() else ""
    if args.check:
        if current != text:
            print(
                f"stale: {readme.relative_to(ROOT)} (run python hack/gen-chart-docs.py)",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != text:
        readme.write_text(text)
        print(f"wrote {readme.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
