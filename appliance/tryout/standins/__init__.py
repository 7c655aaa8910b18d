"""Local stand-ins for the outside services, speaking their real protocols on loopback."""
