"""Training's pure rules: dataset splits, validation metrics (their issues add them)."""
