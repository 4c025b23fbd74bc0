"""A service of the user's own: ``wsctl init`` and the wsctl.toml it writes."""
