"""OpenAPI 3.1 from the declarations: each dataset's paths, parameters and row schema, with the
dbt docs' descriptions and the dictionary's classification (``x-classification``), and the
OAuth2 scopes. Nothing here is written by hand per dataset."""

from __future__ import annotations

from tributary.contracts.api import Api, ApiField, Dataset

_TYPES = {
    "varchar": {"type": "string"},
    "bigint": {"type": "integer", "format": "int64"},
    "integer": {"type": "integer", "format": "int32"},
    "decimal": {"type": "string", "format": "decimal"},  # exact: sent as text
    "double": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
}
PROBLEM = {"$ref": "#/components/schemas/Problem"}
AKSK = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Tributary-Key",
    "description": "AK/SK request signing: with X-Tributary-Timestamp, X-Tributary-Nonce and "
    "X-Tributary-Signature (HMAC-SHA256 over method, path, sorted query, timestamp and nonce; "
    "docs/api.md).",
}
MASK_NOTE = " Masked as `***` unless the token has the scope `personal:{dataset}:{kind}`."


def field_schema(dataset: Dataset, field: ApiField) -> dict:
    base = field.data_type.split("(")[0]
    if base.endswith("[]"):
        schema = {"type": ["array", "null"], "items": _TYPES.get(base[:-2], {"type": "string"})}
    else:
        found = dict(_TYPES.get(base, {"type": "string"}))
        kinds = [found["type"]] + (
            ["string"] if field.personal and found["type"] != "string" else []
        )
        schema = {**found, "type": [*kinds, "null"]}
    note = MASK_NOTE.format(dataset=dataset.name, kind=field.personal) if field.personal else ""
    extra = {"x-personal-data": field.personal} if field.personal else {}
    return {
        **schema,
        "description": field.description + note,
        "x-classification": field.classification,
        "x-duckdb-type": field.data_type,
        **extra,
    }


def _parameters(api: Api, dataset: Dataset) -> list[dict]:
    def param(name: str, description: str, schema: dict) -> dict:
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema}  # fmt: skip

    sorts = [s for name in dataset.sort for s in (name, f"-{name}")]
    params = [
        param("fields", "Comma-separated fields to return (default: all).", {"type": "string"}),
        param("sort", "Field to sort by; `-` before it for descending. Ties: the id.",
              {"type": "string", "enum": sorts, "default": dataset.id}),
        param("limit", "Rows per page.", {"type": "integer", "minimum": 1,
              "maximum": api.page_size.max, "default": api.page_size.default}),
        param("cursor", "The `next` of the previous page.", {"type": "string"}),
        param("format", "json or csv.", {"type": "string", "enum": ["json", "csv"]}),
    ]  # fmt: skip
    for name in dataset.filter:
        field = dataset.fields[name]
        plain = {k: v for k, v in _TYPES.get(field.data_type.split("(")[0], {}).items()}
        params.append(param(name, f"Equal to. {field.description}", plain))
        for op, words in (("gte", "At least"), ("lte", "At most"), ("in", "One of (commas)")):
            schema = {"type": "string"} if op == "in" else plain
            params.append(param(f"{name}[{op}]", f"{words}.", schema))
        if field.data_type.startswith("varchar"):
            params.append(param(f"{name}[like]", "SQL LIKE pattern (% and _).", plain))
    return params


def _errors(*statuses: int) -> dict:
    content = {"application/problem+json": {"schema": PROBLEM}}
    return {str(s): {"description": TEXT[s], "content": content} for s in statuses}


TEXT = {400: "Bad query", 401: "No valid token", 403: "Not granted", 404: "Not found",
        409: "The cursor's snapshot was replaced: page again", 429: "Rate limit: see Retry-After",
        503: "The query ran past its time limit"}  # fmt: skip


def _paths(api: Api, dataset: Dataset) -> dict:
    row = {"$ref": f"#/components/schemas/{dataset.name}"}
    security = [{"oauth2": [f"read:{dataset.name}"]}, {"aksk": []}]
    next_url = {"type": ["string", "null"], "description": "The next page's URL."}
    page = {
        "type": "object",
        "properties": {"data": {"type": "array", "items": row}, "next": next_url},
    }
    listing = {
        "summary": f"List {dataset.name}", "description": dataset.description,
        "operationId": f"list_{dataset.name}", "tags": [dataset.name], "security": security,
        "parameters": _parameters(api, dataset),
        "responses": {"200": {"description": "One page; `Link: <…>; rel=\"next\"` when more",
                              "content": {"application/json": {"schema": page},
                                          "text/csv": {"schema": {"type": "string"}}}},
                      **_errors(400, 401, 403, 409, 429, 503)},
    }  # fmt: skip
    one = {
        "summary": f"One of {dataset.name} by {dataset.id}", "operationId": f"get_{dataset.name}",
        "tags": [dataset.name], "security": security,
        "parameters": [{"name": "key", "in": "path", "required": True,
                        "description": dataset.fields[dataset.id].description,
                        "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The row",
                              "content": {"application/json": {"schema": row}}},
                      **_errors(400, 401, 403, 404, 429, 503)},
    }  # fmt: skip
    return {f"/v1/{dataset.name}": {"get": listing}, f"/v1/{dataset.name}/{{key}}": {"get": one}}


def openapi_spec(api: Api) -> dict:
    scopes = {}
    for d in api.datasets.values():
        scopes[f"read:{d.name}"] = f"Read {d.name}."
        for kind in sorted({f.personal for f in d.fields.values() if f.personal}):
            scopes[f"personal:{d.name}:{kind}"] = f"See {kind} data in {d.name} unmasked."
    schemas = {
        d.name: {"type": "object", "description": d.description,
                 "properties": {n: field_schema(d, f) for n, f in d.fields.items()}}
        for d in api.datasets.values()
    }  # fmt: skip
    schemas["Problem"] = {"type": "object", "description": "RFC 9457 problem details",
                          "properties": {k: {"type": t} for k, t in (("type", "string"),
                          ("title", "string"), ("status", "integer"), ("detail", "string"),
                          ("instance", "string"))}}  # fmt: skip
    paths = {}
    for dataset in api.datasets.values():
        paths.update(_paths(api, dataset))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tributary Data API", "version": "1",
                 "description": "The analyst snapshot's datasets, read-only (docs/api.md)."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"oauth2": {
            "type": "oauth2", "flows": {"clientCredentials": {
                "tokenUrl": "/oauth/token", "scopes": scopes}}}, "aksk": AKSK}},
    }  # fmt: skip
