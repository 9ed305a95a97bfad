"""Message templates: variables, validation, versions, pure rendering, MIME and invitations."""
