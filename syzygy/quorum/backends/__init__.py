"""The backends of the quorum: the protocol in ``base``, one module per backend."""
