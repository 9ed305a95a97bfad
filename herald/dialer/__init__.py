"""The sending engine (worker side): the global pacer, DKIM signing, the pooled SMTP transport."""
