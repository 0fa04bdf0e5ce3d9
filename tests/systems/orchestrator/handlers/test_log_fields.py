"""Each log line that names a run carries it as a field of its own: with the functions' JSON log
format, Lambda's runtime writes a record's extra attributes as keys of the line, so
`filter run_id = "run-…"` in Logs Insights finds every line of one run."""

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[4] / "systems" / "orchestrator" / "handlers"
LEVELS = {"debug", "info", "warning", "error", "exception"}


def log_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LEVELS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "logger"
    ]


def test_every_line_naming_a_run_has_its_run_id_field() -> None:
    naming = 0
    for path in sorted(HANDLERS.glob("*.py")):
        for call in log_calls(ast.parse(path.read_text())):
            message = call.args[0]
            if not (isinstance(message, ast.Constant) and "run %s" in str(message.value)):
                continue
            naming += 1
            extra = next((keyword.value for keyword in call.keywords if keyword.arg == "extra"), None)
            where = f"{path.name}:{call.lineno}"
            assert isinstance(extra, ast.Dict), f"{where} names a run without extra={{'run_id': ...}}"
            assert [key.value for key in extra.keys if isinstance(key, ast.Constant)] == ["run_id"], where
    assert naming >= 8
