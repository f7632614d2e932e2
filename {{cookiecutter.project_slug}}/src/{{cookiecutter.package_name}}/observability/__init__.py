"""What an operator sees of the running app: Prometheus metrics, OpenTelemetry traces, request IDs.

Nothing here imports the rest of the app: the domains call `metrics` where they decide an outcome.
"""
