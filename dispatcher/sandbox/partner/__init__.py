"""A partner app's notice endpoint on loopback."""
