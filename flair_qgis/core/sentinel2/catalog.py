"""Finding the Sentinel-2 acquisitions in a user's folder, whatever form they were downloaded in.

discover() recognises ESA L2A SAFE folders and zips, Theia L2A folders and zips, per-date GeoTIFFs,
stacked GeoTIFFs with a dates file and FLAIR #2 super-areas, and says what it skipped and why.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import rasterio
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from ..errors import InputError
from ..geometry import raster_bounds
from . import safe, stacks, theia
from .dates import parse_date, parse_tile
from .flair_npy import DATA_SUFFIX, FlairSuperArea
from .layout import BANDS, FoundProduct, ProductLayout

#: How many skipped items a run's warnings name one by one before counting the rest.
SKIPPED_WARNINGS = 5
FORMATS_HINT = (
    "Expected ESA Level-2A SAFE folders or .zip files, Theia Level-2A folders or .zip files, per-date "
    "10-band GeoTIFFs with the date in their name, a stacked GeoTIFF with a dates file, or FLAIR #2 "
    "super-areas (*_data.npy, *_masks.npy, *_products.txt)."
)


@dataclass(frozen=True)
class ProductFormat:
    """A format of Sentinel-2 product delivered as a folder or a zip (its format module says how to tell
    it and where its bands and masks are): `is_folder(path)`, `folder_products(path)`; `in_zip(names)`,
    `zip_products(path, names, archive)` for a zip whose members are `names`."""

    kind: str
    zip_kind: str
    is_folder: Callable[[Path], bool]
    folder_products: Callable[[Path], list[FoundProduct]]
    in_zip: Callable[[list[str]], bool]
    zip_products: Callable[[Path, list[str], zipfile.ZipFile], list[FoundProduct]]


#: The product formats, tried in this order on each folder and zip. A new format is a module (see
#: theia.py) and an entry here; the files that are not products (GeoTIFFs, stacks, FLAIR #2 super-areas)
#: are recognised by their names below.
PRODUCT_FORMATS = (
    ProductFormat(
        "safe", "safe-zip", safe.is_safe_folder, safe.folder_products, safe.in_zip, safe.zip_products
    ),
    ProductFormat(
        "theia", "theia-zip", theia.is_theia_folder, theia.folder_products, theia.in_zip, theia.zip_products
    ),
)


def folder_format(folder: Path) -> ProductFormat | None:
    """The format of the product `folder` is, None when it is not one (then it is searched)."""
    return next((f for f in PRODUCT_FORMATS if f.is_folder(folder)), None)


@dataclass(frozen=True)
class Acquisition:
    """One date of one product. `layout` says where its bands and masks are (None for flair-npy);
    `crs` and `bounds` are the footprint read from its first band (None for flair-npy)."""

    date: date
    tile: str | None
    kind: str
    path: Path
    layout: ProductLayout | None = None
    crs: CRS | None = None
    bounds: tuple[float, float, float, float] | None = None
    note: str = ""

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class Sentinel2Catalog:
    """What a folder holds: the usable acquisitions (sorted by date, tile, name) and the skipped items."""

    folder: Path
    acquisitions: list[Acquisition] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def dates(self) -> list[date]:
        return sorted({a.date for a in self.acquisitions})

    @property
    def tiles(self) -> list[str]:
        return sorted({a.tile for a in self.acquisitions if a.tile})

    def summary(self) -> str:
        """A few lines for the user: dates, count per month, tiles, kinds, skipped items and why."""
        lines = [
            f"Sentinel-2 in {self.folder}: {len(self.acquisitions)} acquisitions on {len(self.dates)} dates"
        ]
        if self.dates:
            lines.append("  dates: " + ", ".join(d.isoformat() for d in self.dates))
            months = Counter(d.strftime("%Y-%m") for d in self.dates)
            lines.append("  per month: " + ", ".join(f"{m} {n}" for m, n in sorted(months.items())))
        lines.append("  tiles: " + (", ".join(self.tiles) or "none named"))
        kinds = Counter(a.kind for a in self.acquisitions)
        lines.append("  kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        notes = [f"{a.name}: {a.note}" for a in self.acquisitions if a.note]
        for note in sorted(set(notes)):
            lines.append(f"  note {note}")
        for path, reason in self.skipped:
            lines.append(f"  skipped {path.name}: {reason}")
        return "\n".join(lines)

    def skipped_warnings(self, limit: int = SKIPPED_WARNINGS) -> list[str]:
        """The skipped items as warnings of a run: one line each for the first `limit`, then one line
        counting the others (all of them are in summary())."""
        lines = [f"Sentinel-2: skipped {path.name}: {reason}" for path, reason in self.skipped[:limit]]
        rest = self.skipped[limit:]
        if rest:
            lines.append(
                f"Sentinel-2: {len(rest)} more item{'s' if len(rest) > 1 else ''} of {self.folder} skipped "
                f"(first: {rest[0][0].name})"
            )
        return lines


def _footprint(layout: ProductLayout) -> tuple[CRS, tuple[float, float, float, float]]:
    with rasterio.open(layout.bands[0].path) as src:
        if src.crs is None:
            raise ValueError(f"{Path(layout.bands[0].path).name} has no CRS")
        return src.crs, raster_bounds(src.transform, src.width, src.height)


class _Scanner:
    """Walks a folder and fills a catalog, recognising each entry by its name and content."""

    def __init__(self, folder: Path) -> None:
        self.catalog = Sentinel2Catalog(folder)
        self._visited: set[Path] = set()  # resolved folders already walked: a symlink loop is walked once

    def skip(self, path: Path, reason: str) -> None:
        self.catalog.skipped.append((path, reason))

    def add(
        self,
        path: Path,
        kind: str,
        layout: ProductLayout | None,
        day: date | None,
        note: str = "",
        product: str | None = None,
    ) -> None:
        """Add the acquisition `path` (skip it when `layout` or `day` is None); its tile is read from
        `product`, the product's own name when known (a zip may be renamed), else from the path's name."""
        if layout is None:
            self.skip(path, note)
            return
        if day is None:
            self.skip(path, "no acquisition date in the name")
            return
        try:
            crs, bounds = _footprint(layout)
        except (RasterioError, OSError, ValueError) as exc:
            self.skip(path, f"unreadable {Path(layout.bands[0].path).name}: {exc}")
            return
        tile = (parse_tile(product) if product else None) or parse_tile(path.name)
        self.catalog.acquisitions.append(Acquisition(day, tile, kind, path, layout, crs, bounds, note))

    def scan(self, folder: Path) -> None:
        try:
            real = folder.resolve(strict=True)
        except (OSError, RuntimeError):  # a broken link or a link loop PathLib cannot resolve
            return
        if real in self._visited:
            return
        self._visited.add(real)
        for entry in sorted(folder.iterdir()):
            if entry.is_dir():
                product_format = folder_format(entry)
                if product_format is not None:
                    self.add_folder(product_format, entry)
                else:
                    self.scan(entry)
            elif entry.suffix.lower() == ".zip":
                self.scan_zip(entry)
            elif entry.name.endswith(DATA_SUFFIX):
                self.scan_flair(entry)
            elif entry.suffix.lower() in stacks.TIFF_SUFFIXES and not stacks.is_mask_file(entry):
                self.scan_tiff(entry)

    def add_folder(self, product_format: ProductFormat, folder: Path) -> None:
        for layout, note, product in product_format.folder_products(folder):
            self.add(folder, product_format.kind, layout, parse_date(product or folder.name), note, product)

    def scan_zip(self, path: Path) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                product_format = next((f for f in PRODUCT_FORMATS if f.in_zip(names)), None)
                if product_format is None:
                    self.skip(
                        path, "not a Sentinel-2 Level-2A product (no MTD_MSIL2A.xml nor FRE bands inside)"
                    )
                    return
                for layout, note, product in product_format.zip_products(path, names, archive):
                    day = _zip_date(path, product, names)
                    self.add(path, product_format.zip_kind, layout, day, note, product)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            self.skip(path, f"corrupt or truncated zip: {exc}")

    def scan_flair(self, path: Path) -> None:
        try:
            area = FlairSuperArea.open(path)
        except InputError as exc:
            self.skip(path, exc.message)
            return
        for product, day in zip(area.products, area.dates, strict=True):
            self.catalog.acquisitions.append(
                Acquisition(day, parse_tile(product), "flair-npy", path, note=product)
            )

    def scan_tiff(self, path: Path) -> None:
        try:
            with rasterio.open(path) as src:
                count, nodata = src.count, src.nodata
                saturated = stacks.saturated_value(src.dtypes[0])
        except (RasterioError, OSError) as exc:
            self.skip(path, f"unreadable GeoTIFF: {exc}")
            return
        dates_path = stacks.dates_file_for(path)
        mask_path = stacks.mask_file_for(path)
        n = len(BANDS)
        note = "" if mask_path else "no mask file: dates are not cloud-filtered"
        if dates_path is not None and count % n == 0:
            try:
                days = stacks.read_dates_file(dates_path)
            except (ValueError, OSError) as exc:
                self.skip(path, f"unreadable dates file: {exc}")
                return
            if len(days) != count // n:
                self.skip(path, f"{count} bands = {count // n} dates but {dates_path.name} lists {len(days)}")
                return
            layouts = stacks.stack_layouts(path, count, nodata, mask_path, saturated)
            for day, layout in zip(days, layouts, strict=True):
                self.add(path, "stack", layout, day, note)
        elif count == n:
            layout = stacks.per_date_layout(path, nodata, mask_path, saturated)
            self.add(path, "geotiff", layout, parse_date(path.name), note)
        else:
            self.skip(path, f"{count} bands; expected {n} in FLAIR order, or 10 per date with a dates file")


def _zip_date(path: Path, product: str | None, names: list[str]) -> date | None:
    """The acquisition date of a zipped product: from the product's own name inside the zip, else from
    the zip's name, else from the first member name holding one."""
    return (parse_date(product) if product else None) or parse_date(path.name) or _first_date(names)


def _first_date(names: list[str]) -> date | None:
    for name in names:
        found = parse_date(name)
        if found:
            return found
    return None


def discover(folder: str | Path, progress: Callable[[float, str], None] | None = None) -> Sentinel2Catalog:
    """Every Sentinel-2 acquisition under `folder` (searched recursively), or InputError when none.

    `folder` may also be a single product (a .zip, a .SAFE folder, a GeoTIFF). Items that look like
    products but cannot be used are listed in `skipped` with the reason, never raised.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"The Sentinel-2 folder does not exist: {folder}", FORMATS_HINT)
    if folder.is_dir() and folder_format(folder) is None:
        scanner = _Scanner(folder)
        scanner.scan(folder)
    else:
        scanner = _single(folder)
    catalog = scanner.catalog
    catalog.acquisitions.sort(key=lambda a: (a.date, a.tile or "", a.name))
    if progress:
        progress(1.0, f"Found {len(catalog.acquisitions)} Sentinel-2 acquisitions")
    if not catalog.acquisitions:
        detail = "; ".join(f"{p.name}: {r}" for p, r in catalog.skipped[:5])
        raise InputError(
            f"No usable Sentinel-2 acquisition in {folder}" + (f" (skipped {detail})" if detail else ""),
            FORMATS_HINT,
        )
    return catalog


def _single(path: Path) -> _Scanner:
    """A scanner over one product given directly instead of a folder."""
    scanner = _Scanner(path)
    product_format = folder_format(path) if path.is_dir() else None
    if product_format is not None:
        scanner.add_folder(product_format, path)
    elif path.suffix.lower() == ".zip":
        scanner.scan_zip(path)
    elif path.name.endswith(DATA_SUFFIX):
        scanner.scan_flair(path)
    elif path.suffix.lower() in stacks.TIFF_SUFFIXES:
        scanner.scan_tiff(path)
    return scanner
