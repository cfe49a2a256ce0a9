"""The model catalogue file: which models exist, where each is published, its size and SHA-256.

A catalogue is a JSON document (docs/models.md); every entry states all of its fields, so that a
download can be verified before the model is ever used. Validation errors name the faulty field.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle_spec import PRECISIONS
from ..errors import FlairError

#: The value of the catalogue's "format" key.
CATALOGUE_FORMAT = "flair-qgis-catalogue"
CATALOGUE_VERSION = 1
#: Model file formats: a ready bundle, or a checkpoint format the training package converts.
FORMATS = ("onnx", "flair-inc-pth", "reference-ckpt")
CHECKPOINT_FORMATS = FORMATS[1:]
INPUTS = ("aerial", "sentinel2", "aerial_metadata")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Largest catalogue document read (a catalogue lists models, it does not hold them).
MAX_CATALOGUE_BYTES = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_REQUIRED = ("name", "task", "inputs", "classes", "licence", "url", "size", "sha256", "format", "description")


class CatalogueError(FlairError):
    """A catalogue that cannot be read or whose content is invalid (the message names the field)."""

    def __init__(self, message: str, source: str = "", field: str | None = None, hint: str | None = None):
        where = f"The model catalogue {source}" if source else "The model catalogue"
        text = f"{where}: {message}"
        if field:
            text += f" (field '{field}')"
        super().__init__(
            text, hint or "Correct the catalogue file (docs/models.md gives its format) or remove it."
        )
        self.field = field


def is_loopback(url: str) -> bool:
    """True for a URL whose host is this machine (127.0.0.1, localhost, ::1)."""
    return (urllib.parse.urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def check_url(url: str, what: str = "URL") -> str:
    """`url` when it may be fetched: https anywhere, plain http only on the loopback (tests, local
    mirrors). Raises FlairError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback(url):
        return url
    if parts.scheme == "http":
        raise FlairError(
            f"The {what} {url} uses plain http, which is refused: a download must come over https",
            "Ask the publisher for an https address.",
        )
    raise FlairError(f"The {what} {url!r} is not an https URL", "Give an https:// address.")


@dataclass(frozen=True)
class CatalogueEntry:
    """One model a catalogue lists: what it is and exactly which file (URL, size, SHA-256) it is."""

    name: str
    task: str
    inputs: tuple[str, ...]
    classes: int
    licence: str
    url: str
    size: int
    sha256: str
    format: str
    description: str
    training_data: str = ""
    homepage: str = ""
    precision: str = ""  # a bundle's model.precision (fp32, fp16, int8); "" when not stated
    catalogue: str = ""  # where the entry was read from (a path or URL), for messages

    @property
    def is_checkpoint(self) -> bool:
        return self.format in CHECKPOINT_FORMATS

    @property
    def file_name(self) -> str:
        """The downloaded file's name: the URL's last path segment (for checkpoints), `<name>.onnx` for
        bundles."""
        if self.format == "onnx":
            return f"{self.name}.onnx"
        tail = Path(urllib.parse.unquote(urllib.parse.urlsplit(self.url).path)).name
        return tail if _NAME.match(tail or "") else f"{self.name}.{self.format.rsplit('-', 1)[-1]}"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "task": self.task,
            "inputs": list(self.inputs),
            "classes": self.classes,
            "licence": self.licence,
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256,
            "format": self.format,
            "description": self.description,
        }
        if self.training_data:
            data["training_data"] = self.training_data
        if self.homepage:
            data["homepage"] = self.homepage
        if self.precision:
            data["precision"] = self.precision
        return data


@dataclass(frozen=True)
class Catalogue:
    """The models of one or several catalogue documents, in the order they were read."""

    entries: tuple[CatalogueEntry, ...] = ()
    sources: tuple[str, ...] = ()
    descriptions: tuple[str, ...] = field(default=())

    def find(self, name: str) -> CatalogueEntry:
        """The entry called `name`; FlairError naming the known ones when there is none."""
        for entry in self.entries:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.entries) or "none"
        raise FlairError(
            f"No model called '{name}' in the catalogues read ({', '.join(self.sources) or 'none'})",
            f"Models listed: {known}. Add the catalogue that lists it with --catalogue PATH_OR_URL.",
        )

    def merged(self, other: Catalogue) -> Catalogue:
        """Both catalogues' entries; a name listed twice keeps its first entry, unless the two disagree
        on the file (URL or SHA-256), which is an error."""
        entries = list(self.entries)
        for entry in other.entries:
            first = next((e for e in entries if e.name == entry.name), None)
            if first is None:
                entries.append(entry)
            elif first.sha256 != entry.sha256:
                raise CatalogueError(
                    f"the model '{entry.name}' is also listed by {first.catalogue} with another SHA-256",
                    entry.catalogue,
                    "name",
                    "Rename the model in one of the catalogues, or remove one of them.",
                )
        return Catalogue(tuple(entries), self.sources + other.sources, self.descriptions + other.descriptions)


def parse_catalogue(text: str | bytes, source: str = "") -> Catalogue:
    """Validate a catalogue document. Relative model URLs are resolved against `source` when it is a
    URL. Raises CatalogueError naming the faulty field."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"is not valid JSON ({exc})", source) from exc
    if not isinstance(data, dict):
        raise CatalogueError("must be a JSON object", source)
    if data.get("format") != CATALOGUE_FORMAT:
        raise CatalogueError(f"'format' must be \"{CATALOGUE_FORMAT}\"", source, "format")
    if data.get("version") != CATALOGUE_VERSION:
        raise CatalogueError(
            f"version {data.get('version')!r} is not supported (this plugin reads version {CATALOGUE_VERSION})",
            source,
            "version",
            "Update the plugin, or ask the catalogue's publisher for a version 1 file.",
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise CatalogueError("must be a string", source, "description")
    models = data.get("models")
    if not isinstance(models, list):
        raise CatalogueError("must be a list", source, "models")
    entries: list[CatalogueEntry] = []
    for index, item in enumerate(models):
        entry = _entry(item, f"models[{index}]", source)
        if any(e.name == entry.name for e in entries):
            raise CatalogueError(f"the name '{entry.name}' is listed twice", source, f"models[{index}].name")
        entries.append(entry)
    return Catalogue(tuple(entries), (source,) if source else (), (description,))


def _entry(item: Any, path: str, source: str) -> CatalogueEntry:
    if not isinstance(item, dict):
        raise CatalogueError("must be an object", source, path)
    for key in _REQUIRED:
        if key not in item:
            raise CatalogueError("is missing", source, f"{path}.{key}")

    def text(key: str, pattern: re.Pattern | None = None) -> str:
        value = item.get(key, "")
        if not isinstance(value, str) or (key in _REQUIRED and not value.strip()):
            raise CatalogueError("must be a non-empty string", source, f"{path}.{key}")
        if pattern is not None and not pattern.match(value):
            raise CatalogueError(f"{value!r} is not valid here", source, f"{path}.{key}")
        return value

    name = text("name", _NAME)
    inputs = item["inputs"]
    if not isinstance(inputs, list) or not inputs or any(i not in INPUTS for i in inputs):
        raise CatalogueError(f"must be a non-empty list of {', '.join(INPUTS)}", source, f"{path}.inputs")
    if "aerial" not in inputs:
        raise CatalogueError("must include 'aerial'", source, f"{path}.inputs")
    for key in ("classes", "size"):
        value = item[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise CatalogueError("must be a positive integer", source, f"{path}.{key}")
    sha256 = text("sha256")
    if not _SHA256.match(sha256):
        raise CatalogueError("must be 64 lowercase hexadecimal digits", source, f"{path}.sha256")
    model_format = text("format")
    if model_format not in FORMATS:
        raise CatalogueError(f"must be one of {', '.join(FORMATS)}", source, f"{path}.format")
    precision = text("precision")
    if precision and precision not in PRECISIONS:
        raise CatalogueError(f"must be one of {', '.join(PRECISIONS)}", source, f"{path}.precision")
    url = text("url")
    if source.startswith(("https://", "http://")):
        url = urllib.parse.urljoin(source, url)
    try:
        check_url(url, "model URL")
    except FlairError as exc:
        raise CatalogueError(exc.message, source, f"{path}.url") from exc
    return CatalogueEntry(
        name=name,
        task=text("task"),
        inputs=tuple(inputs),
        classes=item["classes"],
        licence=text("licence"),
        url=url,
        size=item["size"],
        sha256=sha256,
        format=model_format,
        description=text("description"),
        training_data=text("training_data"),
        homepage=text("homepage"),
        precision=precision,
        catalogue=source,
    )


def shipped_catalogue_path() -> Path:
    """The catalogue shipped with the plugin: `resources/catalogue.json`, inside the packaged plugin or
    beside the package in a checkout."""
    package = Path(__file__).resolve().parents[2]
    for candidate in (package / "resources", package.parent / "resources"):
        if (candidate / "catalogue.json").is_file():
            return candidate / "catalogue.json"
    return package / "resources" / "catalogue.json"


def read_catalogue_file(path: str | Path) -> Catalogue:
    """Read a catalogue file from disk. Raises CatalogueError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CATALOGUE_BYTES + 1)
    except OSError as exc:
        raise CatalogueError(f"cannot be read ({exc.strerror or exc})", str(path)) from exc
    if len(data) > MAX_CATALOGUE_BYTES:
        raise CatalogueError("is larger than 1 MiB, which no catalogue needs", str(path))
    return parse_catalogue(data, str(path))


def is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def load_catalogues(sources: Iterable[str], shipped: bool = True, timeout: float = 30.0) -> Catalogue:
    """The shipped catalogue (when `shipped`) followed by each source, a file path or a URL. A URL is
    fetched here: call this only on a user's explicit action when `sources` holds one."""
    catalogue = read_catalogue_file(shipped_catalogue_path()) if shipped else Catalogue()
    for source in sources:
        source = str(source).strip()
        if not source:
            continue
        if is_url(source):
            from .download import fetch_catalogue

            other = fetch_catalogue(source, timeout=timeout)
        else:
            other = read_catalogue_file(source)
        catalogue = catalogue.merged(other)
    return catalogue


def entry_for_file(
    path: str | Path, name: str, url: str, model_format: str = "onnx", **fields: Any
) -> dict[str, Any]:
    """A catalogue entry for a file a team publishes, with its true size and SHA-256 computed from the
    file itself (for `python -m flair_qgis models entry`). Fields not given are taken from the bundle's
    own metadata when it is one."""
    from .download import file_sha256

    path = Path(path)
    data: dict[str, Any] = {"name": name, "url": url, "format": model_format}
    if model_format == "onnx":
        from ..bundle import load_bundle

        spec = load_bundle(path).spec
        inputs = ["aerial"] + (["sentinel2"] if spec.sentinel2 is not None else [])
        inputs += ["aerial_metadata"] if spec.aerial_metadata is not None else []
        data.update(
            task="land-cover segmentation",
            inputs=inputs,
            classes=len(spec.nomenclature.classes),
            description=spec.description or f"{spec.model_name} {spec.model_version} ({spec.architecture})",
            precision=spec.precision,
        )
        licence = spec.provenance.get("licence")
        if isinstance(licence, str) and licence:
            data["licence"] = licence
    data.update({k: v for k, v in fields.items() if v not in (None, "")})
    data["size"] = path.stat().st_size
    data["sha256"] = file_sha256(path)
    ordered = {key: data[key] for key in _REQUIRED if key in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    missing = [key for key in _REQUIRED if key not in ordered]
    if missing:
        raise FlairError(
            f"The entry for {path} lacks {', '.join(missing)}",
            "Give them as options (e.g. --licence, --task, --inputs, --classes, --description).",
        )
    _entry(ordered, "entry", "")
    return ordered


def inputs_text(inputs: Sequence[str]) -> str:
    return " + ".join(
        {"aerial": "aerial", "sentinel2": "Sentinel-2", "aerial_metadata": "metadata"}[i] for i in inputs
    )
