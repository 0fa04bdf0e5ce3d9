"""`python -m tools.fleet`: preview, deploy, refresh or destroy the tenant stacks, N at a time, in waves.

The contract between this runner and the tenant program:

- The tenant program is its own Pulumi project in `tenants/` (its `Pulumi.yaml` names the project
  `orchestra-tenant`). Each instance file `instances/<instance_id>.yaml` is one stack of it, named
  `<instance_id>`; instance ids are unique across environments (`acme-dev`, `acme`), so the stack
  name alone says which tenant it is.
- A stack's environment is its instance file's `environment`: `--stack-env prod` selects the
  tenants whose environment is `prod`.
- An instance file may name its `wave`: `canary` or a number from 1; without one it is in the last
  wave. `up` deploys the waves in order (canary, 1, 2, ..., the unnamed last), smoke-checks each
  tenant of a wave (`healthUrls` in its stack outputs), and stops before the next wave if any
  tenant of the wave failed.
- `destroy` runs only for tenants named explicitly (`--tenants`, or `--removed` for an instance
  file that no longer exists), never for `--all` or `--changed`; protected resources (prod's D1
  and R2) are left in place (`--exclude-protected`), and nothing that bypasses protection is passed.

The stacks are driven through Pulumi's Automation API with the `pulumi` CLI found on PATH.
"""
