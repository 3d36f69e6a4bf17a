"""Op lowerings, one module per operator family; each module's LOWERINGS maps TFLite op names to
functions (Lowering, OpSpec) -> None that add steps, arrays or aliases."""

from tinyml_fw.aot.ops import fully_connected, reshape, softmax

LOWERINGS = {}
for _module in (fully_connected, reshape, softmax):
    LOWERINGS.update(_module.LOWERINGS)
