"""The plugin's one translation hook: every user-visible string goes through tr() in one context, and the
French translation (i18n/flair_qgis_fr.qm, built from i18n/flair_qgis_fr.ts by scripts/translations.py) is
installed when QGIS runs in French."""

from __future__ import annotations

from pathlib import Path

from qgis.PyQt.QtCore import QCoreApplication, QTranslator

CONTEXT = "FlairLandCover"
#: The languages the plugin ships a translation for.
LANGUAGES = ("fr",)
I18N = Path(__file__).resolve().parent.parent / "i18n"

_installed: list[QTranslator] = []


def tr(text: str) -> str:
    """`text` translated in the plugin's context (unchanged while no translation is installed)."""
    return QCoreApplication.translate(CONTEXT, text)


def install_translation(locale: str | None = None) -> str | None:
    """Install the translation for QGIS's language (or `locale`, e.g. "fr_FR"); returns the language
    installed, None when the plugin has none for it (it then speaks English)."""
    if _installed:
        return _installed[0].objectName()
    if locale is None:
        from qgis.core import QgsApplication

        locale = QgsApplication.locale() or ""
    language = locale[:2].lower()
    if language not in LANGUAGES:
        return None
    translator = QTranslator()
    if not translator.load(str(I18N / f"flair_qgis_{language}.qm")):
        return None
    translator.setObjectName(language)
    QCoreApplication.installTranslator(translator)
    _installed.append(translator)
    return language


def remove_translation() -> None:
    """Uninstall the plugin's translation (when the plugin is unloaded)."""
    while _installed:
        QCoreApplication.removeTranslator(_installed.pop())


def device_text(provider: str) -> str:
    """Where ONNX Runtime ran the model, in QGIS's language ("the CPU", "le CPU")."""
    from ..core.runtime import device_label

    labels = {
        "CPUExecutionProvider": tr("the CPU"),
        "CUDAExecutionProvider": tr("the GPU (CUDA)"),
        "TensorrtExecutionProvider": tr("the GPU (TensorRT)"),
        "DmlExecutionProvider": tr("the GPU (DirectML)"),
        "CoreMLExecutionProvider": tr("Apple's Core ML"),
    }
    return labels.get(provider, device_label(provider))


def precision_text(precision: str) -> str:
    """A bundle's precision (BundleSpec.precision) in words."""
    words = {
        "fp32": tr("fp32 (full precision)"),
        "fp16": tr("fp16 (half precision, for GPUs)"),
        "int8": tr("int8 (quantised: faster on the CPU, its map checked against fp32)"),
    }
    return words.get(precision, precision)
