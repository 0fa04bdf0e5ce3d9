"""The stacks the workflows deploy, read from the data: delivery.yaml's `stacks:` and the `Pulumi.<stack>.yaml` files."""
