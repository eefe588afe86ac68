"""A Spark driver in client mode against a Kubernetes API server, run by test_spark_driver.py as
its own process: it starts with the configuration given as JSON in argv[1] (Spark then creates
its executor ConfigMap and pods through the API), prints ``started <application id>``, and stops
(deleting them again) when a line arrives on stdin.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession


def main() -> None:
    builder = SparkSession.builder
    for key, value in json.loads(sys.argv[1]).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    print("started", spark.sparkContext.applicationId, flush=True)
    sys.stdin.readline()
    spark.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
