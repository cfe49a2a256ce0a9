"""Reading the FLAIR #2 dataset for training and evaluation."""
