"""What a command needs, built lazily: the config, then the database engine."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.config import Config, load_config
from dispatcher.storage.db import make_engine


@dataclass
class AppContext:
    config_path: str | None = None
    _config: Config | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(self.config_path)
            registry.build_channels(config.channels, config.source)  # a bad table stops here
            self._config = config
        return self._config

    @property
    def database_url(self) -> str | None:
        """The configured database URL, once the config has been read (else None)."""
        return self._config.database_url if self._config is not None else None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.config.database_url)
        return self._engine
