"""Time and pay pages, one module per audience."""
