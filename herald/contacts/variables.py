"""The variables every contact has, by the names templates use (pure: shared with rendering).

Custom columns of an import add their own, by their lower_snake_case header.
"""

BUILTIN_VARIABLES = (
    "first_name",
    "last_name",
    "company",
    "email",
    "email1",
    "email2",
    "email3",
    "language",
    "timezone",
    "external_id",
)
