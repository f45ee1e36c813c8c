"""Every write and business decision of the loyalty app, one module per subject:
``ledger`` (membership and points), ``earning``, ``tiers``, ``rewards``, ``referrals``,
``sweepstakes``."""
