"""Source specs: the demo files parse, and every mistake names its file, line and fix."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from tributary.contracts.source import SpecErrors, load_spec, load_specs, resolve_env
from tributary.settings import PROJECT_ROOT


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_sources_are_valid():
    specs = {s.name: s for s in load_specs(PROJECT_ROOT / "sources")}
    assert set(specs) == {"hr", "crm", "erp", "finance"}
    assert specs["erp"].table_names() == ["products", "sales_reps", "orders", "order_lines"]
    assert specs["finance"].naming == "duck_case"
    assert specs["hr"].dataset == "raw_hr"


def test_unknown_key_gets_line_and_did_you_mean(tmp_path):
    path = write(
        tmp_path,
        "erp",
        "name: erp\nkind: sql_database\nsql_database:\n  credentials: ${ERP_URL}\n"
        "  tables:\n    - name: orders\n      primary_kee: order_id\n",
    )
    with pytest.raises(SpecErrors) as exc:
        load_spec(path)
    [error] = exc.value.errors
    assert error.line == 7
    assert "primary_kee" in error.message
    assert "did you mean `primary_key`" in error.fix
    assert str(error).startswith(f"{path}:7:")


def test_missing_section_and_bad_yaml_are_reported(tmp_path):
    path = write(tmp_path, "crm", "name: crm\nkind: rest_api\n")
    with pytest.raises(SpecErrors, match="give exactly one section named `rest_api`"):
        load_spec(path)
    broken = write(tmp_path, "hr", "name: hr\nkind: [rest_api\n")
    with pytest.raises(SpecErrors) as exc:
        load_spec(broken)
    assert exc.value.errors[0].line is not None
    assert "not valid YAML" in exc.value.errors[0].message


def test_name_must_match_file_and_errors_collect_across_files(tmp_path):
    write(
        tmp_path,
        "one",
        "name: two\nkind: filesystem\nfilesystem:\n  bucket_url: /x\n"
        "  tables: [{name: a, glob: '*.csv'}]\n",
    )
    write(
        tmp_path,
        "three",
        "name: three\nkind: filesystem\nfilesystem:\n  bucket_url: /x\n"
        "  tables: [{name: a, glob: '*.csv', encoding: klingon}]\n",
    )
    with pytest.raises(SpecErrors) as exc:
        load_specs(tmp_path)
    messages = [str(e) for e in exc.value.errors]
    assert len(messages) == 2
    assert any("differs from the file name" in m for m in messages)
    assert any("unknown encoding 'klingon'" in m and "three.yaml:5" in m for m in messages)


def test_env_references_resolve_and_missing_ones_are_named_not_printed():
    spec = load_spec(PROJECT_ROOT / "sources" / "hr.yaml")
    env = {"HR_BASE_URL": "http://h", "HR_CLIENT_ID": "id", "HR_CLIENT_SECRET": "s3cr3t"}
    resolved = resolve_env(spec, env)
    assert resolved.rest_api["client"]["auth"]["access_token_url"] == "http://h/oauth/token"
    with pytest.raises(KeyError) as exc:
        resolve_env(spec, {"HR_BASE_URL": "http://h", "HR_CLIENT_ID": "id"})
    assert "HR_CLIENT_SECRET" in str(exc.value)


def test_validation_error_at_run_time_never_echoes_a_resolved_secret():
    # Regression: an empty variable beside a real secret made pydantic print the whole input.
    spec = load_spec(PROJECT_ROOT / "sources" / "hr.yaml")
    env = {"HR_BASE_URL": "http://h", "HR_CLIENT_ID": "", "HR_CLIENT_SECRET": "TOPSECRET-abc123"}
    with pytest.raises(ValidationError, match="needs `client_id`") as exc:
        resolve_env(spec, env)
    assert "TOPSECRET" not in str(exc.value) and "TOPSECRET" not in repr(exc.value)


def test_rest_resource_names_must_survive_normalization(tmp_path):
    # Regression: `staffList` became table staff_list while its asset kept staffList.
    path = write(
        tmp_path,
        "hr",
        "name: hr\nkind: rest_api\nrest_api:\n  client: {base_url: 'http://h'}\n"
        "  resources:\n    - name: staffList\n      endpoint: {path: staff}\n",
    )
    with pytest.raises(SpecErrors) as exc:
        load_spec(path)
    [error] = exc.value.errors
    assert error.line == 6 and "name" in error.message


def test_auth_keys_of_the_contract_are_those_of_the_auth_classes():
    """The contract lists the keys of Tributary's own auth classes: a key added to a class
    without the contract would be refused in every source file."""
    from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials

    from tributary.contracts.rest_api import HMAC_KEYS, OAUTH2_KEYS
    from tributary.ingest.kinds.rest_api.auth import HmacAuth, RefreshingOAuth2

    assert set(HmacAuth.get_resolvable_fields()) == HMAC_KEYS
    own = set(RefreshingOAuth2.get_resolvable_fields()) - set(
        OAuth2ClientCredentials.get_resolvable_fields()
    )
    assert own == OAUTH2_KEYS


def test_every_kind_has_its_section_and_its_code():
    """A kind is the Literal's value, SourceSpec's field of that name and one KINDS entry."""
    from typing import get_args

    from tributary.contracts.source import SourceSpec
    from tributary.ingest.kinds import KINDS

    kinds = get_args(SourceSpec.model_fields["kind"].annotation)
    assert set(KINDS) == set(kinds)
    for name, kind in KINDS.items():
        assert kind.name == name
        assert kind.section in get_args(SourceSpec.model_fields[name].annotation)
