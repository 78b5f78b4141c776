#!/usr/bin/python3
"""Fault-injection variants of a bundle's expert graph, for the OTA fault suite (test/fixtures/ota).

  /usr/bin/python3 models/toolchain/fault_graphs.py models/bundles/vlad-tiny-l1/expert.onnx test/fixtures/ota

  nan-expert.onnx   the final layer norm's weight is NaN: every output is NaN (the golden
                    self-test must refuse it)
  slow-expert.onnx  the same outputs, plus out + 0 * tanh-chain(mean(x_t)): 40 matmuls of
                    [256, 512] x [512, 512] per call that depend on the input (so nothing folds
                    them away) and leave the values unchanged; RandomNormal makes the weight at
                    run time, so the file stays small

Needs only python3-onnx (no PyTorch). The outputs are committed: CI never runs this.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MATMULS = 40


def nan_variant(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    target = next(i for i in m.graph.initializer if i.name.endswith('ln_out.weight'))
    arr = numpy_helper.to_array(target).copy()
    arr[:] = np.nan
    target.CopyFrom(numpy_helper.from_array(arr, target.name))
    return m


def slow_variant(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    out = g.output[0].name
    producer = next(n for n in g.node if out in n.output)
    producer.output[:] = ['out_fast' if o == out else o for o in producer.output]
    for n in g.node:
        n.input[:] = ['out_fast' if i == out else i for i in n.input]
    nodes = [
        helper.make_node('ReduceMean', ['x_t'], ['slow_s'], keepdims=0),
        helper.make_node('Expand', ['slow_s', 'slow_shape'], ['slow_h0']),
        helper.make_node('RandomNormal', [], ['slow_w'], shape=[512, 512], scale=0.05, seed=1.0, dtype=TensorProto.FLOAT),
    ]
    h = 'slow_h0'
    for k in range(MATMULS):
        nodes.append(helper.make_node('MatMul', [h, 'slow_w'], [f'slow_m{k}']))
        nodes.append(helper.make_node('Tanh', [f'slow_m{k}'], [f'slow_h{k + 1}']))
        h = f'slow_h{k + 1}'
    nodes += [
        helper.make_node('ReduceSum', [h], ['slow_sum'], keepdims=0),
        helper.make_node('Mul', ['slow_sum', 'slow_zero'], ['slow_nothing']),
        helper.make_node('Add', ['out_fast', 'slow_nothing'], [out]),
    ]
    g.initializer.extend([
        numpy_helper.from_array(np.array([256, 512], dtype=np.int64), 'slow_shape'),
        numpy_helper.from_array(np.array(0.0, dtype=np.float32), 'slow_zero'),
    ])
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    return m


def main() -> None:
    src, out_dir = sys.argv[1], sys.argv[2]
    model = onnx.load(src)
    onnx.save(nan_variant(model), f'{out_dir}/nan-expert.onnx')
    onnx.save(slow_variant(model), f'{out_dir}/slow-expert.onnx')


if __name__ == '__main__':
    main()
