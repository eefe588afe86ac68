"""The API's identity, spelled once: the group, version and kind, the labels and annotations
the operator stamps on its children and selects them by, the field managers of server-side
apply, the time format of every timestamp it writes or reads (metav1.Time), and where a child
finds its runtime config document. Every part imports these rather than spelling them, so
they cannot drift apart.
"""

from __future__ import annotations

GROUP = "iot.sensorpipe.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SensorPipeline"
PLURAL = "sensorpipelines"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "sensorpipe"
# What the child watches select on, and what every child carries.
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY}
PIPELINE_LABEL = f"{GROUP}/pipeline"
PART_LABEL = f"{GROUP}/part"
FINALIZER = f"{GROUP}/finalizer"  # only with the admin topic backend deleting topics
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
APPLIED_ANNOTATION = f"{GROUP}/applied-digest"

# Server-side apply field managers: the operator's children, and the fields the autoscaler
# owns on them (docs/contracts.md §6).
OPERATOR_MANAGER = "sensorpipe"
AUTOSCALER_MANAGER = "sensorpipe-autoscaler"

# RFC 3339 in UTC with seconds, as the API server writes metav1.Time.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Where the operator mounts a child's runtime config document (and the Kafka TLS files);
# the gateway, the notifier and the Spark jobs read it there unless told otherwise.
CONFIG_DIR = "/etc/sensorpipe"
CONFIG_KEY = "pipeline.json"
CONFIG_PATH = f"{CONFIG_DIR}/{CONFIG_KEY}"
TLS_DIR = f"{CONFIG_DIR}/kafka-tls"
