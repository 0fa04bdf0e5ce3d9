import gc

from .cli import main

status = main()
# Everything is written. The interpreter's exit would walk every object the SDKs made once more (a
# second of CPU in dev's plan) to free memory the operating system takes back with the process.
gc.freeze()
raise SystemExit(status)
