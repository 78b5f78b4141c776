#!/usr/bin/python3
"""Pack a train.py checkpoint into the weights file committed next to the bundles:

  /usr/bin/python3 models/toolchain/pack_weights.py runs/ki-kp-text/best.pt models/weights/vlad-base.pt

Keeps what build_bundle.py --weights reads (the prefix, both experts and the energy head, the
norm stats, step, validation history and config) and drops the optimizer state and the FAST head
(training-only). Learned weights are stored as fp16: build_bundle.py rounds every parameter to
fp16 before export anyway (compact.py stores bundles in fp16). Buffers (Fourier frequencies,
coordinate grids, BatchNorm statistics) stay fp32, as build_bundle.py uses them: the bundle built
from the packed file is the bundle built from the full checkpoint (test_train checks).
"""
from __future__ import annotations

import os
import sys

import torch

import model as M

KEEP = ("prefix.", "expert.", "l1_expert.", "energy.")
META = ("step", "best_val", "history", "norm_stats", "norm_mode", "config", "model_config")


def parameter_names(cfg: "M.ModelConfig") -> set:
    """Checkpoint keys of the learned weights (train.Trainable's names); everything else is a buffer."""
    l1 = M.ModelConfig(**{**cfg.__dict__, "expert_kind": "l1_regression"})
    parts = [("prefix.", M.Prefix(cfg)), ("expert.", M.Expert(cfg)), ("l1_expert.", M.Expert(l1))]
    if cfg.energy:
        parts.append(("energy.", M.Energy(cfg)))
    return {prefix + n for prefix, module in parts for n, _ in module.named_parameters()}


def pack(src: str, dst: str) -> dict:
    ck = torch.load(src, map_location="cpu")
    missing = [k for k in ("model",) + META if k not in ck]
    if missing:
        raise KeyError(f"{src}: not a train.py checkpoint (missing {', '.join(missing)})")
    params = parameter_names(M.ModelConfig(**ck["model_config"]))
    model = {k: (v.half() if k in params else v) for k, v in ck["model"].items() if k.startswith(KEEP)}
    out = {k: ck[k] for k in META}
    out["model"] = model
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = dst + ".tmp"
    torch.save(out, tmp)
    os.replace(tmp, dst)
    return out


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = pack(argv[0], argv[1])
    n = sum(v.numel() for v in out["model"].values())
    print(f"packed {argv[0]} (step {out['step']}) -> {argv[1]}: {n} parameters, "
          f"{os.path.getsize(argv[1]) / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
