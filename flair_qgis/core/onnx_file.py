"""What an ONNX file says about itself (metadata, producer, graph inputs and outputs) read straight from its
protobuf encoding, without building an ONNX Runtime session and without the `onnx` package (QGIS has none).

A session loads and optimises every weight: about half a second for a U-T&T bundle, spent for nothing when
the run builds its own session next. This reader walks the file's fields and skips the weights by their
length, in milliseconds. It reports what ONNX Runtime's `get_modelmeta()`, `get_inputs()` and
`get_outputs()` report for the same file (tests/core/test_onnx_file.py compares them); it does not check
that ONNX Runtime can run the graph, which the run's session does.

The wire format (protobuf's, the field numbers of onnx.proto's ModelProto and GraphProto):
https://protobuf.dev/programming-guides/encoding/ and https://github.com/onnx/onnx/blob/main/onnx/onnx.proto
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# ModelProto
_PRODUCER_NAME, _GRAPH, _METADATA_PROPS = 2, 7, 14
# GraphProto
_INITIALIZER, _SPARSE_INITIALIZER, _INPUT, _OUTPUT = 5, 15, 11, 12
# ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto, its Dimension
_NAME, _TYPE = 1, 2
_TENSOR_TYPE = 1
_ELEM_TYPE, _SHAPE = 1, 2
_DIM = 1
_DIM_VALUE, _DIM_PARAM = 1, 2
# TensorProto's name; SparseTensorProto's values (a TensorProto)
_TENSOR_NAME, _SPARSE_VALUES = 8, 1
# StringStringEntryProto
_KEY, _VALUE = 1, 2

#: ONNX's TensorProto.DataType codes as ONNX Runtime writes them in a NodeArg's type.
ELEMENT_TYPES = {
    1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
    9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128",
    16: "bfloat16",
}  # fmt: skip

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


class OnnxFormatError(ValueError):
    """The bytes are not a well-formed ONNX model (truncated, corrupt, or another kind of file)."""


@dataclass(frozen=True)
class GraphTensor:
    """One input or output of the ONNX graph: its name, shape (int or None for a dynamic dimension)
    and element type, as ONNX Runtime names it ("tensor(float)")."""

    name: str
    shape: tuple[int | None, ...]
    type: str

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} [{dims}] {self.type}"


@dataclass(frozen=True)
class OnnxHeader:
    """An ONNX file's self-description: its metadata (key -> value), the program that wrote it, and the
    graph's inputs (initializers left out, as ONNX Runtime leaves them out) and outputs."""

    metadata: dict[str, str]
    producer: str
    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]


def read_header(path: str | Path) -> OnnxHeader:
    """The self-description of the ONNX model at `path`.

    Raises OSError when the file cannot be read, OnnxFormatError when it is not a well-formed ONNX model
    (a field running past the end of the file, an unknown wire type, no graph)."""
    with open(path, "rb") as file:
        if file.seek(0, 2) == 0:
            raise OnnxFormatError("the file is empty")
        # Indexing and slicing an mmap copies out what is read (ints, bytes): nothing keeps it open.
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _model(_Message(data, 0, len(data)))


@dataclass(frozen=True)
class _Message:
    """The bytes [start, end) of `data`: one encoded message, not copied."""

    data: mmap.mmap | bytes
    start: int
    end: int

    def text(self) -> str:
        try:
            return self.data[self.start : self.end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OnnxFormatError("text that is not UTF-8") from exc


def _model(model: _Message) -> OnnxHeader:
    metadata: dict[str, str] = {}
    producer = ""
    graph: _Message | None = None
    for field, value in _fields(model):
        if field == _PRODUCER_NAME:
            producer = _message(value).text()
        elif field == _GRAPH:
            graph = _message(value)  # the last one wins (protobuf would merge them: never written so)
        elif field == _METADATA_PROPS:
            entry = {key: _message(text).text() for key, text in _fields(_message(value))}
            metadata[entry.get(_KEY, "")] = entry.get(_VALUE, "")
    if graph is None:
        raise OnnxFormatError("it has no graph")
    inputs, outputs = _graph(graph)
    return OnnxHeader(metadata, producer, inputs, outputs)


def _graph(graph: _Message) -> tuple[tuple[GraphTensor, ...], tuple[GraphTensor, ...]]:
    inputs, outputs, initializers = [], [], set()
    for field, value in _fields(graph):
        if field == _INPUT:
            inputs.append(_value_info(_message(value)))
        elif field == _OUTPUT:
            outputs.append(_value_info(_message(value)))
        elif field == _INITIALIZER:
            initializers.add(_tensor_name(_message(value)))
        elif field == _SPARSE_INITIALIZER:
            for inner, values in _fields(_message(value)):
                if inner == _SPARSE_VALUES:
                    initializers.add(_tensor_name(_message(values)))
    return tuple(t for t in inputs if t.name not in initializers), tuple(outputs)


def _tensor_name(tensor: _Message) -> str:
    for field, value in _fields(tensor):
        if field == _TENSOR_NAME:
            return _message(value).text()
    return ""


def _value_info(info: _Message) -> GraphTensor:
    name, kind, shape = "", "", ()
    for field, value in _fields(info):
        if field == _NAME:
            name = _message(value).text()
        elif field == _TYPE:
            kind, shape = _type(_message(value))
    return GraphTensor(name, shape, kind)


def _type(proto: _Message) -> tuple[str, tuple[int | None, ...]]:
    """ONNX Runtime's name of a TypeProto ("tensor(float)") and, for a tensor, its shape."""
    for field, value in _fields(proto):
        if field == _TENSOR_TYPE:
            element, shape = 0, ()
            for inner, content in _fields(_message(value)):
                if inner == _ELEM_TYPE:
                    element = _number(content)
                elif inner == _SHAPE:
                    shape = tuple(
                        _dimension(_message(dim)) for key, dim in _fields(_message(content)) if key == _DIM
                    )
            return f"tensor({ELEMENT_TYPES.get(element, 'undefined')})", shape
    return "not a tensor", ()


def _dimension(dim: _Message) -> int | None:
    for field, value in _fields(dim):
        if field == _DIM_VALUE:
            return _signed(_number(value))
    return None  # a named (dim_param) or unknown dimension


def _fields(message: _Message) -> Iterator[tuple[int, _Message | int]]:
    """(field number, value) of every field of one encoded message: ints for varints and fixed-size
    values, _Message spans for length-delimited ones (submessages, text, packed numbers)."""
    data, position, end = message.data, message.start, message.end
    while position < end:
        key, position = _varint(data, position, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise OnnxFormatError(f"a field numbered 0 at byte {position} (not an ONNX file?)")
        if wire == _VARINT:
            value, position = _varint(data, position, end)
        elif wire == _LENGTH:
            length, position = _varint(data, position, end)
            if position + length > end:
                raise OnnxFormatError(f"a field of {length} bytes runs past its end (truncated file?)")
            value, position = _Message(data, position, position + length), position + length
        elif wire in (_FIXED64, _FIXED32):
            width = 8 if wire == _FIXED64 else 4
            if position + width > end:
                raise OnnxFormatError("a value runs past its end (truncated file?)")
            value, position = int.from_bytes(data[position : position + width], "little"), position + width
        else:
            raise OnnxFormatError(f"wire type {wire} at byte {position} (not an ONNX file?)")
        yield field, value


def _varint(data: mmap.mmap | bytes, position: int, end: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= end:
            raise OnnxFormatError("a number runs past its end (truncated file?)")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise OnnxFormatError(f"a number longer than 10 bytes at byte {position} (not an ONNX file?)")


def _message(value: _Message | int) -> _Message:
    if not isinstance(value, _Message):
        raise OnnxFormatError("a number where a message or text was expected")
    return value


def _number(value: _Message | int) -> int:
    if not isinstance(value, int):
        raise OnnxFormatError("a message or text where a number was expected")
    return value


def _signed(value: int) -> int:
    """A varint read as protobuf's int64 (two's complement on 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value
