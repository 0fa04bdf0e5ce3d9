"""Building blocks, one provider each, that know nothing of Orchestra.

Dynamic providers (Discord commands, D1 migrations and rows, Vectorize indexes)
are pickled by `pulumi.dynamic` with dill, which stores a class defined in an
importable module by reference: module path and class name, not code. The
dynamic provider host (`python -m pulumi.dynamic`, started in the project
directory) re-imports that module on every up, refresh and destroy, including
for stacks created long ago. So each such module stays at its import path,
declares no resources at import time, and avoids heavy imports such as
`pulumi_cloudflare`.
"""
