"""appliance: a desk gadget that posts what you just said to X, once you confirm it."""

__version__ = "0.1.0"
