"""The plugin's adapters between QGIS and the engine: QGIS layers as raster sources, band choices, styles,
settings, quick-look images, Qt/QGIS version differences, resources and the plugin's Python dependencies.
The engine (flair_qgis.core) never imports them; the dialog, the task and the Processing algorithms do."""
