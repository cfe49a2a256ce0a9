"""The plugin's French interface: the strings its code passes to tr(), the translation file translators edit
(flair_qgis/i18n/flair_qgis_fr.ts, Qt Linguist's format) and the compiled file QGIS loads (.qm).

    python scripts/translations.py update     add the new strings to the .ts (unfinished), drop vanished ones
    python scripts/translations.py compile    build the .qm with Qt's lrelease
    python scripts/translations.py check      list the strings without a finished translation (exit 1 if any)
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "flair_qgis"
I18N = PLUGIN / "i18n"
LANGUAGES = ("fr",)
#: The one translation context of the plugin (flair_qgis/gui/tr.py).
CONTEXT = "FlairLandCover"


def ts_path(language: str) -> Path:
    return I18N / f"flair_qgis_{language}.ts"


def qm_path(language: str) -> Path:
    return I18N / f"flair_qgis_{language}.qm"


def source_strings(root: Path = PLUGIN) -> dict[str, list[str]]:
    """Every literal passed to tr() in the plugin's code -> where ("file:line"), in order of appearance."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            first = node.args[0]
            if name == "tr" and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def read_ts(path: Path) -> dict[str, str | None]:
    """source -> translation (None while unfinished) of the plugin's context in a .ts file."""
    if not path.is_file():
        return {}
    translations: dict[str, str | None] = {}
    for context in ET.parse(path).getroot().iter("context"):
        if context.findtext("name") != CONTEXT:
            continue
        for message in context.iter("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            finished = translation is not None and translation.get("type") not in (
                "unfinished",
                "vanished",
                "obsolete",
            )
            translations[source] = (translation.text or "") if finished and translation.text else None
    return translations


def write_ts(
    path: Path, language: str, strings: dict[str, list[str]], translations: dict[str, str | None]
) -> None:
    root = ET.Element("TS", version="2.1", language=f"{language}_FR" if language == "fr" else language)
    context = ET.SubElement(root, "context")
    ET.SubElement(context, "name").text = CONTEXT
    for source, places in sorted(strings.items(), key=lambda item: item[1][0]):
        message = ET.SubElement(context, "message")
        for place in places[:1]:
            filename, line = place.rsplit(":", 1)
            ET.SubElement(message, "location", filename=f"../../{filename}", line=line)
        ET.SubElement(message, "source").text = source
        translation = ET.SubElement(message, "translation")
        text = translations.get(source)
        if text:
            translation.text = text
        else:
            translation.set("type", "unfinished")
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n", encoding="utf-8")


def untranslated(language: str) -> list[str]:
    """The strings of the code without a finished translation in the language's .ts."""
    translations = read_ts(ts_path(language))
    return [source for source in source_strings() if not translations.get(source)]


def lrelease() -> str:
    for name in ("lrelease", "lrelease-qt5", "/usr/lib/qt5/bin/lrelease", "lrelease-qt6"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("translations: Qt's lrelease is missing (Debian: apt install qttools5-dev-tools).")


def compile_qm(language: str, target: Path | None = None) -> Path:
    target = target or qm_path(language)
    completed = subprocess.run(
        [
            lrelease(),
            "-silent",
            "-nounfinished",
            "-removeidentical",
            str(ts_path(language)),
            "-qm",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"translations: lrelease failed: {completed.stderr or completed.stdout}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["update", "compile", "check"])
    args = parser.parse_args(argv)
    for language in LANGUAGES:
        if args.command == "update":
            strings = source_strings()
            translations = read_ts(ts_path(language))
            write_ts(ts_path(language), language, strings, translations)
            missing = [s for s in strings if not translations.get(s)]
            print(f"{ts_path(language)}: {len(strings)} strings, {len(missing)} to translate")
        elif args.command == "compile":
            print(compile_qm(language))
        else:
            missing = untranslated(language)
            for source in missing:
                print(f"{language}: no translation for {source!r}")
            if missing:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
