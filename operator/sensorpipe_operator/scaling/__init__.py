"""Scaling a pipeline's consumers with the load measured in Kafka.

The parts, each with one job: ``lag`` reads offsets from the broker, ``window`` turns
snapshots into lag and rates over a sliding window, ``policy`` decides (pure, with its own
state), ``actuate`` patches the scaled object, ``publish`` posts events and metrics,
``status`` shapes ``status.scaling`` and ``handlers`` wires them to kopf through one
operator-wide loop. Each poll's result per target is a ``status.TargetOutcome``.
"""
