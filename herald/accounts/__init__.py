"""Users and roles (agent, manager, admin), the account's settings and variables, API tokens."""
