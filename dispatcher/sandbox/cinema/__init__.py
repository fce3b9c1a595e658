"""A simulated cinema management system on loopback."""
