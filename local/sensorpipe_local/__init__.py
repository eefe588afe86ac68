"""Running one SensorPipeline on this machine, without Kubernetes (``sensorpipe-local``).

The local runner reads the same spec model and renders the same runtime config documents as
the operator, so that a spec that runs here runs on a cluster; only endpoints and paths are
replaced with local ones (see ``localize``). It is a package of its own so that the operator
image carries none of it, and it finds what it needs through installed packages (the
gateway's and Spark's commands, its own page as package data) or explicit options, never
through the repository's layout. Each module has one job: localising the model
(``localize``), the child processes as data (``processes``), supervising them
(``supervisor``), reading progress (``probes``, ``progress``), the live dashboard
(``view``, ``feed``, ``dashboard``), the report (``run_report``, ``run_report_page``,
``summary``, ``plots``, ``lakeread``, ``topicread``) and the folder that holds a run
(``workdir``).
"""
