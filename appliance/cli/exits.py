"""The command's exit codes (sysexits.h); the unit's RestartPreventExitStatus= names EX_CONFIG."""

# Only EX_CONFIG stops systemd's restarts (RestartPreventExitStatus=78): restarting
# cannot fix a configuration. A full disk (EX_TEMPFAIL) or a failed main loop
# (EX_SOFTWARE) is restarted.
EX_OK = 0
EX_FAIL = 1
EX_USAGE = 64
EX_SOFTWARE = 70
EX_TEMPFAIL = 75
EX_CONFIG = 78
