"""ServiceAccounts for the children. Only the Spark driver calls the Kubernetes API (it creates
its executors), so only its token is mounted. The executors get an account of their own: run as
the driver's, each would carry a token that may create pods, for no use of theirs."""

from __future__ import annotations

from typing import Any

from sensorpipe_operator.builders.common import metadata, service_account_name
from sensorpipe_operator.model.pipeline import Pipeline


def _account(pipeline: Pipeline, role: str, automount: bool) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(
            pipeline, service_account_name(pipeline, role), "serviceaccount", role
        ),
        "automountServiceAccountToken": automount,
    }


def build(pipeline: Pipeline) -> list[dict[str, Any]]:
    accounts = [
        _account(pipeline, "spark", automount=True),
        _account(pipeline, "spark-executor", automount=False),
    ]
    if pipeline.gateways:
        accounts.append(_account(pipeline, "gateway", automount=False))
    if pipeline.consumers:
        accounts.append(_account(pipeline, "consumer", automount=False))
    return accounts
