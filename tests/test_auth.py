"""Tokens and roles (``auth``): configuration from the environment and from a token file,
role order, and the per-graph rule of who may write what."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimsgraph.auth import Principal, TokenRegistry, require, require_write, role_to_write
from aimsgraph.config import Settings
from aimsgraph.errors import ConfigError, Forbidden, Unauthorized
from aimsgraph.namespaces import Graphs

EDITOR = "editor-token-0123456789"


def registry(tmp_path: Path, **env: str) -> TokenRegistry:
    return TokenRegistry.from_settings(Settings.from_env({"AIMSGRAPH_DATA_DIR": str(tmp_path), **env}))


def test_tokens_from_the_environment_and_a_file(tmp_path: Path):
    token_file = tmp_path / "tokens"
    token_file.write_text("# role name token\nadmin  ada  admin-token-0123456789  # the administrator\n\n")
    tokens = registry(tmp_path, AIMSGRAPH_TOKENS=f"editor:erin:{EDITOR}", AIMSGRAPH_TOKEN_FILE=str(token_file))
    assert tokens.principal(f"Bearer {EDITOR}") == Principal("erin", "editor")
    assert tokens.principal("bearer admin-token-0123456789") == Principal("ada", "admin")
    assert tokens.principal(None) is None
    for header in ("Bearer wrong-token-0123456789", "Basic YWxhZGRpbjpvcGVu", "Bearer "):
        with pytest.raises(Unauthorized):
            tokens.principal(header)


def test_settings_never_show_tokens(tmp_path: Path):
    settings = Settings.from_env({"AIMSGRAPH_DATA_DIR": str(tmp_path), "AIMSGRAPH_TOKENS": f"editor:erin:{EDITOR}"})
    assert EDITOR not in repr(settings)


@pytest.mark.parametrize(
    "entry, message",
    [
        ("editor:erin", "role:name:token"),
        (f"owner:erin:{EDITOR}", "must be one of"),
        (f"{EDITOR}:editor:erin", "must be one of"),
        ("editor:erin:short", "shorter than 16"),
    ],
)
def test_bad_token_configuration_is_refused_without_echoing_the_token(tmp_path: Path, entry: str, message: str):
    with pytest.raises(ConfigError, match=message) as error:
        registry(tmp_path, AIMSGRAPH_TOKENS=entry)
    assert EDITOR not in str(error.value) and "short" not in str(error.value).replace("shorter", "")


def test_roles_and_graphs(tmp_path: Path):
    tokens = registry(tmp_path, AIMSGRAPH_TOKENS=f"editor:erin:{EDITOR}")
    editor, reader = Principal("erin", "editor"), Principal("rita", "reader")
    assert require(editor, "reader", "reading", tokens) == editor
    with pytest.raises(Forbidden, match="needs the editor role"):
        require(reader, "editor", "writing", tokens)
    with pytest.raises(Unauthorized, match="bearer token"):
        require(None, "editor", "writing", tokens)
    with pytest.raises(Unauthorized, match="read-only"):
        require(None, "editor", "writing", registry(tmp_path))
    assert role_to_write(Graphs.DATA) == "editor" and role_to_write("http://example.org/mine") == "editor"
    assert role_to_write(Graphs.ONTOLOGY) == role_to_write(Graphs.CATALOGUE) == "admin"
    with pytest.raises(Forbidden, match="kept by aimsgraph"):
        role_to_write(Graphs.CHANGES)
    with pytest.raises(Forbidden, match="admin"):
        require_write(editor, {Graphs.DATA, Graphs.ONTOLOGY}, tokens)
