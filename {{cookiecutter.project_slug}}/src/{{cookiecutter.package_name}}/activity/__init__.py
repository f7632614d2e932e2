"""Security activity: what happened to an account (logins and refusals, sessions ended, password, address and
factor changes, administrators' actions), stored beside the log line, for its owner and administrators to read.

One call records an event: `service.record(session, EventType.X, username, client, ...)`, in the transaction of
the change it records; it writes the log line too, once that transaction commits.
"""
