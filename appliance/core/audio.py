"""The one audio format every part uses: 16 kHz mono signed 16-bit little-endian PCM."""

SAMPLE_RATE_HZ = 16000  # what the microphone captures, the VAD judges and the service hears
CHANNELS = 1
SAMPLE_BYTES = 2  # S16_LE
