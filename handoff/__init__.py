"""Referrals, the escalation log and the API the action server and gateway hand work to."""
