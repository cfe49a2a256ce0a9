"""int8 bundles: an exported fp32 bundle quantised by ONNX Runtime (static QDQ: int8 weights per output
channel, uint8 activations with ranges calibrated on real tiles), kept only when its map agrees with the
fp32 bundle's.

Static QDQ was chosen by measurement (bench/README.md): on the U-T&T of the published size on a 2-core
CPU it ran a tile about 2x faster than fp32, while dynamic quantisation (ConvInteger, ranges computed at
run time) ran about 4x slower than fp32, ONNX Runtime having no fast kernel for it.

The gate compares predicted classes, not logits: the share of held-out pixels whose class (argmax) is
the same in the int8 and the fp32 bundle must reach `min_agreement` (default 0.99), or nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from flair_qgis.core.bundle_spec import DEFAULT_METADATA_ENCODING, BundleSpec

#: Least share of held-out pixels whose class the int8 bundle must give as the fp32 bundle does.
INT8_MIN_AGREEMENT = 0.99
#: Provenance key of the int8 bundle's calibration and agreement figures (QuantizationRecord).
QUANTIZATION_KEY = "quantization"
METHOD = (
    "ONNX Runtime static QDQ of the aerial branch (convolutions with int8 weights per channel, and the "
    "additions, activations, pooling and concatenations between them; uint8 activations, MinMax "
    "calibration); upsampling, Sentinel-2 branch and classifier kept in fp32"
)

Feeds = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class TileSamples:
    """Model inputs (one feeds dict per tile, batch 1) to calibrate on and to check agreement on, and
    where they come from in words."""

    calibration: Sequence[Feeds]
    held_out: Sequence[Feeds]
    source: str


@dataclass(frozen=True)
class QuantizationRecord:
    """How an int8 bundle was made and how closely its classes follow the fp32 bundle's."""

    method: str
    calibration: str
    calibration_tiles: int
    held_out_tiles: int
    pixels: int
    class_agreement: float
    min_class_agreement: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> str:
        return (
            f"int8 vs fp32 bundle on {self.held_out_tiles} held-out tiles ({self.pixels} pixels): class "
            f"agreement {100 * self.class_agreement:.2f} % (at least {100 * self.min_class_agreement:g} %)"
        )


class QuantizationRefused(Exception):
    """The int8 model's classes agree with the fp32 bundle's on too few held-out pixels."""

    def __init__(self, record: QuantizationRecord) -> None:
        super().__init__(record.summary())
        self.record = record


class _Calibration:
    """onnxruntime.quantization's CalibrationDataReader over a list of feeds."""

    def __init__(self, feeds: Sequence[Feeds]) -> None:
        self._feeds: Iterator[Feeds] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._feeds, None)
        return None if item is None else dict(item)

    def rewind(self) -> None:  # the reader is used once
        pass


#: The operators quantised in the aerial branch. Between its int8 convolutions the residual additions,
#: activations, max pooling and skip concatenations stay in int8 too, so activations are not turned
#: back to float and again to int8 around every convolution: on the U-T&T of the published size on a
#: 2-core CPU that ran a tile in 0.197 s against 0.240 s with the convolutions alone, and its classes
#: agreed more closely with fp32's (99.58 % against 99.36 % on 16 held-out tiles). The decoder's
#: upsampling (Resize) is left in float: ONNX Runtime's uint8 Resize took 36 ms a tile, the float one 22.
QUANTISED_OPS = ("Conv", "Add", "Relu", "MaxPool", "Concat")


def aerial_nodes(model: Path, aerial: str) -> list[str]:
    """The nodes to quantise: those of QUANTISED_OPS that the aerial input reaches (the U-Net: nearly
    all of the cost) and that feed one of its convolutions, less the convolutions whose output reaches
    the graph's output through no other Conv (the classifier, which sets the logits the map is the
    argmax of). The Sentinel-2 branch works on 40 x 40 px windows and costs little: kept in fp32 with
    the classifier, it keeps the map closer to fp32's at little speed cost."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    reached, nodes = {aerial}, []
    for node in graph.node:  # ONNX graphs are topologically sorted
        if reached.intersection(node.input):
            reached.update(node.output)
            nodes.append(node)
    producers = {output: node for node in graph.node for output in node.output}
    # the last convolutions: those met first walking up from the outputs
    near_outputs = _upstream(producers, [o.name for o in graph.output], stop_at="Conv")
    convolutions = [n for n in nodes if n.op_type == "Conv" and n.name not in near_outputs]
    chosen = {n.name for n in convolutions} | _upstream(producers, [i for n in convolutions for i in n.input])
    return [n.name for n in nodes if n.op_type in QUANTISED_OPS and n.name in chosen]


def _upstream(producers: Mapping[str, object], tensors: list[str], stop_at: str = "") -> set[str]:
    """Names of the nodes that produce `tensors` and, walking up, their inputs; the walk does not go
    past a node of type `stop_at` (which is included)."""
    seen: set[str] = set()
    pending = list(tensors)
    while pending:
        node = producers.get(pending.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        if node.op_type != stop_at:
            pending += list(node.input)
    return seen


def quantize_int8(
    fp32: Path, int8: Path, samples: TileSamples, min_agreement: float, aerial: str
) -> QuantizationRecord:
    """Write the static QDQ int8 version of the model at `fp32` (its aerial input named `aerial`) to
    `int8` (its metadata is the caller's to set), calibrated on `samples.calibration`, and measure its class agreement with `fp32` on
    `samples.held_out`. Raises QuantizationRefused (the file at `int8` may then exist: the caller removes
    it) when the agreement is below `min_agreement`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not samples.calibration or not samples.held_out:
        raise ValueError("int8 quantisation needs calibration and held-out tiles")
    reader = type("Reader", (_Calibration, CalibrationDataReader), {})(samples.calibration)
    with tempfile.TemporaryDirectory(prefix="flair_int8_") as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        with _quiet_quantizer():
            quantize_static(
                str(prepared),
                str(int8),
                reader,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=list(QUANTISED_OPS),
                nodes_to_quantize=aerial_nodes(prepared, aerial),
            )
    agreeing, pixels = class_agreement(fp32, int8, samples.held_out)
    record = QuantizationRecord(
        method=METHOD,
        calibration=samples.source,
        calibration_tiles=len(samples.calibration),
        held_out_tiles=len(samples.held_out),
        pixels=pixels,
        class_agreement=agreeing / pixels,
        min_class_agreement=min_agreement,
    )
    if record.class_agreement < min_agreement:
        raise QuantizationRefused(record)
    return record


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """onnxruntime.quantization logs a warning per tensor on the root logger: not for users."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def class_agreement(reference: Path, candidate: Path, feeds: Sequence[Feeds]) -> tuple[int, int]:
    """(pixels whose class is the same, pixels compared) between two models' first outputs on `feeds`."""
    sessions = [
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (reference, candidate)
    ]
    agreeing = pixels = 0
    for item in feeds:
        expected, actual = (s.run(None, dict(item))[0].argmax(axis=1) for s in sessions)
        agreeing += int((expected == actual).sum())
        pixels += expected.size
    return agreeing, pixels


def training_tiles(
    roots: Sequence[str | Path], spec: BundleSpec, calibration: int = 16, held_out: int = 16, seed: int = 0
) -> TileSamples:
    """Calibration tiles from the training split of the FLAIR #2 dataset roots, held-out tiles from their
    test split (or, without one, from training patches not used for calibration), read and prepared
    exactly as training reads them (Flair2Dataset)."""
    from flair_qgis.core.errors import InputError

    from .data.flair2 import find_patches

    rng = np.random.default_rng(seed)
    train, test = [], []
    for root in roots:
        train += [(Path(root), p) for p in find_patches(root, "train")]
        with contextlib.suppress(InputError):  # a dataset without a test split
            test += [(Path(root), p) for p in find_patches(root, "test")]
    order = rng.permutation(len(train))
    chosen = [train[i] for i in order[:calibration]]
    if test:
        pool, where = test, "test split"
    else:
        pool, where = [train[i] for i in order[calibration:]], "training patches kept out of calibration"
    if len(chosen) < 1 or len(pool) < 1:
        raise InputError(
            f"Too few FLAIR #2 patches under {', '.join(map(str, roots))} to calibrate an int8 bundle "
            f"and check it (found {len(train)} training and {len(test)} test patches)",
            "Point --calibration-data at a FLAIR #2 dataset with a few dozen patches.",
        )
    others = [pool[i] for i in rng.permutation(len(pool))[:held_out]]
    names = ", ".join(str(r) for r in roots)
    source = f"{len(chosen)} training tiles of {names}; held out: {len(others)} tiles of the {where}"
    return TileSamples([_feeds(spec, *c) for c in chosen], [_feeds(spec, *o) for o in others], source)


def _feeds(spec: BundleSpec, root: Path, patch) -> dict[str, np.ndarray]:
    from .data.flair2 import Flair2Dataset

    metadata = spec.aerial_metadata
    dataset = Flair2Dataset(
        root,
        [patch],
        spec.aerial,
        spec.sentinel2,
        with_metadata=metadata is not None,
        metadata_encoding=metadata.encoding if metadata is not None else DEFAULT_METADATA_ENCODING,
    )
    sample = dataset[0]
    feeds = {spec.aerial.name: sample["aerial"].numpy()[None]}
    if spec.sentinel2 is not None:
        feeds[spec.sentinel2.name] = sample["sentinel2"].numpy()[None]
        feeds[spec.sentinel2.dates_name] = sample["positions"].numpy()[None]
    if metadata is not None:
        feeds[metadata.name] = sample["metadata"].numpy()[None]
    return feeds
