"""The stacks the workflows deploy, from the data: delivery.yaml's `stacks:` and `Pulumi.<stack>.yaml`."""
