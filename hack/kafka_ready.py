"""Exit 0 once the Kafka broker answers a metadata request, 1 otherwise.

An open port is not enough: a KRaft broker accepts connections before its metadata is
loaded, and clients that connect then fail their first requests.
"""

import sys

from confluent_kafka.admin import AdminClient


def main() -> int:
    admin = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 3000})
    try:
        md = admin.list_topics(timeout=3)
    except Exception as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1
    return 0 if md.brokers else 1


if __name__ == "__main__":
    sys.exit(main())
