"""The dynamic providers: resources whose create, read, update and delete are this package's code.

`pulumi.dynamic` pickles a provider with dill, which stores a class defined in
an importable module by reference: module path and class name, not code. The
dynamic provider host (`python -m pulumi.dynamic`, started in the project
directory) re-imports that module on every up, refresh and destroy, including
for stacks created long ago. So each module here keeps its import path for
good, declares no resources at import time, and avoids heavy imports such as
`pulumi_cloudflare`.

Every provider takes its credential from the stack's configuration, never from
its own inputs or state: see `provider.py`.
"""
