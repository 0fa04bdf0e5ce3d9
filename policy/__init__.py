"""Orchestra's policy pack: one set of pulumi-policy policies, run two ways.

- By the Pulumi CLI: `pulumi preview --policy-pack policy` (or `up`) starts `__main__.py` here,
  which serves `POLICIES` to the engine over pulumi-policy's analyzer protocol.
- By the offline plan (`make plan`): `tools.offline_plan.policies` hands the same policies the
  plan's resources as pulumi-policy's own `ResourceValidationArgs` / `StackValidationArgs`.
"""
