"""A WeChat-official-account-compatible API on loopback."""
