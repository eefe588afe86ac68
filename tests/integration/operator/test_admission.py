"""Every mistake of tests/invalid_specs.py, against the real API server and the running
operator (issue #18): ``kubectl apply --server-side`` refuses it naming the field, or it
passes the CRD and the operator sets ``InvalidSpec`` naming the field before touching any
child. ``sensorpipe validate`` (the CRD's rules offline plus the model) agrees with both.
The operator is still alive at the end."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from sensorpipe_operator import crdcheck
from sensorpipe_operator.manifest import admit
from sensorpipe_operator.model.errors import SpecError
from tests.invalid_specs import CASES, Case, manifest_of

from .harness import children, get_pipeline, kubectl_apply, wait_condition

pytestmark = pytest.mark.integration
CRD = crdcheck.REPO_CRD


@pytest.fixture(scope="module")
def schema() -> crdcheck.Schema:
    return crdcheck.load_schema(CRD)


@pytest.fixture(scope="module")
def seen(shared_operator) -> Iterator[list[str]]:
    """The cases that reached the operator; after the module, the operator must be alive."""
    reached: list[str] = []
    yield reached
    assert shared_operator.proc is not None
    assert shared_operator.proc.poll() is None, shared_operator.tail()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mistake_is_refused_by_the_server_or_the_operator_naming_the_field(
    admin, shared_namespace, shared_operator, schema, seen, case: Case
):
    name = f"adm-{CASES.index(case)}"
    manifest = manifest_of(case, name, shared_namespace)
    with pytest.raises(SpecError) as offline:
        admit(manifest, schema)
    assert case.field in str(offline.value)
    proc = kubectl_apply(manifest, "admission-test")
    if proc.returncode != 0:
        assert case.field in proc.stderr, proc.stderr
        return
    seen.append(case.id)
    try:
        cond = wait_condition(
            admin, shared_namespace, name, "Ready", "InvalidSpec", shared_operator
        )
        assert case.field in cond["message"], cond
        assert str(offline.value).startswith(cond["message"].split(":")[0])
        body = get_pipeline(admin, shared_namespace, name)
        assert body is not None
        assert body["status"]["phase"] == "Failed"
        assert children(admin, shared_namespace, name) == {}
    finally:
        subprocess.run(
            ["kubectl", "-n", shared_namespace, "delete", "sensorpipeline", name, "--wait=false"],
            capture_output=True,
            check=False,
        )
