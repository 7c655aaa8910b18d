"""The speech link: AssemblyAI streaming session, its protocol, gate, reconnects, backlog, VAD."""
