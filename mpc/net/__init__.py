"""Party-to-party communication: wire format, the Channel interface and its transports."""
