"""The server source's pure parts: the location, the API key, error sentences, and the
interrupt-id arithmetic that names asking nodes without a `get_state` per thread."""

from __future__ import annotations

import pytest

from console.core.dburl import parse_db_url
from console.core.errors import UsageError
from console.core.server.client import ServerClient, api_key_from
from console.core.server.mapping import asking_node, task_path_text
from console.settings import load_settings


def test_server_urls() -> None:
    location = parse_db_url("http://127.0.0.1:2024/")
    assert (location.backend, location.target) == ("server", "http://127.0.0.1:2024")
    secret = parse_db_url("HTTPS://me:s3cret@deploy.example.com/api/?api_key=abc#x")
    assert secret.backend == "server"
    assert secret.display() == "https://***@deploy.example.com/api"
    assert "s3cret" not in repr(ServerClient(secret)) and "abc" not in secret.display()
    with pytest.raises(UsageError, match="names no host"):
        parse_db_url("http://:80")
    with pytest.raises(UsageError, match="port is not a number"):
        parse_db_url("http://host:port")


def test_api_key_never_in_settings_repr() -> None:
    settings = load_settings(db="http://h:1", api_key=" k3y ", env={})
    assert settings.api_key == "k3y" and "k3y" not in repr(settings)
    from_env = load_settings(db="http://h:1", env={"LANGGRAPH_API_KEY": "e"})
    assert from_env.api_key == "e"
    assert api_key_from(None, {"LANGGRAPH_API_KEY": ""}) is None
    assert api_key_from("flag", {"LANGGRAPH_API_KEY": "env"}) == "flag"


def test_asking_node_from_interrupt_id() -> None:
    # ids measured on langgraph dev (langgraph 1.2.24): node `gate`, and a Send branch
    task = "46f0f393-e98b-12f2-d4a4-8d6544e1c72b"
    assert asking_node("c472491c99752190c85454b9301cdcfe", task, ["act", "gate"]) == "gate"
    assert asking_node("c472491c99752190c85454b9301cdcfe", task, ["act"]) is None
    from xxhash import xxh3_128_hexdigest

    second = xxh3_128_hexdigest(f"gate:{task}|1".encode())  # the task's second question
    assert asking_node(second, task, ["gate"]) == "gate"


def test_task_path_text_matches_langgraph() -> None:
    from langgraph.pregel._algo import task_path_str

    for path in (["__pregel_pull", "gate"], ["__pregel_push", 0, False],
                 ["__pregel_push", ["__pregel_pull", "x"], 2, True]):
        assert task_path_text(path) == task_path_str(tuple(path))
