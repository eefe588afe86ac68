import pytest

from sensorpipe_operator.admin_topics import auth_config

pytestmark = pytest.mark.unit


def test_scram_plain_and_over_tls():
    plain = auth_config("scram-sha-512", {"username": "u", "password": "p"})
    assert plain == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    tls = auth_config("scram-sha-512", {"username": "u", "password": "p", "ca.crt": "CA"})
    assert tls["security.protocol"] == "SASL_SSL"
    assert tls["ssl.ca.pem"] == "CA"


def test_mutual_tls_passes_pem_inline():
    cfg = auth_config("tls", {"ca.crt": "CA", "user.crt": "CRT", "user.key": "KEY"})
    assert cfg == {
        "security.protocol": "SSL",
        "ssl.ca.pem": "CA",
        "ssl.certificate.pem": "CRT",
        "ssl.key.pem": "KEY",
    }


def test_missing_key_is_named():
    with pytest.raises(KeyError, match="password"):
        auth_config("scram-sha-512", {"username": "u"})
