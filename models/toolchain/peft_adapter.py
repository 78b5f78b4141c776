"""LoRA adapters in the Hugging Face PEFT format, as vlad writes them (src/train/peft.ts).

  DIR/adapter_config.json        peft_type LORA, r, lora_alpha, target_modules, rank_pattern, alpha_pattern
  DIR/adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in], .lora_B.weight [out, r]

Modules are model.py's: expert.layers.L.{qkv, o, up, down}. q, k and v are one Linear there (qkv,
rows q ++ k ++ v), so their three rank-r adapters are one rank-3r adapter on qkv: lora_A stacked
[3r, E], lora_B block-diagonal [3D, 3r], alpha 3 alpha (same scale alpha / r).

Two readers, so that a test can hold them against each other:
  load_peft_adapter  -> the packed lora vector of model.py's lora_layout (what the graphs take)
  merge_peft_adapter -> PEFT's own semantics: W += (alpha / r) B A on the named modules
"""
from __future__ import annotations

import json
import os
import re
import struct
from typing import Dict, Tuple

import torch

import model as M

KEY_PREFIX = "base_model.model."
# model.py target -> (module in ExpertBlock, row block, blocks in that module)
TARGET_MODULES = {"attn.q": ("qkv", 0, 3), "attn.k": ("qkv", 1, 3), "attn.v": ("qkv", 2, 3),
                  "attn.o": ("o", 0, 1), "mlp.up": ("up", 0, 1), "mlp.down": ("down", 0, 1)}


def read_safetensors(path: str) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """A minimal safetensors reader (F32 only), independent of vlad's, checking the spec's rules."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    out, spans = {}, []
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {e['dtype']}, expected F32")
        b, end = e["data_offsets"]
        count = 1
        for d in e["shape"]:
            count *= d
        if end - b != 4 * count:
            raise ValueError(f"{path}: {name} spans {end - b} bytes for shape {e['shape']}")
        spans.append((b, end))
        out[name] = torch.frombuffer(bytearray(buf[b:end]), dtype=torch.float32).reshape(e["shape"])
    spans.sort()
    covered = 0
    for b, end in spans:
        if b != covered:
            raise ValueError(f"{path}: byte buffer has a hole or overlap at {covered}")
        covered = end
    if covered != len(buf):
        raise ValueError(f"{path}: tensors cover {covered} of {len(buf)} bytes")
    return out, meta


def _pattern(cfg: dict, field: str, path: str, default: float) -> float:
    for key, value in (cfg.get(field) or {}).items():
        if re.match(rf"(.*\.)?{key}$", path):
            return value
    return default


def read_adapter(adapter_dir: str) -> Tuple[dict, Dict[str, torch.Tensor]]:
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    if cfg.get("peft_type") != "LORA" or cfg.get("use_rslora") or cfg.get("use_dora") or cfg.get("bias", "none") != "none":
        raise ValueError(f"{adapter_dir}: not a plain LoRA adapter: {cfg}")
    tensors, _ = read_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    return cfg, tensors


def load_peft_adapter(adapter_dir: str, mcfg: M.ModelConfig) -> torch.Tensor:
    """PEFT adapter dir -> the lora vector [lora_size(mcfg)] in model.py's lora_layout."""
    cfg, tensors = read_adapter(adapter_dir)
    r, want_scale = mcfg.lora_rank, mcfg.lora_alpha / mcfg.lora_rank
    vec = torch.zeros(M.lora_size(mcfg), dtype=torch.float32)
    used = set()
    for e in M.lora_layout(mcfg):
        parts = e.name.split(".")  # expert.layers.L.<target>.<A|B>
        layer, target, part = int(parts[2]), ".".join(parts[3:-1]), parts[-1]
        module, block, blocks = TARGET_MODULES[target]
        path = f"expert.layers.{layer}.{module}"
        rank = _pattern(cfg, "rank_pattern", path, cfg["r"])
        alpha = _pattern(cfg, "alpha_pattern", path, cfg["lora_alpha"])
        if rank != r * blocks or abs(alpha / rank - want_scale) > 1e-9:
            raise ValueError(f"{adapter_dir}: {path} has rank {rank}, alpha {alpha}; model wants rank {r * blocks}, scale {want_scale}")
        key = f"{KEY_PREFIX}{path}.lora_{part}.weight"
        t = tensors[key]
        used.add(key)
        if part == "A":  # [blocks * r, in]: this target's rows
            piece = t[block * r:(block + 1) * r]
        else:  # [blocks * out, blocks * r]: this target's diagonal block; the rest must be zero
            fan_out = t.shape[0] // blocks
            rows = t[block * fan_out:(block + 1) * fan_out]
            piece = rows[:, block * r:(block + 1) * r]
            off = torch.cat([rows[:, :block * r], rows[:, (block + 1) * r:]], dim=1)
            if off.numel() and bool((off != 0).any()):
                raise ValueError(f"{adapter_dir}: {key} is not block-diagonal")
        if tuple(piece.shape) != tuple(e.shape):
            raise ValueError(f"{adapter_dir}: {key} gives {target}.{part} shape {tuple(piece.shape)}, layout {e.shape}")
        vec[e.offset:e.offset + e.size] = piece.reshape(-1)
    extra = set(tensors) - used
    if extra:
        raise ValueError(f"{adapter_dir}: tensors the model has no place for: {sorted(extra)[:3]}")
    return vec


def merge_peft_adapter(root: torch.nn.Module, adapter_dir: str) -> int:
    """PEFT's LoRA on the modules it names, merged: W += (alpha / r) B A for every
    base_model.model.<path>.lora_{A,B}.weight, <path> resolved on `root` (a module whose `expert`
    is model.py's Expert). Returns the number of modules merged."""
    cfg, tensors = read_adapter(adapter_dir)
    paths = sorted({k[len(KEY_PREFIX):-len(".lora_A.weight")] for k in tensors if k.endswith(".lora_A.weight")})
    target = cfg["target_modules"]
    for path in paths:
        if isinstance(target, str) and not re.fullmatch(target, path):
            raise ValueError(f"{adapter_dir}: target_modules does not select {path}")
        lin = root.get_submodule(path)
        a, b = tensors[f"{KEY_PREFIX}{path}.lora_A.weight"], tensors[f"{KEY_PREFIX}{path}.lora_B.weight"]
        rank = _pattern(cfg, "rank_pattern", path, cfg["r"])
        alpha = _pattern(cfg, "alpha_pattern", path, cfg["lora_alpha"])
        with torch.no_grad():
            lin.weight += (alpha / rank) * (b @ a)
    return len(paths)
