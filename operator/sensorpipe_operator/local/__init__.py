"""Running one SensorPipeline on this machine, without Kubernetes.

The local runner reads the same spec model and renders the same runtime config documents as
the operator, so that a spec that runs here runs on a cluster; only endpoints and paths are
replaced with local ones (see ``localize``). Each module has one job: loading the manifest,
localising the model, planning the child processes, supervising them, measuring progress,
serving the dashboard and writing the report.
"""
