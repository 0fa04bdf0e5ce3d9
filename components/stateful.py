"""The one rule for resources that hold data (tables, secrets, databases, buckets, namespaces).

Every building block that declares such a resource passes its options through
`stateful_options`, so what protection means is decided here and nowhere else.
"""

import pulumi


def stateful_options(protect: bool, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
    """`protect` stops `pulumi destroy` and replacements; `retain_on_delete` keeps the cloud
    resource even if it is removed from the program or the stack is deleted with `--force`."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect, retain_on_delete=protect))
