import pytest

from sensorpipe_operator.admin_topics import auth_config
from sensorpipe_operator.model.cursor import SecretRef
from sensorpipe_operator.model.kafka import KafkaAuth

pytestmark = pytest.mark.unit
SCRAM = KafkaAuth("scram-sha-512", SecretRef("k"))
SCRAM_TLS = KafkaAuth("scram-sha-512", SecretRef("k"), tls=True)
MTLS = KafkaAuth("tls", SecretRef("k"), tls=True)


def test_scram_plain_and_over_tls():
    plain = auth_config(SCRAM, {"username": "u", "password": "p", "ca.crt": "CA"})
    assert plain == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    tls = auth_config(SCRAM_TLS, {"username": "u", "password": "p", "ca.crt": "CA"})
    assert tls["security.protocol"] == "SASL_SSL"
    assert tls["ssl.ca.pem"] == "CA"


def test_mutual_tls_passes_pem_inline():
    cfg = auth_config(MTLS, {"ca.crt": "CA", "user.crt": "CRT", "user.key": "KEY"})
    assert cfg == {
        "security.protocol": "SSL",
        "ssl.ca.pem": "CA",
        "ssl.certificate.pem": "CRT",
        "ssl.key.pem": "KEY",
    }


def test_missing_key_is_named():
    with pytest.raises(KeyError, match="password"):
        auth_config(SCRAM, {"username": "u"})
    with pytest.raises(KeyError, match="ca.crt"):
        auth_config(SCRAM_TLS, {"username": "u", "password": "p"})
