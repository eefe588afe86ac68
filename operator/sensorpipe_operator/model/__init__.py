"""The typed model of a ``SensorPipeline`` spec (docs/contracts.md §1), one module per part
of the spec: ``streams``, ``sources``, ``workloads`` (gateways and consumers), ``processing``,
``alerts``, ``kafka``, ``autoscaling``, the rules across parts in ``consistency``, and the
whole ``pipeline`` with ``parse``. ``cursor`` and ``errors`` are what every part reads with.
"""
