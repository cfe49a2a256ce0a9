"""Download of a catalogue model into the user's profile, verified by SHA-256 before it is installed.

The transfer goes to `<dest>/.partial/<sha256>.part`, resumed with an HTTP Range request on the next
attempt; only a file whose size and SHA-256 match the catalogue is renamed into place, so an unverified
model is never where the plugin looks for models. A checkpoint format is then converted to a bundle by
the training package when it is installed. Standard library only (urllib).
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Cancelled, FlairError
from .catalogue import (
    MAX_CATALOGUE_BYTES,
    Catalogue,
    CatalogueEntry,
    CatalogueError,
    check_url,
    is_loopback,
    parse_catalogue,
)

#: Redirects followed per request.
MAX_REDIRECTS = 5
#: Requests one download makes at most (each resumes where the previous one stopped).
DEFAULT_ATTEMPTS = 3
CHUNK = 1 << 16
PARTIAL_DIR = ".partial"
CHECKPOINTS_DIR = "checkpoints"
#: The training package's converter of each checkpoint format (flair_training.checkpoints.<name>).
CONVERTERS = {"flair-inc-pth": "convert_flair_inc", "reference-ckpt": "import_reference_utt"}
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

#: progress(done_bytes, total_bytes, message)
Progress = Callable[[int, int, str], None]


class DownloadError(FlairError):
    """A download that failed; the message says what happened and whether running again resumes it."""


@dataclass(frozen=True)
class DownloadResult:
    """What a download installed: the bundle to use (None when a checkpoint could not be converted
    here) and the verified file that was downloaded."""

    entry: CatalogueEntry
    bundle: Path | None
    downloaded: Path
    resumed_from: int
    conversion_message: str = ""


def default_models_dir() -> Path:
    """Where the command line installs models: $XDG_CACHE_HOME/flair_qgis/models (~/.cache/...)."""
    from ..runtime import user_cache_dir

    return user_cache_dir() / "models"


def bundle_path(entry: CatalogueEntry, dest: str | Path) -> Path:
    """Where the entry's bundle is once installed."""
    return Path(dest) / f"{entry.name}.onnx"


def is_installed(entry: CatalogueEntry, dest: str | Path) -> bool:
    return bundle_path(entry, dest).is_file()


def partial_path(entry: CatalogueEntry, dest: str | Path) -> Path:
    return Path(dest) / PARTIAL_DIR / f"{entry.sha256}.part"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows at most MAX_REDIRECTS redirects, never to plain http off the loopback."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if newurl.startswith("http://") and not (is_loopback(req.full_url) and is_loopback(newurl)):
            raise DownloadError(
                f"{req.full_url} redirects to {newurl}, a plain http address; the download was refused",
                "Ask the publisher for an https address that stays on https.",
            )
        check_url(newurl, "redirect")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(url: str, headers: dict[str, str], timeout: float) -> Any:
    check_url(url)
    handlers: list[Any] = [_RedirectHandler()]
    if is_loopback(url):
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach this machine's loopback
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "flair_qgis", **headers})
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DownloadError(
            f"{url} answered HTTP {exc.code} ({exc.reason})",
            "Check the URL in the catalogue; the file may have moved or been withdrawn."
            if exc.code in (404, 410)
            else "The server refused the request; try again later or ask its administrator.",
        ) from exc
    except urllib.error.URLError as exc:
        raise DownloadError(
            f"{url} cannot be reached ({exc.reason})",
            "Check the network connection (and proxy settings), then try again.",
        ) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"{url} cannot be reached ({exc})", "Try again.") from exc


def fetch_catalogue(url: str, timeout: float = 30.0) -> Catalogue:
    """Fetch and validate the catalogue at `url` (https, or http on the loopback). Network access:
    call only on a user's explicit action."""
    try:
        check_url(url, "catalogue URL")
    except FlairError as exc:
        raise CatalogueError(exc.message, url, hint=exc.hint) from exc
    with _open(url, {}, timeout) as response:
        try:
            data = response.read(MAX_CATALOGUE_BYTES + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise CatalogueError(f"could not be read completely ({exc})", url, hint="Try again.") from exc
    if len(data) > MAX_CATALOGUE_BYTES:
        raise CatalogueError("is larger than 1 MiB, which no catalogue needs", url)
    return parse_catalogue(data, url)


def download_model(
    entry: CatalogueEntry,
    dest: str | Path,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    timeout: float = 60.0,
    convert: bool = True,
    convert_options: dict[str, Any] | None = None,
) -> DownloadResult:
    """Download `entry` into `dest`, verify it, and install its bundle at `<dest>/<name>.onnx`.

    Up to `attempts` requests, each resuming the `.part` file where the previous one stopped. A bundle
    already installed is not downloaded again. Raises DownloadError (network, HTTP status, size or
    SHA-256 mismatch: a mismatching file is deleted), Cancelled (the `.part` file is kept for a later
    resume) and, for a checkpoint, FlairError from its conversion. Nothing is ever left at the bundle
    path unless it was verified (and, for a checkpoint, converted).
    """
    dest = Path(dest)
    target = bundle_path(entry, dest)
    if target.is_file():
        return DownloadResult(entry, target, target, 0, "already installed")
    try:
        (dest / PARTIAL_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"The models folder {dest} cannot be created ({exc.strerror or exc})",
            "Choose a folder you can write to.",
        ) from exc
    part = partial_path(entry, dest)
    resumed_from = part.stat().st_size if part.exists() else 0
    _transfer(entry, part, progress, cancelled, max(1, attempts), timeout)
    _verify(entry, part)
    if entry.format == "onnx":
        os.replace(part, target)
        return DownloadResult(entry, target, target, resumed_from)
    checkpoint = dest / CHECKPOINTS_DIR / entry.file_name
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, checkpoint)
    if not convert:
        return DownloadResult(
            entry, None, checkpoint, resumed_from, _manual_conversion(entry, checkpoint, target)
        )
    bundle, message = convert_checkpoint(entry, checkpoint, target, convert_options or {})
    return DownloadResult(entry, bundle, checkpoint, resumed_from, message)


def _transfer(
    entry: CatalogueEntry,
    part: Path,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
    attempts: int,
    timeout: float,
) -> None:
    last_error: DownloadError | None = None
    for _ in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        if have > entry.size:
            part.unlink()
            have = 0
        if have == entry.size:
            return
        try:
            _one_request(entry, part, have, progress, cancelled, timeout)
        except DownloadError as exc:
            last_error = exc
            if not part.exists() or part.stat().st_size <= have:
                break  # no progress: an HTTP error or an unreachable server, not an interrupted transfer
            continue
        if part.exists() and part.stat().st_size == entry.size:
            return
    done = part.stat().st_size if part.exists() else 0
    if last_error is not None and done == 0:
        raise last_error
    if last_error is None:
        last_error = DownloadError(f"The download of {entry.url} stopped at {done} of {entry.size} bytes")
    raise DownloadError(
        f"{last_error.message}; {done} of {entry.size} bytes of '{entry.name}' are kept",
        "Run the download again: it resumes where it stopped. Nothing was installed.",
    )


def _one_request(
    entry: CatalogueEntry,
    part: Path,
    have: int,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
    timeout: float,
) -> None:
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _open(entry.url, headers, timeout) as response:
        start = 0
        if have and response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
            if match and int(match.group(1)) == have:
                start = have
        mode = "ab" if start else "wb"  # a server that ignores Range sends the whole file: restart
        done = start
        with part.open(mode) as handle:
            if progress is not None:
                progress(done, entry.size, f"Downloading {entry.name}")
            while True:
                if cancelled is not None and cancelled():
                    raise Cancelled(
                        f"The download of '{entry.name}' was cancelled; nothing was installed "
                        "(running it again resumes it)."
                    )
                try:
                    block = response.read(CHUNK)
                except (TimeoutError, OSError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"The transfer from {entry.url} was interrupted ({_reason(exc)})"
                    ) from exc
                if not block:
                    break
                if done + len(block) > entry.size:
                    handle.close()
                    part.unlink()
                    raise DownloadError(
                        f"{entry.url} sent more than the {entry.size} bytes the catalogue gives; "
                        "the file was deleted and nothing was installed",
                        "The file on the server is not the one the catalogue describes: tell its publisher.",
                    )
                handle.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, entry.size, f"Downloading {entry.name}")
    if done < entry.size:
        raise DownloadError(f"The transfer from {entry.url} ended early, at {done} of {entry.size} bytes")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, http.client.IncompleteRead):
        return f"connection closed after {len(exc.partial)} more bytes"
    return str(exc) or type(exc).__name__


def _verify(entry: CatalogueEntry, part: Path) -> None:
    size = part.stat().st_size
    digest = file_sha256(part) if size == entry.size else ""
    if digest != entry.sha256:
        part.unlink()
        found = f"SHA-256 {digest}" if digest else f"{size} bytes"
        raise DownloadError(
            f"The file downloaded for '{entry.name}' from {entry.url} does not match the catalogue "
            f"({found}, expected {entry.sha256 if digest else entry.size}); it was deleted and not installed",
            "The file on the server is not the one the catalogue describes: tell the catalogue's "
            "publisher. Never use a model file whose checksum does not match.",
        )


def _manual_conversion(entry: CatalogueEntry, checkpoint: Path, target: Path) -> str:
    return (
        f"The {entry.format} checkpoint was downloaded and verified: {checkpoint}. Converting it into a "
        f"bundle needs the training package; install it (pip install ./training) and run: "
        f"flair-train import-checkpoint {checkpoint} {target}"
    )


def convert_checkpoint(
    entry: CatalogueEntry, checkpoint: Path, target: Path, options: dict[str, Any]
) -> tuple[Path | None, str]:
    """Convert a verified checkpoint into the bundle `target` with the training package's converter
    (looked up by name, it needs torch). Returns (bundle, message); (None, how to convert it by hand)
    when the training package or its converter is not installed. Conversion errors propagate; the
    converter writes nothing at `target` then."""
    name = CONVERTERS[entry.format]
    try:
        module = importlib.import_module("flair_training.checkpoints")
    except ImportError:
        return None, _manual_conversion(entry, checkpoint, target)
    converter = getattr(module, name, None)
    if converter is None:
        return None, (
            f"The installed training package cannot convert {entry.format} checkpoints (it has no "
            f"{name}). " + _manual_conversion(entry, checkpoint, target)
        )
    report = converter(
        checkpoint,
        target,
        licence=entry.licence,
        training_data=entry.training_data or None,
        **options,
    )
    parity = getattr(report, "parity", None)
    summary = getattr(parity, "summary", None)
    detail = f" ({summary()})" if callable(summary) else ""
    return target, f"Converted {checkpoint.name} into {target}{detail}"
