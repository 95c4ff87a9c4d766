"""One module per benchmark part, each with ``run(quick, out) -> (details, figures)``."""
