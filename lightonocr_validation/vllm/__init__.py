"""What the project knows of vLLM: the client, targets, the version table, installing and repairing it."""
