"""The command line: the appliance command and its subcommands."""
