"""JavaScript every worker script imports, uploaded with each worker.

Worker scripts name modules relative to `MODULES_ROOT`, the `systems/` directory,
so `tenants/image_gen.js` imports `../worker_common/http.js` and the upload
keeps exactly those paths.
"""

from pathlib import Path

MODULES_ROOT = Path(__file__).resolve().parent.parent
HTTP_MODULE = Path(__file__).resolve().parent / "http.js"
