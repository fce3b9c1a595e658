"""LED screens and cinemas: registries, playlist feeds, proof of play, play logs and
refused reports."""
