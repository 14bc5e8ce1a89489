"""Domain model (no I/O): portfolios, contracts, chains, strategies, policies, settlement.

Import from the modules (``floorguard.domain.portfolio`` ...); each lists its
public names in ``__all__``.
"""
