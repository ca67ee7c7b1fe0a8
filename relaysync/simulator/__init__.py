"""The Relay simulator (work in progress)."""
