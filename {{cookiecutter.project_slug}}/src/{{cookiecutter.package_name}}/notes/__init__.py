"""Notes: the example resource. Each user keeps their own; copy this package to add a resource (README)."""
