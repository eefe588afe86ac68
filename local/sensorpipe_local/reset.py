"""``sensorpipe-local reset``: remove what an earlier local run of a pipeline left behind.

A local run resumes from its work directory (Spark checkpoints, the gateways' resume
points). Delete that directory but keep the topics, and the next run replays the old
readings into a new lake while its simulated devices count their sequence numbers from zero
again, so old and new readings collide on (device, seq) and the new ones are dropped as
duplicates. Starting over therefore has to remove all three together: the pipeline's topics,
its consumer groups (``<pipeline>.*``), and the work directory. Run it before the operator or
the runner start, since both create the topics again.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from confluent_kafka import ConsumerGroupState, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from sensorpipe_operator import admin_topics, topics
from sensorpipe_operator.kafka_clients import admin_client
from sensorpipe_operator.model.pipeline import Pipeline

DELETE_TIMEOUT = 60.0


class ResetError(RuntimeError):
    """What could not be removed, by name."""


def pipeline_groups(admin: AdminClient, pipeline: str) -> list[str]:
    """The consumer groups of a pipeline: every group named ``<pipeline>.<part>``."""
    listing = admin.list_consumer_groups().result(timeout=admin_topics.TIMEOUT)
    return sorted(
        g.group_id
        for g in listing.valid
        if g.group_id.startswith(f"{pipeline}.") and g.state != ConsumerGroupState.DEAD
    )


def _delete_groups(admin: AdminClient, groups: list[str]) -> list[str]:
    """Delete ``groups``; returns those deleted. One that is already gone (a listing can
    still show a group the coordinator has just dropped) is not an error."""
    if not groups:
        return []
    deleted, failed = [], {}
    for group, fut in admin.delete_consumer_groups(groups).items():
        exc = fut.exception(timeout=admin_topics.TIMEOUT)
        if exc is None:
            deleted.append(group)
        elif exc.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
            failed[group] = str(exc)
    if failed:
        raise ResetError(f"cannot delete consumer groups: {failed}")
    return deleted


def _wait_gone(admin: AdminClient, names: set[str]) -> None:
    """Kafka deletes topics asynchronously; creating one that is still going away fails."""
    deadline = time.monotonic() + DELETE_TIMEOUT
    while left := names & set(admin.list_topics(timeout=admin_topics.TIMEOUT).topics):
        if time.monotonic() > deadline:
            raise ResetError(f"topics still present after {DELETE_TIMEOUT:.0f}s: {sorted(left)}")
        time.sleep(0.5)


def reset(pipeline: Pipeline, work_dir: Path) -> list[str]:
    """Delete the pipeline's topics, consumer groups and work directory; returns what went."""
    bootstrap = pipeline.kafka.bootstrap_servers
    admin = admin_client({"bootstrap.servers": bootstrap})
    names = [p.name for p in topics.desired_topics(pipeline)]
    try:
        # Groups first: Kafka drops a group's offsets with its topics, and an emptied group
        # may or may not be gone by the time we list, which would make the report vary.
        groups = _delete_groups(admin, pipeline_groups(admin, pipeline.name))
        existing = set(admin.list_topics(timeout=admin_topics.TIMEOUT).topics)
        doomed = [n for n in names if n in existing]
        errors = admin_topics.delete(admin, doomed)
        if errors:
            raise ResetError(f"cannot delete topics: {errors}")
        _wait_gone(admin, set(doomed))
    except (KafkaException, TimeoutError) as exc:  # the admin futures time out on their own
        raise ResetError(f"cannot reach Kafka at {bootstrap}: {exc or 'timed out'}") from None
    removed = [f"topic {n}" for n in doomed] + [f"consumer group {g}" for g in groups]
    if work_dir.exists():
        shutil.rmtree(work_dir)
        removed.append(f"work directory {work_dir}")
    return removed
