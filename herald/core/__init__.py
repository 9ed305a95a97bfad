"""Cross-cutting pieces: base pages, navigation, request ids, logs, health, metrics, heartbeat."""
