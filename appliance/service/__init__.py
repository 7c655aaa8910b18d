"""The service: the daemon joining the parts, its control socket, systemd, the config file."""
