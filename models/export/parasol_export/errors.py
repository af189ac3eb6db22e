class ExportError(Exception):
    """A refusal the user can act on; printed as one line, exit status 2."""
