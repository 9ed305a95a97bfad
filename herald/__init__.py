"""Herald: email-first contact center — paced campaigns, tracked delivery, a shared agent inbox."""

__version__ = "0.1.0"
