"""Developer tools for the Orchestra Pulumi program (run with `python -m tools.<name>`)."""
