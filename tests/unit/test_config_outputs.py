"""`[[outputs]]`: validation with messages naming the key, secrets from the credentials
directory, secrets masked by check-config, bad event kinds refused by every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sputnik_edge.cli import main
from sputnik_edge.config import ConfigError, load_config
from sputnik_edge.config_outputs import MqttOutput, WebhookOutput
from tests.conftest import clear_config_env

HEAD = '[[cameras]]\nid = "entrance"\nsource = "/dev/null"\n'
HOOK = '[[outputs]]\nid = "hr"\nkind = "webhook"\nurl = "https://u:url-pw@hr.example/x"\n'
MQTT = '[[outputs]]\nid = "home"\nkind = "mqtt"\nhost = "broker.lan"\n'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HEAD + text)
    return path


def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **files: str) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    for name, value in files.items():
        (creds / name).write_text(value + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))


def test_secrets_come_from_the_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials(tmp_path, monkeypatch, output_hr_secret="s3cr3t", output_home_password="mq-pw")
    s = load_config(write(tmp_path, HOOK + 'secret = "from-toml"\n' + MQTT + 'username = "dev"\n'))
    hook, mqtt = s.outputs
    assert isinstance(hook, WebhookOutput) and isinstance(mqtt, MqttOutput)
    assert hook.secret.get_secret_value() == "s3cr3t"  # the credential wins over the file
    assert (
        mqtt.password.get_secret_value() == "mq-pw" and mqtt.port == 1883 and mqtt.topic_prefix == "sputnik"
    )
    assert hook.events == [] and hook.include_snapshot is False and hook.max_backlog == 100_000


def test_webhook_without_a_secret_names_the_credential(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"outputs\[0\]\.webhook: .*output_hr_secret in \$CREDENTIALS_DIRECTORY"
    ):
        load_config(write(tmp_path, HOOK))
    load_config(write(tmp_path, HOOK + "enabled = false\n"))  # a disabled one may stay without


@pytest.mark.parametrize(
    ("text", "must_name"),
    [
        (
            HOOK.replace("https://u:url-pw@hr.example/x", "ftp://x") + 'secret = "k"\n',
            "outputs[0].webhook.url",
        ),
        (HOOK + 'secret = "k"\ncameras = ["garage"]\n', "outputs[0].cameras: no camera with id 'garage'"),
        (HOOK + 'secret = "k"\n' + HOOK + 'secret = "k"\n', "duplicate output id(s): hr"),
        (MQTT + "qos = 2\n", "outputs[0].mqtt.qos: unknown key"),
        (MQTT + 'topic_prefix = "a/#"\n', "outputs[0].mqtt.topic_prefix"),
        ('[[outputs]]\nid = "x"\nkind = "kafka"\n', "outputs[0]"),
        (HOOK + 'secret = "k"\nheaders = { Idempotency-Key = "x" }\n', "set by the device"),
        (MQTT + "backoff_initial_s = 10\nbackoff_max_s = 1\n", "backoff_max_s must not be below"),
        (
            HOOK + 'secret = "k"\n' + MQTT + 'tls = true\nca_file = "/nonexistent/ca.pem"\n',
            "outputs[1].ca_file: no such file: /nonexistent/ca.pem",
        ),
    ],
)
def test_bad_outputs_name_the_key(tmp_path: Path, text: str, must_name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert must_name in str(err.value)
    assert "url-pw" not in str(err.value)


def test_unknown_event_kind_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MQTT + 'events = ["unknown", "intruder"]\n')
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "outputs[0].events: unknown event kind(s) 'intruder'" in err and "check_in" in err


def test_check_config_masks_output_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials(tmp_path, monkeypatch, output_hr_secret="s3cr3t-hook", output_home_password="mq-pw-9")
    text = HOOK + 'headers = { Authorization = "Bearer tok-77" }\n' + MQTT
    assert main(["check-config", "--config", str(write(tmp_path, text))]) == 0
    out = capsys.readouterr().out
    for secret in ("s3cr3t-hook", "mq-pw-9", "tok-77", "url-pw"):
        assert secret not in out
    hook, mqtt = json.loads(out)["outputs"]
    assert hook["secret"] == "***" and hook["headers"] == {"Authorization": "***"}
    assert hook["url"] == "https://***@hr.example/x" and mqtt["password"] == "***"


def test_an_existing_ca_file_or_a_disabled_output_passes(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    load_config(write(tmp_path, MQTT + f'tls = true\nca_file = "{ca}"\n'))
    load_config(write(tmp_path, MQTT + 'enabled = false\nca_file = "/nonexistent/ca.pem"\n'))
