"""Every worker is deployed, and tested, on the one compatibility date of `systems/worker_common/runtime.json`."""

import json
import re

from tests.stacks import ROOT
from tools.offline_plan import Plan

RUNTIME = json.loads((ROOT / "systems" / "worker_common" / "runtime.json").read_text())


def test_every_worker_is_deployed_on_the_one_date(shipped_plan: Plan) -> None:
    dates = {
        r.inputs["compatibilityDate"] for r in shipped_plan.of_type("cloudflare:index/workerVersion:WorkerVersion")
    }
    assert dates == {RUNTIME["compatibility_date"]}


def test_no_other_file_writes_the_date() -> None:
    sources = [*ROOT.glob("systems/**/*.py"), *ROOT.glob("systems/**/*.js"), *ROOT.glob("tests/workers/*.mjs")]
    pattern = re.compile(r"compatibility_?date\W+\d{4}-\d{2}-\d{2}", re.IGNORECASE)
    assert [path.name for path in sources if pattern.search(path.read_text())] == []
