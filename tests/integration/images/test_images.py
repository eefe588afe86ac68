"""The three images, built here with podman from a Debian base (hack/images.sh, no registry),
run the way the chart and the operator run them: as their non-root user, on a read-only root
filesystem, with no network. Each entry point must answer, and the Spark image must carry the
connector and Delta jars that the tests use, so nothing is resolved when a job starts.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from sensorpipe_operator.builders.common import NON_ROOT_UID
from sensorpipe_operator.builders.sparkapp import MAIN_FILE
from tests.conftest import ROOT, pinned_versions

# A cold build downloads pyspark and runs debootstrap: minutes, not the default 15.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

IMAGES_SH = ROOT / "hack" / "images.sh"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# How the node runs a container here: runc (crun refuses cgroup v1 hybrid), this machine's
# open-files hard limit, and a process limit the VM allows.
RUN = [
    "podman", "run", "--rm", "--runtime", "runc", "--read-only", "--network", "none",
    "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
]  # fmt: skip


def images_sh(*args: str) -> str:
    proc = subprocess.run(
        ["bash", str(IMAGES_SH), *args], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, f"hack/images.sh {' '.join(args)}:\n{proc.stderr[-6000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """The images' references by name (operator, edge, spark), built or reused."""
    images_sh("build")
    values = dict(line.split("=", 1) for line in images_sh("tags").splitlines())
    return {
        "operator": f"{values['image.repository']}:{values['image.tag']}",
        "edge": values["childImages.gateway"],
        "spark": values["childImages.spark"],
    }


def configured_user(ref: str) -> str:
    proc = subprocess.run(
        ["podman", "image", "inspect", ref], capture_output=True, text=True, check=True
    )
    return str(json.loads(proc.stdout)[0]["Config"].get("User", ""))


def run(ref: str, *args: str, entrypoint: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the image as its configured user (the same uid the pods declare)."""
    user = configured_user(ref)
    extra = ["--entrypoint", entrypoint] if entrypoint else []
    return subprocess.run(
        [*RUN, "--user", user, *extra, ref, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def answers(ref: str, *args: str, entrypoint: str | None = None) -> str:
    proc = run(ref, *args, entrypoint=entrypoint)
    assert proc.returncode == 0, f"{ref} {entrypoint or ''} {' '.join(args)}:\n{proc.stderr}"
    return proc.stdout + proc.stderr


def chart_uid() -> int:
    values = yaml.safe_load((ROOT / "charts" / "sensorpipe" / "values.yaml").read_text())
    return int(values["operator"]["podSecurityContext"]["runAsUser"])


@pytest.mark.parametrize(
    ("name", "declared_uid"),
    [("operator", chart_uid()), ("edge", NON_ROOT_UID), ("spark", None)],
)
def test_the_image_runs_as_the_declared_non_root_user(
    images: dict[str, str], name: str, declared_uid: int | None
) -> None:
    """The uid the image sets is non-root and, where the chart or the operator's builders run
    the pod with a fixed uid, that same uid (so files the image owns are readable)."""
    uid = int(configured_user(images[name]).split(":")[0])
    assert uid != 0
    if declared_uid is not None:
        assert uid == declared_uid
    out = answers(images[name], "-c", "import os; print(os.getuid())", entrypoint="python3")
    assert out.strip() == str(uid)


@pytest.mark.parametrize("name", ["operator", "edge", "spark"])
def test_the_root_filesystem_is_read_only(images: dict[str, str], name: str) -> None:
    proc = run(images[name], "-c", "open('/opt/venv/probe', 'w')", entrypoint="python3")
    assert proc.returncode != 0
    assert "Read-only file system" in proc.stderr


# Finds, inside an image, every file with the given size and SHA-256 (run by the image's python3).
FIND_FILE = """
import hashlib, os, sys
size, digest = int(sys.argv[1]), sys.argv[2]
for top in ("/etc", "/opt", "/usr", "/var", "/home", "/srv"):
    for folder, _, names in os.walk(top):
        for name in names:
            path = os.path.join(folder, name)
            try:
                if os.path.islink(path) or os.path.getsize(path) != size:
                    continue
                with open(path, "rb") as f:
                    if hashlib.sha256(f.read()).hexdigest() == digest:
                        print(path)
            except OSError:
                pass
"""


@pytest.mark.parametrize("name", ["operator", "edge", "spark"])
def test_the_build_machines_ca_bundle_is_not_in_the_image(
    images: dict[str, str], name: str
) -> None:
    """pip verified PyPI with this machine's CA bundle, a build secret: no layer keeps it."""
    bundle = CA_BUNDLE.read_bytes()
    digest = hashlib.sha256(bundle).hexdigest()
    found = answers(images[name], "-c", FIND_FILE, str(len(bundle)), digest, entrypoint="python3")
    assert found.strip() == ""


def test_the_operator_entry_point_answers(images: dict[str, str]) -> None:
    assert "usage: sensorpipe-operator" in answers(images["operator"], "--help")


@pytest.mark.parametrize("command", ["sensorpipe-gateway", "sensorpipe-sim"])
def test_the_edge_entry_points_answer(images: dict[str, str], command: str) -> None:
    assert f"usage: {command}" in answers(images["edge"], "--help", entrypoint=command)


def test_the_gateway_is_the_edge_images_entry_point(images: dict[str, str]) -> None:
    assert "usage: sensorpipe-gateway" in answers(images["edge"], "--help")


def test_spark_submit_answers_with_the_pinned_version(images: dict[str, str]) -> None:
    out = answers(images["spark"], "spark-submit", "--version")
    assert f"version {pinned_versions()['SPARK_VERSION']}" in out


def test_the_jobs_entry_point_answers(images: dict[str, str]) -> None:
    """The file the operator's SparkApplication runs, and the job's console script."""
    main = MAIN_FILE.removeprefix("local://")
    assert "usage: sensorpipe-spark" in answers(images["spark"], "python3", main, "--help")
    assert "usage: sensorpipe-spark" in answers(images["spark"], "sensorpipe-spark", "--help")
    answers(images["spark"], "python3", "-c", "import delta, pyspark, sensorpipe_spark.main")


def test_the_spark_image_carries_the_connector_and_delta_jars(images: dict[str, str]) -> None:
    """Every jar of hack/fetch-jars.sh's folder (the tests' jars) is in Spark's jars folder,
    unless Spark ships that artifact itself."""
    v = pinned_versions()
    listing = answers(images["spark"], "ls", "/opt/spark/jars/")
    in_image = set(listing.split())
    for jar in (
        f"spark-sql-kafka-0-10_2.13-{v['SPARK_VERSION']}.jar",
        f"spark-token-provider-kafka-0-10_2.13-{v['SPARK_VERSION']}.jar",
        f"delta-storage-{v['DELTA_VERSION']}.jar",
    ):
        assert jar in in_image
    assert any(re.fullmatch(rf"delta-spark_.*2\.13-{v['DELTA_VERSION']}\.jar", j) for j in in_image)
    fetched = ROOT / ".cache" / "jars" / f"spark-{v['SPARK_VERSION']}-delta-{v['DELTA_VERSION']}"
    artifact = re.compile(r"-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$")
    shipped = {artifact.sub("", j) for j in in_image}
    for jar in sorted(p.name for p in fetched.glob("*.jar")):
        assert jar in in_image or artifact.sub("", jar) in shipped, jar


def test_a_second_build_reuses_every_image(images: dict[str, str]) -> None:
    """Nothing changed since the fixture's build, so nothing is rebuilt."""
    proc = subprocess.run(
        ["bash", str(IMAGES_SH), "build"], capture_output=True, text=True, check=True
    )
    assert " built " not in proc.stderr
    for name, ref in images.items():
        assert f"reused {name} {ref}" in proc.stderr
