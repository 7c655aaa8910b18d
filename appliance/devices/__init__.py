"""The hardware: the ALSA microphone, the GPIO panel (button, LEDs) and the LED looks."""
