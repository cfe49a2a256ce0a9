"""Review aids for photo-interpreters: land-cover polygons, the low-confidence review queue and zonal
statistics over a FLAIR result (QGIS-side logic, no widgets)."""
