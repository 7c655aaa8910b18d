"""The pure decision core: events, state and step, posting decisions, views; no I/O."""
