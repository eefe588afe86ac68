"""`sensorpipe-spark`: the entry point of the streaming job and of the daily report.

The SparkApplication runs this file directly
(`local:///opt/sensorpipe/spark_apps/sensorpipe_spark/main.py stream --config ...`), so it
also works when executed as a script, not only as the installed console command.

    sensorpipe-spark stream --config pipeline.json [--available-now] [overrides]
    sensorpipe-spark report --config pipeline.json --date YYYY-MM-DD --out DIR

Processing rules come only from the config document; the overrides are local paths and
endpoints, each also settable by environment variable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sensorpipe_contract import identity
from sensorpipe_spark import config, offsets, report, schema, session, streaming


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sensorpipe-spark", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=os.environ.get("SENSORPIPE_CONFIG", identity.CONFIG_PATH),
        help="runtime config document (sensorpipe_contract/runtime-config.schema.json)",
    )
    common.add_argument(
        "--lake-path",
        default=os.environ.get("SENSORPIPE_LAKE_PATH"),
        help="override processing.sinks.lake.path",
    )
    common.add_argument(
        "--master",
        default=os.environ.get(session.MASTER_ENV),
        help="Spark master, e.g. local[2]; default: as spark-submit set it",
    )
    s = sub.add_parser("stream", parents=[common], help="run the streaming job")
    s.add_argument(
        "--checkpoint-path",
        default=os.environ.get("SENSORPIPE_CHECKPOINT_PATH"),
        help="override processing.checkpointPath",
    )
    s.add_argument(
        "--bootstrap",
        default=os.environ.get("SENSORPIPE_KAFKA_BOOTSTRAP"),
        help="override kafka.bootstrapServers",
    )
    s.add_argument(
        "--pg-dsn-env", default=None, help="name of the variable holding the PostgreSQL DSN"
    )
    s.add_argument(
        "--available-now",
        action="store_true",
        help="process what is in Kafka now, then stop (catch-up runs, tests)",
    )
    s.add_argument(
        "--trigger", type=float, default=None, help="override the trigger interval, seconds"
    )
    r = sub.add_parser("report", parents=[common], help="write the per-day report")
    r.add_argument(
        "--date", required=True, type=dt.date.fromisoformat, help="day to report, YYYY-MM-DD (UTC)"
    )
    r.add_argument("--out", required=True, help="output folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen job; the exit status is the job's."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg = config.load(args.config).with_overrides(lake_path=args.lake_path)
    delta = cfg.lake_format == "delta"
    if args.command == "report":
        spark = session.build(f"{cfg.pipeline}-report", args.master, delta=delta)
        summary = report.run(spark, cfg, args.date, args.out)
        logging.info("report written to %s: %s", args.out, summary["rows"])
        spark.stop()
        return 0
    cfg = cfg.with_overrides(
        checkpoint_path=args.checkpoint_path,
        bootstrap_servers=args.bootstrap,
        pg_dsn_env=args.pg_dsn_env,
    )
    spark = session.build(f"{cfg.pipeline}-stream", args.master, delta=delta)
    job = streaming.StreamingJob(spark, cfg, schema.load())
    # progress for the autoscaler
    spark.streams.addListener(offsets.OffsetCommitter(cfg, streaming.query_name(cfg, "ingest")))
    job.ensure_sinks()
    if args.available_now:
        job.drain()
    else:
        job.run_forever(args.trigger)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
