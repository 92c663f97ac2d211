"""The `emphysema` command: one entry point whose subcommands walk the data flow."""
