"""The French interface: every string the plugin passes to tr() has a finished French translation with the
same placeholders, the compiled .qm that ships is the one Qt's lrelease builds from the .ts, and QGIS run in
French (the real qgis_process, a profile set to French) shows the plugin's Processing help in French."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.qgis_profile import make_profile, run_qgis_process

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import translations  # noqa: E402  (scripts/translations.py)

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def test_every_string_of_the_plugin_has_a_french_translation() -> None:
    strings = translations.source_strings()
    assert len(strings) > 250  # the dialog, the docks, the task, the installer, the Processing algorithms
    french = translations.read_ts(translations.ts_path("fr"))
    missing = [source for source in strings if not french.get(source)]
    assert not missing, "no French for:\n" + "\n".join(f"{s!r} ({strings[s][0]})" for s in missing)
    for source in strings:
        assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(french[source])), source


def test_the_check_fails_on_a_new_string_without_translation(tmp_path, monkeypatch) -> None:
    code = tmp_path / "flair_qgis"
    code.mkdir()
    (code / "new_panel.py").write_text('from .gui.tr import tr\nLABEL = tr("A brand new button")\n')
    found = translations.source_strings(code)
    assert list(found) == ["A brand new button"]
    monkeypatch.setattr(translations, "source_strings", lambda root=code: found)
    assert translations.untranslated("fr") == ["A brand new button"]
    assert translations.main(["check"]) == 1


def test_the_shipped_qm_is_built_from_the_ts(tmp_path) -> None:
    built = translations.compile_qm("fr", tmp_path / "fr.qm")
    assert built.read_bytes() == translations.qm_path("fr").read_bytes(), (
        "flair_qgis/i18n/flair_qgis_fr.qm is stale: run `python scripts/translations.py compile`"
    )


def test_qgis_in_french_shows_the_processing_help_in_french(tmp_path) -> None:
    french = make_profile(tmp_path / "fr", locale="fr_FR")
    shown = run_qgis_process(french, "help", "flair:polygonize")
    assert shown.returncode == 0, shown.stderr
    assert "Polygones d'occupation du sol (unité minimale de collecte)" in shown.stdout
    assert "Unité minimale de collecte (m²)" in shown.stdout
    listing = run_qgis_process(french, "list").stdout
    assert "Zones à revoir (faible confiance)" in listing and "Occupation du sol (FLAIR U-T&T)" in listing
    english = run_qgis_process(make_profile(tmp_path / "en", locale="en_GB"), "help", "flair:polygonize")
    assert "Land-cover polygons (minimum mapping unit)" in english.stdout
