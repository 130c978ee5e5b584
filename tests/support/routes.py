"""The app's routes as a client meets them: OpenAPI operations with request bodies built from
their schemas, the web pages' routes from the route table, and the forms a page carries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from fastapi import FastAPI

PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def path_parameters(template: str) -> list[str]:
    """The names of a path template's parameters, in order."""
    return PATH_PARAMETER.findall(template)


def fill_path(template: str, values: dict[str, str]) -> str:
    """The template with each parameter replaced by its value (as a client sends it, unquoted)."""
    return PATH_PARAMETER.sub(lambda match: values[match.group(1)], template)


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    """Every route of the app with its full path, included routers flattened."""
    try:  # FastAPI 0.16x includes routers lazily; older releases copy their routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - depends on the FastAPI release installed
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def page_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every web page: the routes left out of the OpenAPI document."""
    found = []
    for route in _route_contexts(app):
        methods = getattr(route, "methods", None)
        if not methods or getattr(route, "include_in_schema", True):
            continue
        for method in sorted(methods - {"HEAD"}):
            found.append((method, route.path))
    return found


@dataclass(frozen=True)
class Operation:
    """One method of one OpenAPI path."""

    method: str
    template: str
    spec: dict[str, Any]

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    def body_content(self) -> dict[str, Any]:
        """The request body's media types and their schemas (empty without a body)."""
        return self.spec.get("requestBody", {}).get("content", {})


def operations(openapi: dict[str, Any]) -> list[Operation]:
    """Every operation of an OpenAPI document."""
    return [
        Operation(method.upper(), template, spec)
        for template, item in openapi["paths"].items()
        for method, spec in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]


MISSING = object()


@dataclass
class ExampleMaker:
    """A plausible instance of a JSON schema: `value_for(name, schema)` chooses a property's
    value (or MISSING for the default by type); required properties and those it chooses
    are filled in."""

    components: dict[str, Any]
    value_for: Callable[[str, dict[str, Any]], Any]
    _depth: int = field(default=0)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [s for s in schema[key] if self.resolve(s).get("type") != "null"]
                if options:
                    return self.resolve(options[0]) | {
                        k: v for k, v in schema.items() if k not in (key,)
                    }
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.resolve(schema["allOf"][0])
        return schema

    def example(self, schema: dict[str, Any], name: str = "") -> Any:
        schema = self.resolve(schema)
        chosen = self.value_for(name, schema) if name else MISSING
        if chosen is not MISSING:
            return chosen
        if "enum" in schema:
            return schema["enum"][0]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self.instance(schema)
        if kind == "array":
            return [self.example(schema.get("items", {}), name)]
        if kind == "integer":
            return max(schema.get("minimum", 1), 1)
        if kind == "number":
            return 1.0
        if kind == "boolean":
            return True
        text = "walk"
        return text.ljust(schema.get("minLength", 0), "x")[: schema.get("maxLength", 64)]

    def instance(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = self.resolve(schema)
        required = set(schema.get("required", ()))
        body = {}
        for name, property_schema in schema.get("properties", {}).items():
            chosen = self.value_for(name, self.resolve(property_schema))
            if chosen is not MISSING:
                body[name] = chosen
            elif name in required:
                body[name] = self.example(property_schema, name)
        return body


@dataclass
class Form:
    """A form of a page: where it posts and the fields a browser would send as it stands."""

    action: str
    method: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    empty: set[str] = field(default_factory=set)  # text fields the person fills in
    files: set[str] = field(default_factory=set)  # file fields


class FormReader(HTMLParser):
    """The forms of an HTML page (inputs, selects, textareas; checked boxes and radios only)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.forms.append(
                Form(attributes.get("action", ""), attributes.get("method", "get").upper())
            )
            return
        if tag == "option" and self._select is not None:
            values = self.forms[-1].fields[self._select]
            if not values or "selected" in attributes:
                self.forms[-1].fields[self._select] = [attributes.get("value", "")]
            return
        if not self.forms or not attributes.get("name"):
            return
        form, name = self.forms[-1], attributes["name"]
        if tag == "input":
            kind = attributes.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                form.fields.setdefault(name, [])
                return
            if kind == "file":
                form.files.add(name)
                return
            if kind in ("submit", "button"):
                return
            value = attributes.get("value", "")
            form.fields.setdefault(name, []).append(value)
            if not value:
                form.empty.add(name)
        elif tag == "select":
            self._select = name
            form.fields.setdefault(name, [])
        elif tag == "textarea":
            self._textarea = name
            form.fields[name] = [""]
            form.empty.add(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and data.strip():
            self.forms[-1].fields[self._textarea] = [data]
            self.forms[-1].empty.discard(self._textarea)


def forms_of(html: str) -> list[Form]:
    """The forms of a page."""
    reader = FormReader()
    reader.feed(html)
    return reader.forms
