"""A local stand-in for Cloudflare's v4 API.

D1's query endpoint runs the SQL for real, in an in-memory SQLite database,
with one transaction per request as D1 runs one batch per query: so
migrations really execute, and a broken one really fails and rolls back.

Worker scripts keep their Durable Object migration tag and classes, and an
upload's migrations are held to Cloudflare's tag precondition: they must
start from the script's current tag (`old_tag`, absent for a script with
none), or the upload fails with code 10079 and changes nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply

__all__ = ["FakeCloudflare", "Reply", "failure", "success"]

ACCOUNT_ID = "023e105f4ecef8ad9ca31a8372d0c353"
DATABASE_ID = "f1d3c2b4-5a6e-4f70-8a9b-0c1d2e3f4a5b"
TOKEN = "cf-api-token-never-to-be-seen"
SETTING = "orchestra:cloudflareApiToken"
"""Where the dynamic providers find the token: the stack setting their resources name."""
API_PREFIX = "/client/v4"


def success(result: Any) -> dict[str, Any]:
    return {"result": result, "success": True, "errors": [], "messages": []}


def failure(code: int, message: str) -> dict[str, Any]:
    return {"result": None, "success": False, "errors": [{"code": code, "message": message}], "messages": []}


@dataclass
class Script:
    migration_tag: str | None = None
    classes: set[str] = field(default_factory=set)
    uploads: int = 0


class FakeCloudflare(FakeApi):
    """Answers like Cloudflare's D1 query, Vectorize v2 and Workers script APIs for one account
    and one database, unless a test scripts the next replies (`None` answers normally).
    `tokens` are the API tokens it accepts; a test revokes one by removing it."""

    def __init__(self) -> None:
        super().__init__()
        self.database = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self.indexes: dict[str, dict[str, Any]] = {}
        self.metadata_indexes: dict[str, list[dict[str, str]]] = {}
        self.scripts: dict[str, Script] = {}
        self.tokens = {TOKEN}
        self.api_base = f"{self.base_url}{API_PREFIX}"

    def answer(self, request: RecordedRequest) -> Reply:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or authorization.removeprefix("Bearer ") not in self.tokens:
            return Reply(403, failure(10000, "Authentication error"))
        account = f"{API_PREFIX}/accounts/{ACCOUNT_ID}"
        if request.method == "POST" and request.path == f"{account}/d1/database/{DATABASE_ID}/query":
            body = request.json()
            return self.query(body["sql"], body.get("params", []))
        service = re.fullmatch(rf"{account}/workers/services/([^/]+)", request.path)
        if request.method == "GET" and service is not None:
            return self.service(service.group(1))
        script = re.fullmatch(rf"{account}/workers/scripts/([^/]+)", request.path)
        if request.method == "PUT" and script is not None:
            return self.upload(script.group(1), request)
        match = re.fullmatch(rf"{account}/vectorize/v2/indexes(?:/([^/]+)(/.*)?)?", request.path)
        if match is None:
            return Reply(404, failure(7003, f"Could not route to {request.path}"))
        name, rest = match.groups()
        if name is None:
            return self.create_index(request.json()) if request.method == "POST" else self.not_found()
        if name not in self.indexes:
            return Reply(404, failure(3000, "vectorize.index.not_found"))
        return self.index_operation(request, name, rest or "")

    def query(self, sql: str, params: list[Any] | None = None) -> Reply:
        """Every statement of `sql` in one transaction, as D1 runs one batch per query.
        `params` bind to a single statement, and must be strings, the only type D1 documents."""
        statements = split_statements(sql)
        if params and (len(statements) != 1 or not all(isinstance(param, str) for param in params)):
            return Reply(400, failure(7400, "params bind string values to a single statement"))
        results = []
        self.database.execute("BEGIN")
        try:
            for statement in statements:
                cursor = self.database.execute(statement, params or ())
                columns = [column[0] for column in cursor.description or ()]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
                results.append({"results": rows, "success": True, "meta": {"changes": cursor.rowcount}})
        except sqlite3.Error as error:
            self.database.execute("ROLLBACK")
            return Reply(400, failure(7500, f"{error}: SQLITE_ERROR"))
        self.database.execute("COMMIT")
        return Reply(200, success(results))

    def create_index(self, body: dict[str, Any]) -> Reply:
        name = body["name"]
        if name in self.indexes:
            return Reply(409, failure(3002, "vectorize.index.duplicate_name"))
        self.indexes[name] = {
            "name": name,
            # Vectorize answers an index made without a description with an empty one.
            "description": body.get("description", ""),
            "config": body["config"],
            "created_on": "2026-11-03T12:00:00.000000Z",
            "modified_on": "2026-11-03T12:00:00.000000Z",
        }
        self.metadata_indexes[name] = []
        return Reply(200, success(self.indexes[name]))

    def index_operation(self, request: RecordedRequest, name: str, rest: str) -> Reply:
        metadata = self.metadata_indexes[name]
        if (request.method, rest) == ("GET", ""):
            return Reply(200, success(self.indexes[name]))
        if (request.method, rest) == ("DELETE", ""):
            del self.indexes[name], self.metadata_indexes[name]
            return Reply(200, success(None))
        if (request.method, rest) == ("GET", "/metadata_index/list"):
            return Reply(200, success({"metadataIndexes": metadata}))
        if (request.method, rest) == ("POST", "/metadata_index/create"):
            body = request.json()
            if any(index["propertyName"] == body["propertyName"] for index in metadata):
                return Reply(409, failure(3004, "vectorize.metadata_index.duplicate"))
            metadata.append({"indexType": body["indexType"], "propertyName": body["propertyName"]})
            return Reply(200, success({"mutationId": "0f5f0b9e-1c1b-4a07-9a8a-2a8c1f0e2d3c"}))
        if (request.method, rest) == ("POST", "/metadata_index/delete"):
            self.metadata_indexes[name] = [m for m in metadata if m["propertyName"] != request.json()["propertyName"]]
            return Reply(200, success({"mutationId": "1a6e1cae-2d2c-4b18-8b9b-3b9d2f1f3e4d"}))
        return self.not_found()

    def service(self, name: str) -> Reply:
        """The script's service, as `GET .../workers/services/<name>` answers it."""
        if name not in self.scripts:
            return Reply(404, failure(10090, "workers.api.error.service_not_found"))
        script = {"id": name, "etag": f"etag-{self.scripts[name].uploads}", "handlers": ["fetch"]}
        if self.scripts[name].migration_tag:
            script["migration_tag"] = self.scripts[name].migration_tag
        environment = {"environment": "production", "script": script}
        return Reply(200, success({"id": name, "default_environment": environment}))

    def upload(self, name: str, request: RecordedRequest) -> Reply:
        """A multipart script upload; its `metadata` part may carry Durable Object migrations."""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + request.body
        )
        parts = {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}
        metadata = json.loads(parts["metadata"].get_content())
        script = self.scripts.get(name, Script())
        migrations = metadata.get("migrations")
        if migrations:
            current = script.migration_tag
            if migrations.get("old_tag") != current:
                return Reply(400, failure(10079, f"Migration tag precondition failed; current tag is {current}"))
            classes = set(script.classes)
            for step in migrations.get("steps") or [migrations]:
                error = apply_step(classes, step)
                if error:
                    return Reply(400, failure(10074, error))
            script = Script(migrations["new_tag"], classes, script.uploads)
        for binding in metadata.get("bindings", []):
            own = binding["type"] == "durable_object_namespace" and not binding.get("script_name")
            if own and binding["class_name"] not in script.classes:
                return Reply(400, failure(10061, f"No such Durable Object class {binding['class_name']}"))
        script.uploads += 1
        self.scripts[name] = script
        return Reply(200, success({"id": name, "migration_tag": script.migration_tag}))

    def not_found(self) -> Reply:
        return Reply(404, failure(7003, "Could not route"))

    def recorded_migrations(self) -> list[str]:
        return [row[0] for row in self.database.execute("SELECT name FROM d1_migrations ORDER BY id")]

    def tables(self) -> set[str]:
        return {row[0] for row in self.database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def apply_step(classes: set[str], step: dict[str, Any]) -> str | None:
    """Applies one migration step to `classes`; the error Cloudflare would give, or None."""
    for name in [*step.get("new_classes", []), *step.get("new_sqlite_classes", [])]:
        if name in classes:
            return f"Cannot create Durable Object class {name}: it already exists"
        classes.add(name)
    for rename in step.get("renamed_classes", []):
        if rename["from"] not in classes or rename["to"] in classes:
            return f"Cannot rename Durable Object class {rename['from']} to {rename['to']}"
        classes.remove(rename["from"])
        classes.add(rename["to"])
    for name in step.get("deleted_classes", []):
        if name not in classes:
            return f"Cannot delete Durable Object class {name}: it does not exist"
        classes.remove(name)
    for transfer in step.get("transferred_classes", []):
        classes.add(transfer["to"])
    return None


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, split where SQLite itself would (not at a `;` in a string)."""
    statements: list[str] = []
    current = ""
    for character in sql:
        current += character
        if character == ";" and sqlite3.complete_statement(current):
            statements.append(current)
            current = ""
    if current.strip():
        statements.append(current)
    return statements
