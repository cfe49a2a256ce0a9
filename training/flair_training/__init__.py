"""Training, evaluation and export of the FLAIR #2 U-T&T models that the flair_qgis plugin runs."""

__version__ = "0.1.0"
