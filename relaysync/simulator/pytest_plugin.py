"""pytest plugin registering the ``relay_simulator`` fixture (work in progress)."""
