"""Scaling a pipeline's consumers with the load measured in Kafka.

The parts, each with one job: ``measure`` reads offsets from the broker, ``window`` turns
snapshots into lag and rates over a sliding window, ``policy`` decides (pure, with its own
state), ``actuate`` patches the scaled object, ``report`` writes events and metrics,
``status`` shapes ``status.scaling`` and ``handlers`` wires them to kopf through one
operator-wide loop.
"""
