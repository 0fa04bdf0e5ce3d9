"""The one rule for resources that hold data (tables, secrets, databases, buckets, namespaces).

Every building block that declares such a resource passes its options through
`stateful_options`, so what protection means is decided here and nowhere else.
`STATEFUL_TYPES` names those resource types, for the checks that prove the rule
holds (the program's tests and the policy pack).
"""

import pulumi

# A new stateful type must be added here; the program's tests and the policy pack then prove
# the rule covers it in prod.
STATEFUL_TYPES = frozenset(
    {
        "aws:dynamodb/table:Table",
        "aws:secretsmanager/secret:Secret",
        "aws:ssm/parameter:Parameter",
        "cloudflare:index/d1Database:D1Database",
        "cloudflare:index/workersKvNamespace:WorkersKvNamespace",
        "cloudflare:index/r2Bucket:R2Bucket",
        "pulumi-python:dynamic/cloudflare:VectorizeIndex",
    }
)


def stateful_options(protect: bool, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """`protect` stops `pulumi destroy` and replacements; `retain_on_delete` keeps the cloud
    resource even if it is removed from the program or the stack is deleted with `--force`."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect))
