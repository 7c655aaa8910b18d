"""Trying the device without hardware or keys: sandbox, simulated mic, demo, stand-ins."""
