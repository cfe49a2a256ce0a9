<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr_FR">
    <context>
        <name>FlairLandCover</name>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="305" />
            <source>Land cover</source>
            <translation>Occupation du sol</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="306" />
            <source>GeoTIFF of class codes (uint8, 0 = no data), styled with the palette and class names.</source>
            <translation>GeoTIFF de codes de classes (uint8, 0 = pas de donnée), stylé avec la palette et les noms de classes.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="313" />
            <source>Confidence raster</source>
            <translation>Raster de confiance</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="314" />
            <source>Confidence</source>
            <translation>Confiance</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="315" />
            <source>GeoTIFF of the winning class's probability in percent (0..100; scale 0.01 gives 0..1).</source>
            <translation>GeoTIFF de la probabilité de la classe retenue en pourcentage (0..100 ; l'échelle 0,01 donne 0..1).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="320" />
            <source>Probability of every class</source>
            <translation>Probabilité de chaque classe</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="321" />
            <source>Class probabilities</source>
            <translation>Probabilités des classes</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="322" />
            <source>GeoTIFF with one band per class: its probability, 0..255 for 0..1 (band tag CODE).</source>
            <translation>GeoTIFF à une bande par classe : sa probabilité, 0..255 pour 0..1 (étiquette de bande CODE).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="328" />
            <source>CSV files (*.csv)</source>
            <translation>Fichiers CSV (*.csv)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="328" />
            <source>Statistics</source>
            <translation>Statistiques</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="329" />
            <source>CSV of code, class, hectares and percent of the mapped area per class.</source>
            <translation>CSV du code, de la classe, des hectares et du pourcentage de la surface cartographiée par classe.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="333" />
            <source>Land-cover polygons (&lt;map&gt;.polygons.gpkg)</source>
            <translation>Polygones d'occupation du sol (&lt;carte&gt;.polygons.gpkg)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="334" />
            <source>One polygon per region of a class; smaller regions are merged into their largest neighbour</source>
            <translation>Un polygone par région d'une classe ; les régions plus petites sont fusionnées avec leur plus grande voisine</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="338" />
            <source>Review zones: where the model hesitated (&lt;map&gt;.review.gpkg)</source>
            <translation>Zones à revoir : là où le modèle a hésité (&lt;carte&gt;.review.gpkg)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/core/output_kinds.py" line="339" />
            <source>Regions of low confidence, most urgent first, to walk through in the FLAIR review panel</source>
            <translation>Régions de faible confiance, les plus urgentes d'abord, à parcourir dans le panneau de revue FLAIR</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="102" />
            <source>An NVIDIA driver was found: the GPU build of ONNX Runtime is chosen.</source>
            <translation>Un pilote NVIDIA a été trouvé : la version GPU d'ONNX Runtime est choisie.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="106" />
            <source>&lt;b&gt;{names}&lt;/b&gt; must come from the same place as QGIS (your system's packages), built on QGIS's own GDAL: see below how to install it.</source>
            <translation>&lt;b&gt;{names}&lt;/b&gt; doit venir du même endroit que QGIS (les paquets de votre système), construit sur le GDAL de QGIS : voir ci-dessous comment l'installer.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="116" />
            <source>pip cannot be run from QGIS here.</source>
            <translation>pip ne peut pas être lancé depuis QGIS ici.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="130" />
            <source>Installing… (this downloads a few hundred MB for the GPU build)</source>
            <translation>Installation… (la version GPU télécharge quelques centaines de Mo)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="132" />
            <source>Installing FLAIR land cover's Python packages</source>
            <translation>Installation des paquets Python d'Occupation du sol FLAIR</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="143" />
            <source>The installation failed:</source>
            <translation>L'installation a échoué :</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="151" />
            <source>pip finished but {names} still cannot be imported; restart QGIS.</source>
            <translation>pip a terminé mais {names} ne peut toujours pas être importé ; redémarrez QGIS.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="155" />
            <source>Installed. The plugin is ready.</source>
            <translation>Installé. L'extension est prête.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="37" />
            <source>FLAIR land cover: Python packages</source>
            <translation>Occupation du sol FLAIR : paquets Python</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="54" />
            <source>Install</source>
            <translation>Installer</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="55" />
            <source>Close</source>
            <translation>Fermer</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="83" />
            <source>Will run:</source>
            <translation>Commande qui sera lancée :</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="87" />
            <source>The rasterio package in this QGIS carries a GDAL of its own, besides QGIS's: the maps would be wrong. Replace it with the rasterio built for this QGIS (below).</source>
            <translation>Le paquet rasterio de ce QGIS apporte son propre GDAL, en plus de celui de QGIS : les cartes seraient fausses. Remplacez-le par le rasterio construit pour ce QGIS (ci-dessous).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dependencies_dialog.py" line="95" />
            <source>The plugin needs Python packages that QGIS does not have: &lt;b&gt;{names}&lt;/b&gt;.&lt;br&gt;They can be installed with pip into a folder of the plugin's own:&lt;br&gt;&lt;tt&gt;{folder}&lt;/tt&gt;&lt;br&gt;The packages QGIS already has (numpy, GDAL, attrs...) stay as they are.</source>
            <translation>L'extension a besoin de paquets Python que QGIS n'a pas : &lt;b&gt;{names}&lt;/b&gt;.&lt;br&gt;Ils peuvent être installés avec pip dans un dossier propre à l'extension :&lt;br&gt;&lt;tt&gt;{folder}&lt;/tt&gt;&lt;br&gt;Les paquets que QGIS a déjà (numpy, GDAL, attrs...) restent tels quels.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="104" />
            <source>Code</source>
            <translation>Code</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="104" />
            <source>Class</source>
            <translation>Classe</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="104" />
            <source>Hectares</source>
            <translation>Hectares</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="110" />
            <source>Copy statistics</source>
            <translation>Copier les statistiques</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="113" />
            <source>Run</source>
            <translation>Lancer</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="116" />
            <source>Cancel run</source>
            <translation>Annuler le calcul</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="153" />
            <source>Python packages missing from QGIS: {packages} (use the plugin's installer or see its manual steps).</source>
            <translation>Paquets Python absents de QGIS : {packages} (utilisez l'installateur de l'extension ou ses étapes manuelles).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="231" />
            <source>Starting…</source>
            <translation>Démarrage…</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="244" />
            <source>Cancelling…</source>
            <translation>Annulation…</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="251" />
            <source>Done: {path}</source>
            <translation>Terminé : {path}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="255" />
            <source>Warning: {text}</source>
            <translation>Avertissement : {text}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/dialog.py" line="57" />
            <source>FLAIR land cover</source>
            <translation>Occupation du sol FLAIR</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="146" />
            <source>No FLAIR land-cover layer is shown here.</source>
            <translation>Aucune couche d'occupation du sol FLAIR n'est affichée ici.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="190" />
            <source>No land-cover polygon here: make the map's polygons first (tick 'Land-cover polygons' in the dialog, or run the polygonize algorithm) and click again.</source>
            <translation>Pas de polygone d'occupation du sol ici : créez d'abord les polygones de la carte (cochez « Polygones d'occupation du sol » dans la fenêtre, ou lancez l'algorithme de polygonisation) puis cliquez de nouveau.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="200" />
            <source>The correction was not saved: {error}</source>
            <translation>La correction n'a pas été enregistrée : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="204" />
            <source>Region reclassified as {name} (correction {fid} in {file}).</source>
            <translation>Région reclassée en {name} (correction {fid} dans {file}).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="44" />
            <source>Outside the map.</source>
            <translation>Hors de la carte.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="46" />
            <source>No class here (outside the mapped area).</source>
            <translation>Pas de classe ici (hors de la zone cartographiée).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="47" />
            <source>code</source>
            <translation>code</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="51" />
            <source>no confidence raster</source>
            <translation>pas de raster de confiance</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="53" />
            <source>Most probable classes:</source>
            <translation>Classes les plus probables :</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="58" />
            <source>Pixel</source>
            <translation>Pixel</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="58" />
            <source>row</source>
            <translation>ligne</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="58" />
            <source>column</source>
            <translation>colonne</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="66" />
            <source>FLAIR inspect</source>
            <translation>Inspection FLAIR</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="70" />
            <source>Click a pixel of a FLAIR land-cover layer.</source>
            <translation>Cliquez sur un pixel d'une couche d'occupation du sol FLAIR.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="78" />
            <source>The right class of the clicked region</source>
            <translation>La bonne classe de la région cliquée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="79" />
            <source>Reclassify region</source>
            <translation>Reclasser la région</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/inspect_tool.py" line="81" />
            <source>Copy the land-cover polygon under the clicked pixel into the map's corrections, with this class</source>
            <translation>Copier le polygone d'occupation du sol sous le pixel cliqué dans les corrections de la carte, avec cette classe</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="15" />
            <source>Automatic (GPU when available)</source>
            <translation>Automatique (GPU si disponible)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="15" />
            <source>GPU</source>
            <translation>GPU</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="15" />
            <source>CPU</source>
            <translation>CPU</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="21" />
            <source>Device and advanced settings</source>
            <translation>Processeur et réglages avancés</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="30" />
            <source>automatic (1/8 of a tile)</source>
            <translation>automatique (1/8 de tuile)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="34" />
            <source>Device</source>
            <translation>Processeur</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="36" />
            <source>Tile overlap</source>
            <translation>Recouvrement des tuiles</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="37" />
            <source>Batch size</source>
            <translation>Taille de lot</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="66" />
            <source>ONNX Runtime is not installed.</source>
            <translation>ONNX Runtime n'est pas installé.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/advanced.py" line="67" />
            <source>ONNX Runtime found: {providers}</source>
            <translation>ONNX Runtime trouvé : {providers}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="108" />
            <source>'{layer}' is a web service with no extent of its own: map the current view, a drawn rectangle or polygons.</source>
            <translation>« {layer} » est un service web sans emprise propre : cartographiez la vue actuelle, un rectangle dessiné ou des polygones.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="114" />
            <source>Draw the rectangle to map, or choose another area.</source>
            <translation>Dessinez le rectangle à cartographier, ou choisissez une autre zone.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="118" />
            <source>Choose a polygon layer for the area.</source>
            <translation>Choisissez une couche de polygones pour la zone.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="120" />
            <source>Select the polygons to map in '{layer}'.</source>
            <translation>Sélectionnez les polygones à cartographier dans « {layer} ».</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="18" />
            <source>Whole aerial image</source>
            <translation>Toute l'image aérienne</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="19" />
            <source>Current map view</source>
            <translation>Vue actuelle de la carte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="20" />
            <source>Rectangle drawn on the map</source>
            <translation>Rectangle dessiné sur la carte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="21" />
            <source>Selected polygons of a layer</source>
            <translation>Polygones sélectionnés d'une couche</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="36" />
            <source>Area</source>
            <translation>Zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="41" />
            <source>Draw a rectangle on the map</source>
            <translation>Dessiner un rectangle sur la carte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="42" />
            <source>No rectangle drawn yet.</source>
            <translation>Aucun rectangle dessiné pour l'instant.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="45" />
            <source>Map</source>
            <translation>Carte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="47" />
            <source>Polygons</source>
            <translation>Polygones</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/area.py" line="89" />
            <source>{width:.1f} x {height:.1f} map units at ({x:.1f}, {y:.1f})</source>
            <translation>{width:.1f} x {height:.1f} unités de carte en ({x:.1f}, {y:.1f})</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="114" />
            <source>'{layer}' is a colour image service (red, green, blue only): choose another layer for {band}.</source>
            <translation>« {layer} » est un service d'images en couleur (rouge, vert, bleu seulement) : choisissez une autre couche pour {band}.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="122" />
            <source>Choose a layer for the model's band(s): {names}.</source>
            <translation>Choisissez une couche pour la ou les bandes du modèle : {names}.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="21" />
            <source>Red</source>
            <translation>Rouge</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="21" />
            <source>Green</source>
            <translation>Vert</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="21" />
            <source>Blue</source>
            <translation>Bleu</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="21" />
            <source>Near infrared</source>
            <translation>Proche infrarouge</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="22" />
            <source>Elevation</source>
            <translation>Élévation</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="35" />
            <source>Aerial image bands</source>
            <translation>Bandes de l'image aérienne</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/bands.py" line="55" />
            <source>Guess from the project's layers</source>
            <translation>Deviner d'après les couches du projet</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="122" />
            <source>Reading the catalogues…</source>
            <translation>Lecture des catalogues…</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="132" />
            <source>FLAIR: reading model catalogues</source>
            <translation>FLAIR : lecture des catalogues de modèles</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="142" />
            <source>installed</source>
            <translation>installé</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="148" />
            <source>The catalogues list no downloadable model; add your team's catalogue.</source>
            <translation>Les catalogues ne listent aucun modèle téléchargeable ; ajoutez le catalogue de votre équipe.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="161" />
            <source>Task: {task}; {classes} classes; licence {licence}; from {url}</source>
            <translation>Tâche : {task} ; {classes} classes ; licence {licence} ; depuis {url}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="165" />
            <source>Precision: {precision}</source>
            <translation>Précision : {precision}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="184" />
            <source>Downloading {name}…</source>
            <translation>Téléchargement de {name}…</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="200" />
            <source>Installed (SHA-256 verified): {path}</source>
            <translation>Installé (SHA-256 vérifié) : {path}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="206" />
            <source>Download cancelled; nothing was installed. Downloading again resumes it.</source>
            <translation>Téléchargement annulé ; rien n'a été installé. Le relancer le reprend.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="209" />
            <source>The download failed.</source>
            <translation>Le téléchargement a échoué.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="35" />
            <source>FLAIR: downloading {name}</source>
            <translation>FLAIR : téléchargement de {name}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="72" />
            <source>Catalogue files or https URLs of your team (space-separated)</source>
            <translation>Fichiers ou adresses https des catalogues de votre équipe (séparés par des espaces)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="74" />
            <source>Read catalogues</source>
            <translation>Lire les catalogues</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="76" />
            <source>Download</source>
            <translation>Télécharger</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/catalogue.py" line="77" />
            <source>Cancel download</source>
            <translation>Annuler le téléchargement</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="100" />
            <source>aerial only (no Sentinel-2)</source>
            <translation>aérien seul (sans Sentinel-2)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="110" />
            <source>Inputs: {inputs}</source>
            <translation>Entrées : {inputs}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="112" />
            <source>Classes ({count}): {classes}</source>
            <translation>Classes ({count}) : {classes}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="25" />
            <source>Choose a model bundle (.onnx).</source>
            <translation>Choisissez un modèle (.onnx).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="26" />
            <source>Model bundle</source>
            <translation>Modèle</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="33" />
            <source>File</source>
            <translation>Fichier</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="39" />
            <source>Catalogue</source>
            <translation>Catalogue</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="70" />
            <source>The model bundle cannot be used: {error}</source>
            <translation>Le modèle ne peut pas être utilisé : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="72" />
            <source>The plugin's dependencies are missing: {error}</source>
            <translation>Les dépendances de l'extension manquent : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="92" />
            <source>aerial {bands} at {gsd:g} m, tiles of {tile} px</source>
            <translation>aérien {bands} à {gsd:g} m, tuiles de {tile} px</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/model.py" line="96" />
            <source>Sentinel-2 {bands} bands, {window} px windows</source>
            <translation>Sentinel-2 {bands} bandes, fenêtres de {window} px</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="151" />
            <source>Choose the output file.</source>
            <translation>Choisissez le fichier de sortie.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="154" />
            <source>The output must be a GeoTIFF file (.tif).</source>
            <translation>La sortie doit être un fichier GeoTIFF (.tif).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="156" />
            <source>The output folder {folder} does not exist.</source>
            <translation>Le dossier de sortie {folder} n'existe pas.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="159" />
            <source>{name} already exists: choose another name or tick 'Replace the file'.</source>
            <translation>{name} existe déjà : choisissez un autre nom ou cochez « Remplacer le fichier ».</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="171" />
            <source>Review zones are made from the confidence raster: tick 'Confidence raster'.</source>
            <translation>Les zones à revoir sont faites à partir du raster de confiance : cochez « Raster de confiance ».</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="47" />
            <source>Outputs</source>
            <translation>Sorties</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="52" />
            <source>Replace the file if it exists</source>
            <translation>Remplacer le fichier s'il existe</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="53" />
            <source>List only the classes present in the legend</source>
            <translation>Ne lister dans la légende que les classes présentes</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="62" />
            <source>For review</source>
            <translation>Pour la revue</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="64" />
            <source>0 keeps every region, down to one pixel</source>
            <translation>0 garde toutes les régions, jusqu'au pixel</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="69" />
            <source>Pixels whose confidence is under this value (0..1) are to review</source>
            <translation>Les pixels dont la confiance est sous cette valeur (0..1) sont à revoir</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="72" />
            <source>Minimum mapping unit</source>
            <translation>Unité minimale de collecte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="74" />
            <source>Confidence under</source>
            <translation>Confiance inférieure à</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/outputs.py" line="75" />
            <source>Smallest zone</source>
            <translation>Plus petite zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="112" />
            <source>Reading the Sentinel-2 series over the area…</source>
            <translation>Lecture de la série Sentinel-2 sur la zone…</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="118" />
            <source>Cloud cover: {error}</source>
            <translation>Couverture nuageuse : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="127" />
            <source>FLAIR: Sentinel-2 cloud cover</source>
            <translation>FLAIR : couverture nuageuse Sentinel-2</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="139" />
            <source>Sentinel-2 folders cannot be read by this installation: {error}</source>
            <translation>Cette installation ne peut pas lire les dossiers Sentinel-2 : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="143" />
            <source>Sentinel-2: {error}</source>
            <translation>Sentinel-2 : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="31" />
            <source>Sentinel-2 acquisitions</source>
            <translation>Acquisitions Sentinel-2</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="35" />
            <source>Choose the folder of Sentinel-2 products covering the area.</source>
            <translation>Choisissez le dossier des produits Sentinel-2 qui couvrent la zone.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="37" />
            <source>Cloud cover over the area</source>
            <translation>Couverture nuageuse sur la zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="42" />
            <source>Folder</source>
            <translation>Dossier</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="73" />
            <source>Choose the Sentinel-2 folder.</source>
            <translation>Choisissez le dossier Sentinel-2.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="76" />
            <source>Sentinel-2: {folder} is not a folder.</source>
            <translation>Sentinel-2 : {folder} n'est pas un dossier.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="78" />
            <source>Reading the Sentinel-2 folder…</source>
            <translation>Lecture du dossier Sentinel-2…</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/panels/sentinel2.py" line="95" />
            <source>FLAIR: reading the Sentinel-2 folder</source>
            <translation>FLAIR : lecture du dossier Sentinel-2</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="182" />
            <source>{done} of {count} reviewed, {share:.0f} % of the low-confidence area</source>
            <translation>{done} sur {count} revues, {share:.0f} % de la surface de faible confiance</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="191" />
            <source>FLAIR review</source>
            <translation>Revue FLAIR</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="205" />
            <source>A review-zones layer (from the review zones algorithm)</source>
            <translation>Une couche de zones à revoir (issue de l'algorithme des zones à revoir)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="213" />
            <source>Note (optional)</source>
            <translation>Note (facultative)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="216" />
            <source>◀ Previous</source>
            <translation>◀ Précédente</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="217" />
            <source>Next ▶</source>
            <translation>Suivante ▶</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="218" />
            <source>Zoom to zone</source>
            <translation>Zoomer sur la zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="219" />
            <source>Confirmed</source>
            <translation>Confirmée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="220" />
            <source>The predicted class is right</source>
            <translation>La classe prédite est juste</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="221" />
            <source>Corrected</source>
            <translation>Corrigée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="222" />
            <source>The class was wrong and has been corrected</source>
            <translation>La classe était fausse et a été corrigée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="223" />
            <source>To review</source>
            <translation>À revoir</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="224" />
            <source>Put the zone back in the queue</source>
            <translation>Remettre la zone dans la file</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="234" />
            <source>The right class of the zone</source>
            <translation>La bonne classe de la zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="235" />
            <source>Correct as</source>
            <translation>Corriger en</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="237" />
            <source>Copy the zone into the map's corrections with this class and mark it corrected</source>
            <translation>Copier la zone dans les corrections de la carte avec cette classe et la marquer corrigée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="309" />
            <source>The map of these zones is not beside them: correct the zone by drawing in its corrections.</source>
            <translation>La carte de ces zones n'est pas à côté d'elles : corrigez la zone en dessinant dans ses corrections.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="324" />
            <source>The correction was not saved: {error}. Check that the GeoPackage is writable.</source>
            <translation>La correction n'a pas été enregistrée : {error}. Vérifiez que le GeoPackage est accessible en écriture.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="347" />
            <source>The verdict was not saved: {error}. Check that the GeoPackage is writable.</source>
            <translation>Le verdict n'a pas été enregistré : {error}. Vérifiez que le GeoPackage est accessible en écriture.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="363" />
            <source>No review zones: add a review-zones layer to the project.</source>
            <translation>Pas de zones à revoir : ajoutez une couche de zones à revoir au projet.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="370" />
            <source>Zone</source>
            <translation>Zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="370" />
            <source>rank</source>
            <translation>rang</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="371" />
            <source>Predicted</source>
            <translation>Prédite</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="371" />
            <source>runner-up</source>
            <translation>deuxième</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="372" />
            <source>Mean confidence</source>
            <translation>Confiance moyenne</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="373" />
            <source>area</source>
            <translation>surface</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="374" />
            <source>Status</source>
            <translation>Statut</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="42" />
            <source>to review</source>
            <translation>à revoir</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="43" />
            <source>confirmed</source>
            <translation>confirmée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/review_dock.py" line="44" />
            <source>corrected</source>
            <translation>corrigée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="101" />
            <source>Unexpected error: {error}</source>
            <translation>Erreur inattendue : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="102" />
            <source>See the FLAIR land cover log for details.</source>
            <translation>Voir le journal Occupation du sol FLAIR pour les détails.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="127" />
            <source>Cancelled after the map was written: the polygons and review zones were not.</source>
            <translation>Annulé après l'écriture de la carte : les polygones et les zones à revoir n'ont pas été écrits.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="132" />
            <source>The review outputs failed (unexpected error: {error}).</source>
            <translation>Les sorties de revue ont échoué (erreur inattendue : {error}).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="147" />
            <source>The map was written but could not be added to the project: {error}</source>
            <translation>La carte a été écrite mais n'a pas pu être ajoutée au projet : {error}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="203" />
            <source>{name}: {tiles} tiles in {seconds:.1f} s on {device}</source>
            <translation>{name} : {tiles} tuiles en {seconds:.1f} s sur {device}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="212" />
            <source>{count} polygons</source>
            <translation>{count} polygones</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="214" />
            <source>{count} zones to review ({area:,.0f} m²)</source>
            <translation>{count} zones à revoir ({area:,.0f} m²)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="231" />
            <source>Land cover ready, with warnings</source>
            <translation>Occupation du sol prête, avec des avertissements</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="236" />
            <source>Land cover ready</source>
            <translation>Occupation du sol prête</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/task.py" line="59" />
            <source>FLAIR land cover: {title}</source>
            <translation>Occupation du sol FLAIR : {title}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="56" />
            <source>the CPU</source>
            <translation>le CPU</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="57" />
            <source>the GPU (CUDA)</source>
            <translation>le GPU (CUDA)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="58" />
            <source>the GPU (TensorRT)</source>
            <translation>le GPU (TensorRT)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="59" />
            <source>the GPU (DirectML)</source>
            <translation>le GPU (DirectML)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="60" />
            <source>Apple's Core ML</source>
            <translation>Core ML d'Apple</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="68" />
            <source>fp32 (full precision)</source>
            <translation>fp32 (pleine précision)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="69" />
            <source>fp16 (half precision, for GPUs)</source>
            <translation>fp16 (demi-précision, pour les GPU)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/gui/tr.py" line="70" />
            <source>int8 (quantised: faster on the CPU, its map checked against fp32)</source>
            <translation>int8 (quantifié : plus rapide sur le CPU, sa carte vérifiée par rapport au fp32)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/plugin.py" line="47" />
            <source>Map land cover from aerial imagery and Sentinel-2 (FLAIR #2 U-T&amp;T)</source>
            <translation>Cartographier l'occupation du sol d'après l'imagerie aérienne et Sentinel-2 (FLAIR #2 U-T&amp;T)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/plugin.py" line="62" />
            <source>Click a pixel of a FLAIR map: its class, confidence and top 3 classes</source>
            <translation>Cliquez sur un pixel d'une carte FLAIR : sa classe, sa confiance et ses 3 classes les plus probables</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/plugin.py" line="70" />
            <source>Walk through the low-confidence zones and record a verdict</source>
            <translation>Parcourir les zones de faible confiance et noter un verdict</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/plugin.py" line="73" />
            <source>FLAIR corrections</source>
            <translation>Corrections FLAIR</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/plugin.py" line="77" />
            <source>Draw corrections of the selected FLAIR map: polygons with the right class</source>
            <translation>Dessiner des corrections de la carte FLAIR sélectionnée : des polygones avec la bonne classe</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/plugin.py" line="98" />
            <source>Select a FLAIR land-cover layer (or its polygons or review zones) in the Layers panel.</source>
            <translation>Sélectionnez une couche d'occupation du sol FLAIR (ou ses polygones ou ses zones à revoir) dans le panneau Couches.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="104" />
            <source>Extent</source>
            <translation>Emprise</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="105" />
            <source>The rectangle to map, in any CRS; empty: the area polygons, else the whole aerial image.</source>
            <translation>Le rectangle à cartographier, dans n'importe quel SCR ; vide : les polygones de zone, sinon toute l'image aérienne.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="109" />
            <source>Area polygons</source>
            <translation>Polygones de zone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="40" />
            <source>Aerial image</source>
            <translation>Image aérienne</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="41" />
            <source>The orthophoto at (or resampled to) the model's pixel size, e.g. 0.2 m; R, G, B bands at least.</source>
            <translation>L'orthophoto à la taille de pixel du modèle (ou rééchantillonnée), par ex. 0,2 m ; au moins les bandes R, V, B.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="47" />
            <source>Red band</source>
            <translation>Bande rouge</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="48" />
            <source>Green band</source>
            <translation>Bande verte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="49" />
            <source>Blue band</source>
            <translation>Bande bleue</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="55" />
            <source>Band of the aerial image (default {band}).</source>
            <translation>Bande de l'image aérienne (par défaut {band}).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="59" />
            <source>Near-infrared layer (default: band 4 of the aerial image)</source>
            <translation>Couche proche infrarouge (par défaut : bande 4 de l'image aérienne)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="60" />
            <source>Near-infrared band</source>
            <translation>Bande proche infrarouge</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="61" />
            <source>Elevation layer (default: band 5 of the aerial image)</source>
            <translation>Couche d'élévation (par défaut : bande 5 de l'image aérienne)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="62" />
            <source>Elevation band</source>
            <translation>Bande d'élévation</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="67" />
            <source>A layer of its own (e.g. the IRC ortho, a surface model); empty: the aerial image.</source>
            <translation>Une couche à part (par ex. l'ortho IRC, un modèle de surface) ; vide : l'image aérienne.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="73" />
            <source>Band of that layer (default 1); without the layer, band of the aerial image (default {band}).</source>
            <translation>Bande de cette couche (par défaut 1) ; sans la couche, bande de l'image aérienne (par défaut {band}).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/aerial_parameters.py" line="89" />
            <source>Sentinel-2 folder (not needed by aerial-only models)</source>
            <translation>Dossier Sentinel-2 (inutile pour les modèles aériens seuls)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="130" />
            <source>{count} corrections applied: {pixels} pixels ({area:.1f} m²) changed, written to {path}</source>
            <translation>{count} corrections appliquées : {pixels} pixels ({area:.1f} m²) modifiés, écrits dans {path}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="137" />
            <source>{name} corrected</source>
            <translation>{name} corrigée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="39" />
            <source>Apply corrections to a land-cover map</source>
            <translation>Appliquer des corrections à une carte d'occupation du sol</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="42" />
            <source>Burns a reviewer's correction polygons into a copy of a FLAIR class raster: every pixel whose centre lies in a correction takes the correction's class (its 'code' field); where corrections overlap, the latest (by its 'date' field, then by its order) wins; nothing outside them changes. The copy keeps the map's colours, class names and nodata; the original map is not modified. Corrections in another CRS are reprojected. A correction with a code outside the map's classes or a polygon that crosses itself stops the run with its id; empty ones and those outside the map are left out with a warning.</source>
            <translation>Grave les polygones de correction d'un photo-interprète dans une copie d'un raster de classes FLAIR : tout pixel dont le centre est dans une correction prend la classe de la correction (son champ « code ») ; là où des corrections se recouvrent, la plus récente (d'après son champ « date », puis son ordre) l'emporte ; rien ne change hors d'elles. La copie garde les couleurs, les noms de classes et le nodata de la carte ; la carte d'origine n'est pas modifiée. Les corrections dans un autre SCR sont reprojetées. Une correction dont le code n'est pas une classe de la carte ou un polygone qui se recoupe arrête le calcul en donnant son identifiant ; les vides et celles hors de la carte sont écartées avec un avertissement.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="57" />
            <source>Corrections</source>
            <translation>Corrections</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="59" />
            <source>Polygons with the right class in an integer 'code' field (e.g. map.corrections.gpkg).</source>
            <translation>Des polygones avec la bonne classe dans un champ entier « code » (par ex. map.corrections.gpkg).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="64" />
            <source>Corrected land-cover map</source>
            <translation>Carte d'occupation du sol corrigée</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="65" />
            <source>A new GeoTIFF (.tif); written under a temporary name and put in place once complete.</source>
            <translation>Un nouveau GeoTIFF (.tif) ; écrit sous un nom temporaire et mis en place une fois complet.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="68" />
            <source>Pixels changed</source>
            <translation>Pixels modifiés</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="82" />
            <source>The corrections layer cannot be opened.</source>
            <translation>La couche de corrections ne peut pas être ouverte.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="86" />
            <source>The corrections have no 'code' field: it holds the right class of each polygon.</source>
            <translation>Les corrections n'ont pas de champ « code » : il porte la bonne classe de chaque polygone.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/apply_corrections_algorithm.py" line="97" />
            <source>The corrections are in {source}, the map in {target}: they are reprojected.</source>
            <translation>Les corrections sont en {source}, la carte en {target} : elles sont reprojetées.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="103" />
            <source>e.g. 0.9: pixels the model got right with confidence keep the patch's context.</source>
            <translation>par ex. 0,9 : les pixels que le modèle a bien classés avec assurance gardent le contexte du patch.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="109" />
            <source>Date of the aerial image (YYYY-MM-DD)</source>
            <translation>Date de l'image aérienne (AAAA-MM-JJ)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="111" />
            <source>Written into each patch's aerial metadata, for models that use it.</source>
            <translation>Écrite dans les métadonnées aériennes de chaque patch, pour les modèles qui s'en servent.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="116" />
            <source>Training dataset folder</source>
            <translation>Dossier du jeu d'entraînement</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="117" />
            <source>A new or empty folder; the dataset appears in it only once complete.</source>
            <translation>Un dossier nouveau ou vide ; le jeu de données n'y apparaît qu'une fois complet.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="120" />
            <source>Patches written</source>
            <translation>Patchs écrits</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="146" />
            <source>The corrections must be a file (e.g. map.corrections.gpkg): save the layer to a file first.</source>
            <translation>Les corrections doivent être un fichier (par ex. map.corrections.gpkg) : enregistrez d'abord la couche dans un fichier.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="176" />
            <source>{patches} training patches in {zones} zone(s) written to {out}</source>
            <translation>{patches} patchs d'entraînement dans {zones} zone(s) écrits dans {out}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="49" />
            <source>Export training patches from corrections</source>
            <translation>Exporter des patchs d'entraînement à partir des corrections</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="52" />
            <source>Turns a reviewer's corrections of a FLAIR map into training data in the FLAIR #2 layout the training package reads (flair-train fit): 5-band aerial patches of the model's tile size, labels from the corrections (the latest wins where they overlap), and, only when a confidence is given, the map's predictions at least that confident elsewhere; other pixels are labelled 0, which training ignores. Give the aerial layers, Sentinel-2 folder and model bundle the map was made with. Each zone's Sentinel-2 super-area is read as a run reads it; a manifest.json lists the sources and the labelled pixels per class. The output folder must be new or empty.</source>
            <translation>Transforme les corrections d'une carte FLAIR par un photo-interprète en données d'entraînement au format FLAIR #2 que lit le paquet d'entraînement (flair-train fit) : des patchs aériens à 5 bandes de la taille de tuile du modèle, des étiquettes tirées des corrections (la plus récente l'emporte là où elles se recouvrent) et, seulement si une confiance est donnée, les prédictions de la carte au moins aussi sûres ailleurs ; les autres pixels sont étiquetés 0, que l'entraînement ignore. Donnez les couches aériennes, le dossier Sentinel-2 et le modèle avec lesquels la carte a été faite. La super-zone Sentinel-2 de chaque zone est lue comme un calcul la lit ; un manifest.json liste les sources et les pixels étiquetés par classe. Le dossier de sortie doit être nouveau ou vide.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="63" />
            <source>The class raster the corrections correct (e.g. map.tif).</source>
            <translation>Le raster de classes que les corrections corrigent (par ex. map.tif).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="69" />
            <source>A file of polygons with the right class in a 'code' field (e.g. map.corrections.gpkg).</source>
            <translation>Un fichier de polygones avec la bonne classe dans un champ « code » (par ex. map.corrections.gpkg).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="75" />
            <source>The folder of acquisitions the map was made with; each zone's super-area is read from it.</source>
            <translation>Le dossier d'acquisitions avec lequel la carte a été faite ; la super-zone de chaque zone y est lue.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="80" />
            <source>Model bundle the map was made with (.onnx)</source>
            <translation>Modèle avec lequel la carte a été faite (.onnx)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="82" />
            <source>Its bands, pixel size and tile size shape the patches, as they shaped the run.</source>
            <translation>Ses bandes, sa taille de pixel et sa taille de tuile définissent les patchs, comme elles ont défini le calcul.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="88" />
            <source>Confidence raster of the map</source>
            <translation>Raster de confiance de la carte</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="90" />
            <source>The map's .confidence.tif; needed only to label confident predictions too.</source>
            <translation>Le .confidence.tif de la carte ; nécessaire seulement pour étiqueter aussi les prédictions sûres.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/export_patches_algorithm.py" line="97" />
            <source>Also label predictions at least this confident (0..1; empty: corrections only)</source>
            <translation>Étiqueter aussi les prédictions au moins aussi sûres (0..1 ; vide : corrections seules)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="107" />
            <source>Shard size (px of the map, about)</source>
            <translation>Taille des morceaux (px de la carte, environ)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="112" />
            <source>Side of a shard in output pixels (8192 px: 1.6 km at 0.2 m); larger shards waste less.</source>
            <translation>Côté d'un morceau en pixels de la carte (8192 px : 1,6 km à 0,2 m) ; de plus grands morceaux gaspillent moins.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="118" />
            <source>Also write the confidence</source>
            <translation>Écrire aussi la confiance</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="119" />
            <source>Each shard writes its confidence raster.</source>
            <translation>Chaque morceau écrit son raster de confiance.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="123" />
            <source>Also write the class probabilities</source>
            <translation>Écrire aussi les probabilités des classes</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="124" />
            <source>One band per class, per shard.</source>
            <translation>Une bande par classe, par morceau.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="130" />
            <source>Plan</source>
            <translation>Plan</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="130" />
            <source>JSON files (*.json)</source>
            <translation>Fichiers JSON (*.json)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="131" />
            <source>The plan file (.json); its folder receives the shards and the merged map.</source>
            <translation>Le fichier du plan (.json) ; son dossier reçoit les morceaux et la carte fusionnée.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="134" />
            <source>Shards</source>
            <translation>Morceaux</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="135" />
            <source>Area of the plan (km²)</source>
            <translation>Surface du plan (km²)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="168" />
            <source>{count} shards over {area:.3f} km² in {path}</source>
            <translation>{count} morceaux sur {area:.3f} km² dans {path}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="173" />
            <source>Compute it with: python -m flair_qgis run-plan {path} --scheduler local:N</source>
            <translation>Calculez-le avec : python -m flair_qgis run-plan {path} --scheduler local:N</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="54" />
            <source>Plan a large run in shards (for a cluster)</source>
            <translation>Planifier un grand calcul en morceaux (pour une grappe de calcul)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="63" />
            <source>Writes the plan of a large run, split into shards that workers compute on a cluster.</source>
            <translation>Écrit le plan d'un grand calcul, découpé en morceaux que des nœuds de calcul traitent sur une grappe.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="66" />
            <source>Checks the inputs as a run would and writes the plan of a large run (a département): a JSON file listing the inputs, the model bundle and its SHA-256, the options and the shards, pieces of the area aligned on the tile grid that give, together, the very map one run would. The shards and the merged map are written beside the plan. Compute it outside QGIS: `python -m flair_qgis run-plan PLAN.json --scheduler local:4` (this machine's cores), `--scheduler slurm` (a SLURM cluster through Dask) or `run-shard PLAN.json N` per shard (a job array); then open the merged &lt;plan&gt;.vrt in QGIS, styled like a map of the dialog. The workers read files: every aerial layer must be a local raster file (a VRT of tiles is fine).</source>
            <translation>Vérifie les entrées comme le ferait un calcul et écrit le plan d'un grand calcul (un département) : un fichier JSON qui liste les entrées, le modèle et son SHA-256, les options et les morceaux, des parties de la zone alignées sur la grille des tuiles qui donnent ensemble la carte même qu'un seul calcul donnerait. Les morceaux et la carte fusionnée sont écrits à côté du plan. Calculez-le hors de QGIS : `python -m flair_qgis run-plan PLAN.json --scheduler local:4` (les cœurs de cette machine), `--scheduler slurm` (une grappe SLURM via Dask) ou `run-shard PLAN.json N` par morceau (un tableau de tâches) ; puis ouvrez le &lt;plan&gt;.vrt fusionné dans QGIS, stylé comme une carte de la fenêtre. Les nœuds lisent des fichiers : chaque couche aérienne doit être un fichier raster local (un VRT de dalles convient).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="89" />
            <source>A folder the workers can read, with the year's Level-2A acquisitions over the area.</source>
            <translation>Un dossier que les nœuds peuvent lire, avec les acquisitions de niveau 2A de l'année sur la zone.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="93" />
            <source>Model bundle (.onnx)</source>
            <translation>Modèle (.onnx)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="94" />
            <source>The model every worker runs; its SHA-256 is recorded, so a changed file is refused.</source>
            <translation>Le modèle que chaque nœud exécute ; son SHA-256 est enregistré, si bien qu'un fichier modifié est refusé.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/plan_algorithm.py" line="99" />
            <source>Polygons to map (their union, e.g. a département), in any CRS; used when no extent is given.</source>
            <translation>Polygones à cartographier (leur union, par ex. un département), dans n'importe quel SCR ; utilisés si aucune emprise n'est donnée.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="101" />
            <source>A GeoPackage (.gpkg) file; its layer is called land_cover.</source>
            <translation>Un fichier GeoPackage (.gpkg) ; sa couche s'appelle land_cover.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="104" />
            <source>Number of polygons</source>
            <translation>Nombre de polygones</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="132" />
            <source>{count} polygons written to {path}</source>
            <translation>{count} polygones écrits dans {path}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="138" />
            <source>{name} polygons</source>
            <translation>{name} polygones</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="37" />
            <source>Land-cover polygons (minimum mapping unit)</source>
            <translation>Polygones d'occupation du sol (unité minimale de collecte)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="40" />
            <source>Turns a FLAIR class raster into a GeoPackage of land-cover polygons: one polygon per connected region of one class (pixels joined by their sides).&lt;br&gt;&lt;b&gt;Minimum mapping unit&lt;/b&gt;: every region smaller than it is merged into its largest neighbouring region (GDAL's sieve filter), so the polygons cover the map without holes. 0 keeps every region.&lt;br&gt;&lt;b&gt;Simplification&lt;/b&gt;: boundaries are simplified edge by edge, each edge shared by two neighbours simplified once, so neighbours still meet without gap or overlap.&lt;br&gt;Fields: code, class_en, class_fr, area_m2 (m²), mean_confidence (0..1, when the confidence raster is given). Loaded with the official palette, which is also stored in the GeoPackage.</source>
            <translation>Transforme un raster de classes FLAIR en un GeoPackage de polygones d'occupation du sol : un polygone par région connexe d'une classe (pixels joints par leurs côtés).&lt;br&gt;&lt;b&gt;Unité minimale de collecte&lt;/b&gt; : toute région plus petite est fusionnée avec sa plus grande région voisine (filtre de tamisage de GDAL), si bien que les polygones couvrent la carte sans trou. 0 garde toutes les régions.&lt;br&gt;&lt;b&gt;Simplification&lt;/b&gt; : les limites sont simplifiées arête par arête, chaque arête partagée par deux voisins étant simplifiée une fois, si bien que les voisins se touchent toujours sans vide ni recouvrement.&lt;br&gt;Champs : code, class_en, class_fr, area_m2 (m²), mean_confidence (0..1, quand le raster de confiance est donné). Chargé avec la palette officielle, qui est aussi enregistrée dans le GeoPackage.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="54" />
            <source>The class raster written by the FLAIR algorithm (e.g. map.tif, with map.tif.aux.xml).</source>
            <translation>Le raster de classes écrit par l'algorithme FLAIR (par ex. map.tif, avec map.tif.aux.xml).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="59" />
            <source>Confidence raster (for the mean confidence)</source>
            <translation>Raster de confiance (pour la confiance moyenne)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="61" />
            <source>The map's confidence raster (map.confidence.tif), on the same grid; gives mean_confidence.</source>
            <translation>Le raster de confiance de la carte (map.confidence.tif), sur la même grille ; donne mean_confidence.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="70" />
            <source>Minimum mapping unit (m²)</source>
            <translation>Unité minimale de collecte (m²)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="75" />
            <source>Regions smaller than this area (square metres) are merged into their largest neighbour. 0 keeps every region; otherwise it must be at least one pixel (0.04 m² at 0.2 m).</source>
            <translation>Les régions plus petites que cette surface (mètres carrés) sont fusionnées avec leur plus grande voisine. 0 garde toutes les régions ; sinon elle doit valoir au moins un pixel (0,04 m² à 0,2 m).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="85" />
            <source>Boundary simplification tolerance (m, 0: pixel outlines)</source>
            <translation>Tolérance de simplification des limites (m, 0 : contours des pixels)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="90" />
            <source>Douglas-Peucker tolerance in metres for the shared boundaries; 0 keeps the pixel staircase outlines. Neighbours keep sharing their simplified edges.</source>
            <translation>Tolérance de Douglas-Peucker en mètres pour les limites partagées ; 0 garde les contours en escalier des pixels. Les voisins continuent de partager leurs arêtes simplifiées.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/polygonize_algorithm.py" line="99" />
            <source>Land-cover polygons</source>
            <translation>Polygones d'occupation du sol</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="108" />
            <source>A folder of Level-2A acquisitions of the year (ESA SAFE folders or zips, Theia, GeoTIFFs).</source>
            <translation>Un dossier d'acquisitions de niveau 2A de l'année (dossiers ou zips SAFE de l'ESA, Theia, GeoTIFF).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="113" />
            <source>An ONNX model with its FLAIR description (python -m flair_qgis info BUNDLE shows it).</source>
            <translation>Un modèle ONNX avec sa description FLAIR (python -m flair_qgis info MODELE l'affiche).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="117" />
            <source>Polygons to map (their union), in any CRS; used when no extent is given.</source>
            <translation>Polygones à cartographier (leur union), dans n'importe quel SCR ; utilisés si aucune emprise n'est donnée.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="127" />
            <source>0: the GPU when ONNX Runtime finds one, else the CPU; 1: GPU only; 2: CPU only.</source>
            <translation>0 : le GPU si ONNX Runtime en trouve un, sinon le CPU ; 1 : GPU seulement ; 2 : CPU seulement.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="132" />
            <source>Overlap between tiles (px; empty: an eighth of a tile)</source>
            <translation>Recouvrement entre tuiles (px ; vide : un huitième de tuile)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="139" />
            <source>Batch size (tiles)</source>
            <translation>Taille de lot (tuiles)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="144" />
            <source>Pixels shared by neighbouring tiles, blended so that tile edges do not show.</source>
            <translation>Pixels partagés par des tuiles voisines, fondus pour que les bords des tuiles ne se voient pas.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="145" />
            <source>Tiles run together; more is faster on a GPU and needs more memory.</source>
            <translation>Tuiles calculées ensemble ; plus est plus rapide sur GPU et demande plus de mémoire.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="205" />
            <source>The model ran on {device}: {tiles} tiles in {seconds:.1f} s</source>
            <translation>Le modèle a tourné sur {device} : {tiles} tuiles en {seconds:.1f} s</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="67" />
            <source>Land cover (FLAIR U-T&amp;T)</source>
            <translation>Occupation du sol (FLAIR U-T&amp;T)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="76" />
            <source>A FLAIR #2 land-cover map from an aerial image and a year of Sentinel-2, by a model bundle.</source>
            <translation>Une carte d'occupation du sol FLAIR #2 d'après une image aérienne et une année de Sentinel-2, par un modèle.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/predict_algorithm.py" line="81" />
            <source>Maps land cover (FLAIR #2 classes) from an aerial image (R, G, B, NIR, elevation) and a folder of Sentinel-2 acquisitions with a model bundle (.onnx) run by ONNX Runtime.&lt;br&gt;Bands: R, G, B come from the aerial layer; NIR and elevation from their own layers when given (band 1 unless set), else from bands 4 and 5 of the aerial layer.&lt;br&gt;Area: the extent, else the polygons of the area layer (selected ones when 'selected features only' is ticked), else the whole aerial layer.&lt;br&gt;Outputs: the class raster (class codes, styled with the official palette), optionally the confidence (percent) and the probability of every class, and the hectares and percent of each class (CSV).</source>
            <translation>Cartographie l'occupation du sol (classes FLAIR #2) d'après une image aérienne (R, V, B, PIR, élévation) et un dossier d'acquisitions Sentinel-2, avec un modèle (.onnx) exécuté par ONNX Runtime.&lt;br&gt;Bandes : R, V, B viennent de la couche aérienne ; PIR et élévation de leurs propres couches si elles sont données (bande 1 sauf indication), sinon des bandes 4 et 5 de la couche aérienne.&lt;br&gt;Zone : l'emprise, sinon les polygones de la couche de zone (ceux sélectionnés si « entités sélectionnées uniquement » est coché), sinon toute la couche aérienne.&lt;br&gt;Sorties : le raster de classes (codes de classes, stylé avec la palette officielle), en option la confiance (en pourcentage) et la probabilité de chaque classe, et les hectares et pourcentages de chaque classe (CSV).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_base.py" line="33" />
            <source>Review</source>
            <translation>Revue</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_base.py" line="57" />
            <source>Land-cover map (FLAIR class raster)</source>
            <translation>Carte d'occupation du sol (raster de classes FLAIR)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_base.py" line="58" />
            <source>The class raster written by the FLAIR algorithm (e.g. map.tif).</source>
            <translation>Le raster de classes écrit par l'algorithme FLAIR (par ex. map.tif).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_base.py" line="84" />
            <source>Cancelled: nothing was written.</source>
            <translation>Annulé : rien n'a été écrit.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_base.py" line="98" />
            <source>The raster given for {key} cannot be opened.</source>
            <translation>Le raster donné pour {key} ne peut pas être ouvert.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="101" />
            <source>Zones to review</source>
            <translation>Zones à revoir</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="103" />
            <source>A GeoPackage (.gpkg) file; its layer is called review_zones.</source>
            <translation>Un fichier GeoPackage (.gpkg) ; sa couche s'appelle review_zones.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="106" />
            <source>Number of zones</source>
            <translation>Nombre de zones</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="107" />
            <source>Area of the zones (m²)</source>
            <translation>Surface des zones (m²)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="134" />
            <source>{count} zones to review ({area:.0f} m²) written to {path}</source>
            <translation>{count} zones à revoir ({area:.0f} m²) écrites dans {path}</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="139" />
            <source>{name} zones to review</source>
            <translation>{name} zones à revoir</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="39" />
            <source>Zones to review (low confidence)</source>
            <translation>Zones à revoir (faible confiance)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="42" />
            <source>Builds the review queue of a FLAIR result: the connected regions (pixels joined by their sides) whose confidence is under the threshold, of at least the minimum area, ranked by area x (1 - mean confidence): rank 1 is the most urgent.&lt;br&gt;Fields: rank, area_m2 (m²), mean_confidence (0..1), class_code / class_name (the class predicted on most of the zone), runner_up_code / runner_up_name (with the probabilities raster: the other class of highest mean probability; without it: the second most predicted class, empty if none), status ('to review', 'confirmed', 'corrected'), reviewed_at (ISO date and time) and note, for the review dock.</source>
            <translation>Construit la file de revue d'un résultat FLAIR : les régions connexes (pixels joints par leurs côtés) dont la confiance est sous le seuil, d'au moins la surface minimale, classées par surface x (1 - confiance moyenne) : le rang 1 est le plus urgent.&lt;br&gt;Champs : rank, area_m2 (m²), mean_confidence (0..1), class_code / class_name (la classe prédite sur la plus grande part de la zone), runner_up_code / runner_up_name (avec le raster des probabilités : l'autre classe de plus forte probabilité moyenne ; sans lui : la deuxième classe la plus prédite, vide s'il n'y en a pas), status (« to review », « confirmed », « corrected »), reviewed_at (date et heure ISO) et note, pour le panneau de revue.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="58" />
            <source>The map's confidence raster (map.confidence.tif), on the same grid.</source>
            <translation>Le raster de confiance de la carte (map.confidence.tif), sur la même grille.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="64" />
            <source>Class probabilities (for the runner-up class)</source>
            <translation>Probabilités des classes (pour la deuxième classe)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="66" />
            <source>The map's probabilities raster (map.probabilities.tif), on the same grid.</source>
            <translation>Le raster des probabilités de la carte (map.probabilities.tif), sur la même grille.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="73" />
            <source>Confidence threshold (0..1)</source>
            <translation>Seuil de confiance (0..1)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="79" />
            <source>Pixels whose confidence (probability of the mapped class) is under this value need a look.</source>
            <translation>Les pixels dont la confiance (probabilité de la classe cartographiée) est sous cette valeur méritent un coup d'œil.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="88" />
            <source>Minimum zone area (m²)</source>
            <translation>Surface minimale des zones (m²)</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/review_zones_algorithm.py" line="93" />
            <source>Low-confidence regions smaller than this (square metres) are left out; 0 keeps them all.</source>
            <translation>Les régions de faible confiance plus petites (mètres carrés) sont écartées ; 0 les garde toutes.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="104" />
            <source>The output layer cannot be created.</source>
            <translation>La couche de sortie ne peut pas être créée.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="134" />
            <source>{count} polygon(s) hold no classified pixel of the map (outside it, or smaller than a pixel).</source>
            <translation>{count} polygone(s) ne contiennent aucun pixel classé de la carte (hors d'elle, ou plus petits qu'un pixel).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="40" />
            <source>Land-cover statistics per polygon</source>
            <translation>Statistiques d'occupation du sol par polygone</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="43" />
            <source>Measures the land cover of a FLAIR class raster inside every polygon of a vector layer (parcels, communes, study areas). The output keeps the polygons and their attributes and adds one pair of columns per class of the map's nomenclature: ha_&lt;class&gt; (hectares) and pct_&lt;class&gt; (percent of the polygon's classified area), e.g. ha_building, pct_building; and classified_ha, the polygon's classified area in hectares. A pixel counts when its centre lies in the polygon; overlapping polygons are each measured in full.</source>
            <translation>Mesure l'occupation du sol d'un raster de classes FLAIR dans chaque polygone d'une couche vecteur (parcelles, communes, zones d'étude). La sortie garde les polygones et leurs attributs et ajoute une paire de colonnes par classe de la nomenclature de la carte : ha_&lt;classe&gt; (hectares) et pct_&lt;classe&gt; (pourcentage de la surface classée du polygone), par ex. ha_building, pct_building ; et classified_ha, la surface classée du polygone en hectares. Un pixel compte quand son centre est dans le polygone ; des polygones qui se recouvrent sont chacun mesurés en entier.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="58" />
            <source>The polygons to measure, in any CRS (reprojected to the map's).</source>
            <translation>Les polygones à mesurer, dans n'importe quel SCR (reprojetés dans celui de la carte).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="65" />
            <source>Land-cover statistics</source>
            <translation>Statistiques d'occupation du sol</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="67" />
            <source>The polygons with ha_&lt;class&gt; (hectares) and pct_&lt;class&gt; (%) columns.</source>
            <translation>Les polygones avec les colonnes ha_&lt;classe&gt; (hectares) et pct_&lt;classe&gt; (%).</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="80" />
            <source>The polygon layer cannot be opened.</source>
            <translation>La couche de polygones ne peut pas être ouverte.</translation>
        </message>
        <message>
            <location filename="../../flair_qgis/processing/zonal_statistics_algorithm.py" line="94" />
            <source>The polygon layer already has the fields {names}: rename or drop them first.</source>
            <translation>La couche de polygones a déjà les champs {names} : renommez-les ou supprimez-les d'abord.</translation>
        </message>
    </context>
</TS>
