"""The OpenAPI 3 schema (drf-spectacular) and a docs page rendered from it on the server: no
Swagger UI or Redoc bundle, nothing from a CDN, nothing the Content-Security-Policy must allow."""

from __future__ import annotations

from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

METHODS = ("get", "post", "put", "patch", "delete")


class SchemaView(SpectacularAPIView):
    """`/api/v1/schema/`: YAML, or JSON with `?format=json` or `Accept: application/vnd.oai.openapi+json`."""

    permission_classes = [AllowAny]
    authentication_classes = []


def api_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _type(schema: dict, components: dict) -> str:
    """A short type for a property: `string`, `integer or null`, `list of string`, `Options`."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "allOf" in schema:
        return " & ".join(_type(part, components) for part in schema["allOf"])
    if "oneOf" in schema:
        return " or ".join(_type(part, components) for part in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        kind = f"list of {_type(schema.get('items', {}), components)}"
    elif kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        kind = f"map of {_type(extra, components) if isinstance(extra, dict) else 'any'}"
    if schema.get("enum"):
        kind += f" ({', '.join(str(e) for e in schema['enum'] if e is not None)})"
    if schema.get("nullable"):
        kind += " or null"
    return kind


def _fields(ref: str | None, components: dict) -> list[dict]:
    if not ref:
        return []
    schema = components.get(ref.rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type(prop, components),
            "required": name in required,
            "read_only": prop.get("readOnly", False),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _body_ref(content: dict | None) -> str | None:
    schema = ((content or {}).get("application/json") or {}).get("schema", {})
    if schema.get("type") == "array":
        schema = schema.get("items", {})
    return schema.get("$ref")


def operations(schema: dict) -> list[dict]:
    """The schema's operations grouped by tag, each with its parameters, body fields and answers."""
    components = schema.get("components", {}).get("schemas", {})
    groups: dict[str, list[dict]] = {}
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = op.get("requestBody", {}).get("content")
            ok = next((r for code, r in op.get("responses", {}).items() if code.startswith("2")), {})
            groups.setdefault((op.get("tags") or ["api"])[0], []).append(
                {
                    "id": op.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "type": _type(p.get("schema", {}), components),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _fields(_body_ref(body), components),
                    "answer": _fields(_body_ref(ok.get("content")), components),
                    "responses": [
                        (code, r.get("description", "")) for code, r in op.get("responses", {}).items()
                    ],
                }
            )
    return sorted(groups.items())


def docs_page(request):
    """`/api/v1/docs/`: every endpoint, its parameters, body and answers, from the live schema."""
    schema = api_schema()
    context = {"info": schema.get("info", {}), "groups": operations(schema)}
    return render(request, "backups/api_docs.html", context)
