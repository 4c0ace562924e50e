"""Training-side code for the research models: features, datasets, losses, metrics, training."""
