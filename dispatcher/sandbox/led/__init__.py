"""A fleet of simulated LED signage controllers on loopback."""
