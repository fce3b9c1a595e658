"""Cinema pre-show spots."""

from channels.cinema.channel import CinemaChannel

__all__ = ["CinemaChannel"]
