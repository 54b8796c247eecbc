"""Server-side code every Radlab service shares: ports and adapters, gRPC bootstrap, auth, metrics, logs."""
