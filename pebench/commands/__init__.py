"""Sub-commands of the `pebench` CLI, one module each (see `pebench.cli`)."""
