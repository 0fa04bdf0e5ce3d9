"""The orchestrator's Lambda workload, deployed as the package ``handlers``.

Kept free of imports so the Pulumi program can import ``commands`` (the slash
command definitions it registers with Discord) without PyNaCl or boto3.
"""
