"""What every worker script is deployed with: the JavaScript it imports, and the runtime date.

Worker scripts name modules relative to `MODULES_ROOT`, the `systems/` directory,
so `tenants/image_gen.js` imports `../worker_common/http.js` and the upload
keeps exactly those paths. The compatibility date lives in `runtime.json`, which
the worker tests read too, so they run on the date the workers are deployed with.
"""

import json
from pathlib import Path

_HERE = Path(__file__).resolve().parent
MODULES_ROOT = _HERE.parent
HTTP_MODULE = _HERE / "http.js"
COMPATIBILITY_DATE: str = json.loads((_HERE / "runtime.json").read_text(encoding="utf-8"))["compatibility_date"]
