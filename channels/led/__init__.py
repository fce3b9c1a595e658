"""LED signage: playlists and proof of play."""

from channels.led.channel import LedChannel

__all__ = ["LedChannel"]
