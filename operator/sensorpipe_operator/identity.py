"""The API's identity, spelled once: the group and version, the labels and annotations the
operator stamps on its children and selects them by, and the time format of every timestamp
it writes or reads (metav1.Time). Builders, the watches, the status writers and the local
runner import these rather than spelling them, so they cannot drift apart.
"""

from __future__ import annotations

GROUP = "iot.sensorpipe.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "sensorpipe"
# What the child watches select on, and what every child carries.
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY}
PIPELINE_LABEL = f"{GROUP}/pipeline"
PART_LABEL = f"{GROUP}/part"
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
APPLIED_ANNOTATION = f"{GROUP}/applied-digest"

# RFC 3339 in UTC with seconds, as the API server writes metav1.Time.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
