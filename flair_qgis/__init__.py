"""flair_qgis: FLAIR #2 land-cover maps from aerial imagery and Sentinel-2 time series, in QGIS."""


def classFactory(iface):
    """Entry point QGIS calls when it loads the plugin."""
    from .plugin import FlairPlugin

    return FlairPlugin(iface)
