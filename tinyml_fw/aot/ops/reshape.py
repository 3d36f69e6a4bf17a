"""RESHAPE: the same bytes under another shape, so no code and no copy: the output aliases the input."""

from tinyml_fw.aot.lower import Lowering
from tinyml_fw.modelspec import OpSpec


def lower_reshape(lw: Lowering, op: OpSpec) -> None:
    src, dst = lw.tensor(op.inputs[0]), lw.tensor(op.outputs[0])
    if src.nbytes != dst.nbytes:
        raise lw.refuse(op, "changes the tensor size: not a reshape.")
    lw.alias[op.outputs[0]] = op.inputs[0]


LOWERINGS = {"RESHAPE": lower_reshape}
