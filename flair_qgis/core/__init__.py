"""The plugin's engine: bundles, Sentinel-2 preparation, tiled inference and outputs.

Nothing under this package imports Qt, QGIS or torch: the plugin, the command line and the training
package all call it, so that what trains a model is the very code that runs it.
"""
