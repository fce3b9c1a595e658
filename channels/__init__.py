"""Channel plugins. Each module holds one channel; ``base`` holds the protocol."""
