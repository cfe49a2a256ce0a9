"""Opening a model bundle: read its self-description from the ONNX file and check that the graph agrees.

No `onnx` package in the plugin: load_bundle takes the metadata and the graph's inputs and outputs from an
ONNX Runtime session (which also proves that ONNX Runtime reads the graph); read_bundle, for a run that
builds its own session next, takes them from the file's encoding (onnx_file.py) in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from .bundle_spec import METADATA_KEY, BundleSpec
from .errors import BundleError, first_line
from .model_inputs import graph_inputs
from .onnx_file import GraphTensor, OnnxFormatError, read_header

#: ONNX Runtime's element type of every input and output of a bundle.
FLOAT = "tensor(float)"


@dataclass(frozen=True)
class Bundle:
    """An opened and validated model bundle."""

    path: Path
    spec: BundleSpec
    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]
    producer: str

    def describe(self) -> str:
        """A human-readable summary of the bundle (what `python -m flair_qgis info` prints)."""
        spec = self.spec
        lines = [
            f"Bundle     {self.path}",
            f"Model      {spec.model_name} version {spec.model_version} ({spec.architecture}, {spec.precision})",
        ]
        if spec.description:
            lines.append(f"           {spec.description}")
        a = spec.aerial
        lines += [
            f"Aerial     input '{a.name}': bands {', '.join(a.bands)}; {a.gsd} m/px; "
            f"tiles {a.tile_size} x {a.tile_size} px; raw values {a.value_range[0]:g}..{a.value_range[1]:g}",
            f"           scale {_floats(a.scaling.scale)} mean {_floats(a.scaling.mean)} "
            f"std {_floats(a.scaling.std)}",
        ]
        s2 = spec.sentinel2
        if s2 is None:
            lines.append("Sentinel-2 not used (aerial-only model)")
        else:
            cloud = s2.cloud_filter
            lines += [
                f"Sentinel-2 input '{s2.name}' + dates '{s2.dates_name}': bands {', '.join(s2.bands)}; "
                f"{s2.gsd} m/px; windows {s2.window_size} x {s2.window_size} px",
                f"           reference date {s2.reference_date} ({s2.date_encoding}); padding {s2.pad_value:g};"
                f" monthly average {'yes' if s2.monthly_average else 'no'}; max dates {s2.max_dates or 'any'}",
                f"           cloud filter: probability >= {cloud.probability_threshold:g} on >= "
                f"{cloud.max_cloudy_fraction:g} of the window drops a date",
            ]
        if spec.aerial_metadata is not None:
            lines.append(
                f"Metadata   input '{spec.aerial_metadata.name}': {spec.aerial_metadata.size} values"
            )
        lines.append(f"Output     '{spec.output.name}': {spec.output.kind}")
        lines.append(f"Classes    {spec.nomenclature.name}, one output channel each, in this order:")
        for cls in spec.nomenclature.classes:
            lines.append(f"           {cls.code:>3}  {cls.colour}  {cls.name} / {cls.name_fr}")
        if spec.provenance:
            from .models.provenance import provenance_rows

            lines.append("Provenance")
            lines += [f"           {name}: {text}" for name, text in provenance_rows(spec.provenance)]
        lines.append("Graph      " + "; ".join(t.describe() for t in self.inputs + self.outputs))
        if self.producer:
            lines.append(f"Producer   {self.producer}")
        return "\n".join(lines)


def load_bundle(path: str | Path) -> Bundle:
    """Open the bundle at `path`, validate its metadata and check the graph against it, through an ONNX
    Runtime session on the CPU (without graph optimisations): the file is proven readable by ONNX Runtime.

    Raises BundleError (naming the field where one is at fault) for a missing, unreadable or non-ONNX
    file, absent or invalid metadata, and any contradiction between the metadata and the graph.
    """
    path = _existing(path)
    session = _open_session(path)
    metadata = session.get_modelmeta()
    inputs, outputs = graph_tensors(session)
    return _bundle(path, metadata.custom_metadata_map, metadata.producer_name or "", inputs, outputs)


def read_bundle(path: str | Path) -> Bundle:
    """The bundle at `path` as load_bundle gives it, read from the file's encoding without an ONNX Runtime
    session (milliseconds instead of a session's load of every weight): for a run, whose own session
    then checks that ONNX Runtime reads the graph (check_graph on its inputs and outputs).

    Raises BundleError as load_bundle does, except for a graph that is well-formed but that ONNX Runtime
    cannot load: the run's session raises that one (see unreadable)."""
    path = _existing(path)
    try:
        header = read_header(path)
    except (OSError, OnnxFormatError) as exc:
        raise unreadable(path, exc) from exc
    return _bundle(path, header.metadata, header.producer, header.inputs, header.outputs)


def unreadable(path: Path, exc: BaseException) -> BundleError:
    """The error for a bundle file that ONNX Runtime (or onnx_file) cannot read."""
    return BundleError(
        f"{path.name} is not a readable ONNX model: {first_line(exc)}",
        hint="The file may be truncated or corrupt, or not an .onnx model: export or copy it again.",
    )


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise BundleError(f"The model bundle {path} does not exist", hint="Check the model file's path.")
    if not path.is_file():
        raise BundleError(f"The model bundle {path} is not a file", hint="Choose a .onnx file.")
    return path


def _bundle(
    path: Path,
    metadata: dict[str, str],
    producer: str,
    inputs: tuple[GraphTensor, ...],
    outputs: tuple[GraphTensor, ...],
) -> Bundle:
    text = metadata.get(METADATA_KEY)
    if not text:
        raise BundleError(
            f"The ONNX model {path.name} carries no flair bundle description",
            METADATA_KEY,
            "Export the model with the training package, which writes the "
            "metadata, or add it as described in docs/bundle.md.",
        )
    spec = BundleSpec.from_json(text)
    check_graph(spec, inputs, outputs)
    return Bundle(path, spec, inputs, outputs, producer)


def check_graph(spec: BundleSpec, inputs: tuple[GraphTensor, ...], outputs: tuple[GraphTensor, ...]) -> None:
    """Raise BundleError at the first contradiction between the spec and the graph's inputs/outputs."""
    by_name = {t.name: t for t in inputs}
    expected = graph_inputs(spec)
    for tensor in expected:
        found = by_name.get(tensor.name)
        if found is None:
            raise BundleError(
                f"The graph has no input named '{tensor.name}' (its inputs: {sorted(by_name)})", tensor.field
            )
        _check_tensor(found, list(tensor.dims), tensor.field)
    described = {tensor.name for tensor in expected}
    extra = [t.name for t in inputs if t.name not in described]
    if extra:
        raise BundleError(f"The graph has inputs the metadata does not describe: {extra}", "inputs")
    a, tile = spec.aerial, "inputs.aerial.tile_size"
    out = {t.name: t for t in outputs}.get(spec.output.name)
    if out is None:
        raise BundleError(
            f"The graph has no output named '{spec.output.name}' (its outputs: {[t.name for t in outputs]})",
            "output.name",
        )
    classes = (len(spec.nomenclature.classes), "nomenclature.classes")
    _check_tensor(out, [(None, "batch"), classes, (a.tile_size, tile), (a.tile_size, tile)], "output")


def _check_tensor(tensor: GraphTensor, dims: list[tuple[int | None, str]], field: str) -> None:
    if tensor.type != FLOAT:
        raise BundleError(f"'{tensor.name}' must be float32, the graph has {tensor.type}", field)
    if len(tensor.shape) != len(dims):
        raise BundleError(
            f"'{tensor.name}' must have {len(dims)} dimensions, the graph has {len(tensor.shape)} "
            f"({tensor.describe()})",
            field,
        )
    for (want, dim_field), have in zip(dims, tensor.shape, strict=True):
        if want is not None and have is not None and want != have:
            raise BundleError(
                f"The metadata gives {want} for a dimension of '{tensor.name}' that the graph fixes at {have} "
                f"({tensor.describe()})",
                dim_field,
            )


def _open_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        raise unreadable(path, exc) from exc


def graph_tensors(session: ort.InferenceSession) -> tuple[tuple[GraphTensor, ...], tuple[GraphTensor, ...]]:
    """The inputs and outputs of a session's graph."""
    return tuple(_tensor(a) for a in session.get_inputs()), tuple(_tensor(a) for a in session.get_outputs())


def _tensor(arg: ort.NodeArg) -> GraphTensor:
    shape = tuple(d if isinstance(d, int) else None for d in (arg.shape or []))
    return GraphTensor(arg.name, shape, arg.type)


def _floats(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"
