"""The AWS side of this program's own CI, applied by an administrator from the bootstrap project."""
