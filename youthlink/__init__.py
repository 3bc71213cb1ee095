"""YouthLink: a self-referral assistant for social prescribing for young people."""

__version__ = "0.1.0"
