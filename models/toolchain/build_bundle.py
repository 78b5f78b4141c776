#!/usr/bin/python3
"""Build a vlad model bundle (models/BUNDLE_FORMAT.md) from a named preset and a seed.

  /usr/bin/python3 models/toolchain/build_bundle.py --preset base-flow --seed 0 \
      --out models/bundles/vlad-base-flow

Writes the ONNX graphs, norm_stats.json, tokenizer.json, golden.bin and manifest.json. Same preset
and seed give identical weights, graphs and goldens (only manifest.created_at differs unless
--created-at or SOURCE_DATE_EPOCH pins it).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import time
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export as X  # noqa: E402
import model as M  # noqa: E402
import sampler as S  # noqa: E402
import tokenizer as TK  # noqa: E402

JOINT_NAMES = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper"]
CAMERAS = [{"name": "scene", "height": 96, "width": 96, "channels": 3},
           {"name": "wrist", "height": 96, "width": 96, "channels": 3}]
GOLDEN_INSTRUCTION = "Pick up the blue cube, then place it on the red plate."
DDIM_T = 100
TOLERANCE = 1e-4

# The tiny expert keeps the prefix's width (E = D = 32, MLP 64): its LoRA size (3584) is what the
# runtime tests pin; the decoupled E < D path is exercised by base-flow and test_toolchain.py.
TINY = dict(width=32, heads=2, layers=2, mlp=64, stem_channels=(8, 16, 32), lora_rank=4,
            lora_alpha=8.0)
# The default model's real size, shared by the flow and L1 presets so they stay comparable.
DEFAULT_SIZE = dict(width=128, heads=4, layers=4, mlp=256, expert_width=64, expert_mlp=128,
                    stem_channels=(16, 32, 64), lora_rank=8, lora_alpha=16.0)
# The shipped, trained model (model.SHIPPED_SIZE, train.py preset "kp-text-hr").
KP_SIZE = M.SHIPPED_SIZE
PRESETS = {
    "kp-flow": dict(
        model=dict(KP_SIZE, expert_kind="flow_matching", energy=True),
        steps=10, norm="mean_std", training=True,
        # Sampling temperature, chosen in closed loop (MODEL_CARD.md): 50 episodes a task, seed 5001,
        # pick/place/touch 18/10/34 at 1.0, 21/19/33 at 0.5, 25/18/38 at 0.25.
        noise_scale=0.25,
        description="flow-matching policy (pi0.5 + knowledge insulation recipe): instruction-FiLMed "
                    "conv stem with 16 spatial-softmax keypoints + 4 instruction-query keypoints per camera "
                    "(on half-resolution features, centred instruction query), prefix D=128, 3 layers, "
                    "4 heads; expert width 64, MLP 128; energy head, loss and train_step graphs"),
    "kp-l1": dict(
        model=dict(KP_SIZE, expert_kind="l1_regression", energy=False),
        steps=1, norm="mean_std", training=False,
        description="one-step L1-regression policy (OpenVLA-OFT style) on the same keypoint prefix, "
                    "for comparison"),
    "base-flow": dict(
        model=dict(DEFAULT_SIZE, expert_kind="flow_matching", energy=True),
        steps=10, norm="mean_std", training=True,
        description="flow-matching policy at the default size (prefix D=128, 4 layers, 4 heads; "
                    "expert width 64, MLP 128, attention 4x32), random init; energy head, loss "
                    "and train_step graphs"),
    "base-l1": dict(
        model=dict(DEFAULT_SIZE, expert_kind="l1_regression", energy=False),
        steps=1, norm="mean_std", training=False,
        description="one-step L1-regression policy (OpenVLA-OFT style) at the default size "
                    "(prefix D=128, 4 layers; expert width 64, MLP 128), for comparison"),
    "tiny-flow-quantile": dict(
        model=dict(TINY, expert_kind="flow_matching"), steps=4, norm="quantile", training=False,
        description="tiny flow-matching policy (D=32, 2 layers), quantile normalization, "
                    "random init, for runtime tests"),
    "tiny-ddim": dict(
        model=dict(TINY, expert_kind="ddim"), steps=10, norm="mean_std", training=False,
        description="tiny DDIM (epsilon) policy (D=32, 2 layers), cosine schedule T=100, "
                    "random init, for runtime tests"),
    "tiny-l1": dict(
        model=dict(TINY, expert_kind="l1_regression"), steps=1, norm="mean_std", training=False,
        description="tiny L1-regression policy (D=32, 2 layers), one call per chunk, "
                    "random init, for runtime tests"),
}


def log(msg: str) -> None:
    print(f"[build_bundle {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def norm_stats() -> dict:
    """Plausible per-joint statistics of a 6-DoF arm (radians) + parallel gripper (metres)."""
    mean = [0.05, -0.35, 0.62, -0.04, 0.91, -0.12, 0.021]
    std = [0.83, 0.44, 0.57, 1.06, 0.36, 1.27, 0.0148]
    lo = [-1.9, -1.3, -0.6, -2.4, 0.1, -2.9, 0.0]
    hi = [1.85, 0.7, 1.95, 2.3, 1.7, 2.75, 0.04]

    def block(scale: float, shift: float) -> dict:
        return {"mean": [round(m + shift * s, 5) for m, s in zip(mean, std)],
                "std": [round(s * scale, 5) for s in std],
                "q01": [round(x * (scale if x < 0 else 1.0), 5) for x in lo],
                "q99": [round(x * (scale if x > 0 and i < 6 else 1.0), 5) for i, x in enumerate(hi)]}

    # Actions (next joint targets) are a little wider than the observed state.
    return {"state": block(1.0, 0.0), "actions": block(1.08, 0.03)}


class Golden:
    """Accumulates little-endian tensors into golden.bin (8-byte aligned offsets)."""

    DTYPES = {torch.float32: "float32", torch.int64: "int64", torch.uint8: "uint8"}

    def __init__(self):
        self.buf = bytearray()
        self.tensors: Dict[str, dict] = {}
        self.cases: List[dict] = []

    def add(self, name: str, t: torch.Tensor) -> str:
        if name in self.tensors:
            raise KeyError(name)
        t = t.detach().contiguous()
        if t.dtype == torch.float32 and not torch.isfinite(t).all():
            raise ValueError(f"golden tensor {name} has NaN/Inf")
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        self.buf.extend(b"\0" * (-len(self.buf) % 8))
        self.tensors[name] = {"dtype": self.DTYPES[t.dtype], "shape": list(t.shape),
                              "offset": len(self.buf), "length": len(data)}
        self.buf.extend(data)
        return name

    def case(self, graph: str, inputs: Dict[str, str], outputs: Dict[str, str], **extra) -> None:
        self.cases.append({"graph": graph, **extra, "inputs": inputs, "outputs": outputs})


def io(name: str, dtype: str, shape: list) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape}


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def max_rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a - ref).abs().max() / max(float(ref.abs().max()), 1e-6))


def soft_mask(H: int, A: int, frozen: int, end: int) -> torch.Tensor:
    """RTC's exponential prefix weights (rtc.ts prefixWeights 'exp'): 1 before `frozen`, decaying
    to 0 at `end`, broadcast over the action dims -> [H, A]."""
    w = torch.zeros(H, dtype=torch.float64)
    for i in range(end):
        x = min(1.0, max(0.0, (frozen - 1 - i) / (end - frozen + 1) + 1))
        w[i] = x * np.expm1(x) / (np.e - 1)
    return w.to(torch.float32).unsqueeze(1).expand(H, A).contiguous()


def export_vjp(policy: M.Policy, g: "Golden", graphs: Dict[str, dict], out: str, kv, mask, randn):
    """expert_vjp.onnx + two golden cases (B = 1, B = 2; non-zero LoRA, target and soft mask).

    The B = 2 case reuses the expert_lora case's x_t, t, lora and, as its `out`, that case's
    output (the contract: bit-for-bit the expert's). `vjp` references come from torch.autograd.grad.
    """
    cfg = policy.cfg
    L, D, P, H, A, n_lora = cfg.layers, cfg.width, cfg.prefix_tokens, cfg.chunk_length, cfg.action_dim, M.lora_size(cfg)
    tensors = lambda name: torch.from_numpy(np.frombuffer(
        bytes(g.buf[g.tensors[name]["offset"]:][:g.tensors[name]["length"]]), dtype=np.float32).copy()
    ).reshape(g.tensors[name]["shape"])
    x2, t2, lora = tensors("expert_lora.x_t"), tensors("expert_lora.t"), tensors("expert_lora.lora")
    target2 = randn(2, H, A) * 0.8
    weights2 = torch.stack([soft_mask(H, A, 5, 25), soft_mask(H, A, 3, 40)])
    inputs2 = [x2, t2, kv, mask, lora, target2, weights2]
    inputs1 = [x2[:1].clone(), t2[:1].clone(), kv, mask, lora, target2[:1].clone(), weights2[:1].clone()]

    log("tracing expert_vjp (functorch vjp + make_fx, dynamic batch) and exporting expert_vjp.onnx")
    gm = X.export_expert_vjp(policy.expert, os.path.join(out, "expert_vjp.onnx"), inputs2)
    batch_io = lambda n: io(n, "float32", ["B", H, A])
    graphs["expert_vjp"] = {
        "file": "expert_vjp.onnx",
        "inputs": [batch_io("x_t"), io("t", "float32", ["B"]), io("prefix_kv", "float32", [L, 2, 1, P, D]),
                   io("prefix_mask", "float32", [1, P]), io("lora", "float32", [n_lora]),
                   batch_io("target"), batch_io("weights")],
        "outputs": [batch_io("out"), batch_io("vjp")]}

    parity = {}
    for tag, inputs in (("expert_vjp_b1", inputs1), ("expert_vjp_b2", inputs2)):
        ref_out, ref_vjp = X.eager_expert_vjp(policy.expert, *inputs)
        with torch.no_grad():
            run_out = policy.expert.run(*inputs[:5])
            traced_out, traced_vjp = gm(*[e.clone() for e in inputs])
        if not (torch.equal(traced_out, run_out) and torch.equal(ref_out, run_out)):
            raise RuntimeError(f"{tag}: the traced velocity is not bit-for-bit expert.run's")
        parity[tag] = max_rel(traced_vjp, ref_vjp)
        if parity[tag] > 1e-5:
            raise RuntimeError(f"{tag}: make_fx vjp vs autograd max rel err {parity[tag]:.2e}")
        b = inputs[0].shape[0]
        if b == 2:
            names = {"x_t": "expert_lora.x_t", "t": "expert_lora.t"}
            out_name = "expert_lora.out"
            if not torch.equal(tensors(out_name), run_out):
                raise RuntimeError("expert_vjp: expert_lora.out is not the same velocity")
        else:
            names = {"x_t": g.add(f"{tag}.x_t", inputs[0]), "t": g.add(f"{tag}.t", inputs[1])}
            out_name = g.add(f"{tag}.out", run_out)
        g.case("expert_vjp",
               {**names, "prefix_kv": "prefix.prefix_kv", "prefix_mask": "prefix.prefix_mask",
                "lora": "expert_lora.lora", "target": g.add(f"{tag}.target", inputs[5]),
                "weights": g.add(f"{tag}.weights", inputs[6])},
               {"out": out_name, "vjp": g.add(f"{tag}.vjp", ref_vjp)})
    return parity


def prefix_batch(policy: M.Policy, vocab_size: int, n: int, gen: torch.Generator):
    """A training batch of prefix outputs (K/V, mask): n prefix passes on random images, instructions
    of 2-8 words and states, batched as the trainer caches them (K/V [L, 2, n, P, D], mask [n, P])."""
    cfg = policy.cfg
    kvs, masks = [], []
    with torch.no_grad():
        for i in range(n):
            n_words = 2 + i % 7
            ids = [2 + int(x) for x in torch.randint(0, vocab_size - 2, (n_words,), generator=gen)]
            toks = torch.tensor([ids + [0] * (cfg.max_tokens - n_words)], dtype=torch.int64)
            img = torch.randint(0, 256, (1, cfg.n_cameras, *cfg.image_hw, 3), generator=gen, dtype=torch.uint8)
            k_i, m_i = policy.prefix(img, toks, torch.randn(1, cfg.state_dim, generator=gen))
            kvs.append(k_i)
            masks.append(m_i)
    return torch.cat(kvs, dim=2), torch.cat(masks, dim=0)


def load_weights(policy: M.Policy, path: str) -> dict:
    """Copy a train.py checkpoint's weights into the policy (prefix, the expert matching the
    preset's kind, energy head) and return the checkpoint (norm stats, step, config, history)."""
    ckpt = torch.load(path, map_location="cpu")
    state = ckpt["model"]
    kind = policy.cfg.expert_kind
    if kind == "ddim":
        raise ValueError(f"{path}: train.py trains flow_matching and l1_regression experts, not ddim")
    parts = [("prefix.", policy.prefix), ("l1_expert." if kind == "l1_regression" else "expert.", policy.expert)]
    if policy.energy is not None:
        parts.append(("energy.", policy.energy))
    for prefix, module in parts:
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not sub:
            raise KeyError(f"{path}: no '{prefix}*' weights in the checkpoint")
        module.load_state_dict(sub, strict=True)  # shape or name mismatch -> a clear error
        with torch.no_grad():
            # fp16-representable weights (relative change <= 2^-11), so compact.py stores them as
            # fp16 + Cast losslessly and the bundle stays half the size
            for p in module.parameters():
                p.copy_(p.half().float())
    return ckpt


def build(preset_name: str, seed: int, out: str, created_at: str, weights: str | None = None,
          bundle_name: str | None = None, version: str = "0.1.0") -> dict:
    preset = PRESETS[preset_name]
    vocab = TK.vocab()
    cfg = M.ModelConfig(vocab_size=len(vocab), **preset["model"])
    kind, steps = cfg.expert_kind, preset["steps"]
    L, D, P, H, A = cfg.layers, cfg.width, cfg.prefix_tokens, cfg.chunk_length, cfg.action_dim
    C, T, Sd = cfg.n_cameras, cfg.max_tokens, cfg.state_dim
    n_lora = M.lora_size(cfg)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    log(f"preset {preset_name} seed {seed}: D={D} heads={cfg.heads} L={L} expert E={cfg.e_width} "
        f"MLP={cfg.e_mlp} P={P} H={H} A={A} "
        f"kind={kind} lora={n_lora} -> {out}")
    policy = M.build_policy(cfg, seed)
    ckpt = None
    if weights:
        ckpt = load_weights(policy, weights)
        log(f"weights from {weights} (step {ckpt['step']}, best val {ckpt['best_val']:.4f})")
    gen = torch.Generator().manual_seed(seed + 1000)  # goldens use their own stream
    randn = lambda *shape: torch.randn(*shape, generator=gen)
    alphas = S.cosine_alphas_cumprod(DDIM_T) if kind == "ddim" else None

    def rand_lora(scale_b: float) -> torch.Tensor:
        parts = []
        for e in M.lora_layout(cfg):
            std = 1.0 / np.sqrt(e.shape[1]) if e.name.endswith(".A") else scale_b
            parts.append(randn(e.size) * std)
        return torch.cat(parts)

    def t_for(b: int) -> torch.Tensor:
        if kind == "ddim":  # the expert's t input is k / T for an integer timestep k
            return torch.randint(0, DDIM_T, (b,), generator=gen).to(torch.float32) / DDIM_T
        return torch.rand(b, generator=gen)

    g = Golden()
    graphs: Dict[str, dict] = {}
    tokens_list = TK.encode(GOLDEN_INSTRUCTION, T)

    # -- prefix --------------------------------------------------------------------------------
    images = torch.randint(0, 256, (1, C, 96, 96, 3), generator=gen, dtype=torch.uint8)
    tokens = torch.tensor([tokens_list], dtype=torch.int64)
    state = randn(1, Sd)
    with torch.no_grad():
        kv, mask = policy.prefix(images, tokens, state)
    log("exporting prefix.onnx")
    X.export_prefix(policy, os.path.join(out, "prefix.onnx"), images, tokens, state)
    graphs["prefix"] = {"file": "prefix.onnx",
                        "inputs": [io("images", "uint8", [1, C, 96, 96, 3]),
                                   io("tokens", "int64", [1, T]), io("state", "float32", [1, Sd])],
                        "outputs": [io("prefix_kv", "float32", [L, 2, 1, P, D]),
                                    io("prefix_mask", "float32", [1, P])]}
    g.case("prefix", {"images": g.add("prefix.images", images), "tokens": g.add("prefix.tokens", tokens),
                      "state": g.add("prefix.state", state)},
           {"prefix_kv": g.add("prefix.prefix_kv", kv), "prefix_mask": g.add("prefix.prefix_mask", mask)})

    # -- expert --------------------------------------------------------------------------------
    log("exporting expert.onnx")
    l1 = kind == "l1_regression"
    X.export_expert(policy, os.path.join(out, "expert.onnx"), randn(2, H, A), t_for(2), kv, mask,
                    torch.zeros(n_lora))
    ins = [io("x_t", "float32", ["B", H, A])] + ([] if l1 else [io("t", "float32", ["B"])]) + [
        io("prefix_kv", "float32", [L, 2, 1, P, D]), io("prefix_mask", "float32", [1, P]),
        io("lora", "float32", [n_lora])]
    graphs["expert"] = {"file": "expert.onnx", "inputs": ins, "outputs": [io("out", "float32", ["B", H, A])]}
    kv_name, mask_name = "prefix.prefix_kv", "prefix.prefix_mask"
    for tag, b, lora in (("expert", 1, torch.zeros(n_lora)), ("expert_lora", 2, rand_lora(0.05))):
        x_t = torch.zeros(b, H, A) if l1 else randn(b, H, A)
        t = t_for(b)
        with torch.no_grad():
            o = policy.expert.run(x_t, None if l1 else t, kv, mask, lora)
        inputs = {"x_t": g.add(f"{tag}.x_t", x_t)}
        if not l1:
            inputs["t"] = g.add(f"{tag}.t", t)
        inputs.update({"prefix_kv": kv_name, "prefix_mask": mask_name, "lora": g.add(f"{tag}.lora", lora)})
        g.case("expert", inputs, {"out": g.add(f"{tag}.out", o)})

    # -- expert_vjp (RTC guidance, src/control/RTC_VJP_GRAPH.md) ------------------------------
    if kind == "flow_matching":
        # Its own random stream, so the other goldens stay as they were.
        vgen = torch.Generator().manual_seed(seed + 2000)
        vjp_parity = export_vjp(policy, g, graphs, out, kv, mask,
                                lambda *shape: torch.randn(*shape, generator=vgen))
        log("expert_vjp make_fx vs torch.autograd.grad, max rel err: "
            + ", ".join(f"{k}={v:.2e}" for k, v in vjp_parity.items()))

    # -- energy --------------------------------------------------------------------------------
    if policy.energy is not None:
        log("exporting energy.onnx")
        acts = randn(3, H, A)
        X.export_energy(policy, os.path.join(out, "energy.onnx"), kv, mask, acts)
        graphs["energy"] = {"file": "energy.onnx",
                            "inputs": [io("prefix_kv", "float32", [L, 2, 1, P, D]),
                                       io("prefix_mask", "float32", [1, P]),
                                       io("actions", "float32", ["B", H, A])],
                            "outputs": [io("energy", "float32", ["B"])]}
        with torch.no_grad():
            e = policy.energy(kv, mask, acts)
        g.case("energy", {"prefix_kv": kv_name, "prefix_mask": mask_name,
                          "actions": g.add("energy.actions", acts)}, {"energy": g.add("energy.energy", e)})

    # -- loss + train_step -----------------------------------------------------------------------
    opt = X.AdamW()
    parity = {}
    if preset["training"]:
        Bt = 8
        log(f"building a training batch (Bt={Bt}) from {Bt} prefix passes")
        tkv, tmask = prefix_batch(policy, len(vocab), Bt, gen)
        acts, noise, tt = randn(Bt, H, A), randn(Bt, H, A), torch.rand(Bt, generator=gen)
        lora = rand_lora(0.02)  # non-zero B, so the A gradients are non-zero too
        loss_inputs = [tkv, tmask, acts, noise, tt]
        log("exporting loss.onnx")
        X.export_loss(policy, os.path.join(out, "loss.onnx"), lora, *loss_inputs)
        loss_io = [io("prefix_kv", "float32", [L, 2, Bt, P, D]), io("prefix_mask", "float32", [Bt, P]),
                   io("actions", "float32", [Bt, H, A]), io("noise", "float32", [Bt, H, A]),
                   io("t", "float32", [Bt])]
        graphs["loss"] = {"file": "loss.onnx", "inputs": [io("lora", "float32", [n_lora])] + loss_io,
                          "outputs": [io("loss", "float32", [])]}
        with torch.no_grad():
            loss = policy.expert.flow_loss(lora, *loss_inputs)
        names = {"prefix_kv": g.add("train.prefix_kv", tkv), "prefix_mask": g.add("train.prefix_mask", tmask),
                 "actions": g.add("train.actions", acts), "noise": g.add("train.noise", noise),
                 "t": g.add("train.t", tt)}
        lora_name = g.add("train.lora", lora)
        g.case("loss", {"lora": lora_name, **names}, {"loss": g.add("loss.loss", loss)})

        log("tracing train_step (functorch grad_and_value + make_fx) and exporting train_step.onnx")
        m0 = randn(n_lora) * 1e-3
        v0 = randn(n_lora).abs() * 1e-6
        step0, lr = torch.tensor([3.0]), torch.tensor([1e-2])
        example = [lora, m0, v0, step0, lr] + loss_inputs
        gm = X.export_train_step(policy.expert, opt, os.path.join(out, "train_step.onnx"), example)
        graphs["train_step"] = {
            "file": "train_step.onnx",
            "inputs": [io("lora", "float32", [n_lora]), io("m", "float32", [n_lora]),
                       io("v", "float32", [n_lora]), io("step", "float32", [1]),
                       io("lr", "float32", [1])] + loss_io,
            "outputs": [io("lora_out", "float32", [n_lora]), io("m_out", "float32", [n_lora]),
                        io("v_out", "float32", [n_lora]), io("step_out", "float32", [1]),
                        io("loss", "float32", [])]}
        ref = X.eager_adamw_step(policy.expert, opt, *example)
        with torch.no_grad():
            traced = gm(*[e.clone() for e in example])
        for name, a, r in zip(X.TRAIN_OUTPUTS, traced, ref):
            parity[name] = max_rel(a, r)
        parity["lora_delta"] = max_rel(traced[0] - lora, ref[0] - lora)
        log("train_step make_fx vs eager AdamW, max rel err: "
            + ", ".join(f"{k}={v:.2e}" for k, v in parity.items()))
        if max(parity.values()) > 1e-5:
            raise RuntimeError(f"train_step parity failed: {parity}")
        g.case("train_step",
               {"lora": lora_name, "m": g.add("train_step.m", m0), "v": g.add("train_step.v", v0),
                "step": g.add("train_step.step", step0), "lr": g.add("train_step.lr", lr), **names},
               dict(zip(X.TRAIN_OUTPUTS, [g.add(f"train_step.{n}", r) for n, r in zip(X.TRAIN_OUTPUTS, ref)])))

    # -- the whole sampler -----------------------------------------------------------------------
    log(f"sampling golden chunk ({kind}, {steps} steps)")
    noise = randn(1, H, A)
    acts = S.sample(policy.expert, kind, kv, mask, noise, torch.zeros(n_lora), steps, alphas)
    g.case("sample", {"images": "prefix.images", "tokens": "prefix.tokens", "state": "prefix.state",
                      "noise": g.add("sample.noise", noise)},
           {"actions": g.add("sample.actions", acts)}, steps=steps)

    # -- files ---------------------------------------------------------------------------------
    with open(os.path.join(out, "golden.bin"), "wb") as f:
        f.write(bytes(g.buf))
    with open(os.path.join(out, "norm_stats.json"), "w") as f:
        json.dump(ckpt["norm_stats"] if ckpt else norm_stats(), f, indent=1)
        f.write("\n")
    if ckpt:
        if ckpt.get("norm_mode", preset["norm"]) != preset["norm"]:
            raise ValueError(f"{weights}: trained with {ckpt['norm_mode']} normalization, preset uses {preset['norm']}")
        hist = ckpt["history"]
        with open(os.path.join(out, "training.json"), "w") as f:
            json.dump({"checkpoint_step": ckpt["step"], "best_val": ckpt["best_val"], "config": ckpt["config"],
                       "train_log": [h for h in hist if "total" in h][-1:],
                       "val_log": [h for h in hist if "val_total" in h]}, f, indent=1)
            f.write("\n")
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(TK.tokenizer_json(), f, indent=1)
        f.write("\n")

    sampler = {"steps": steps}
    if preset.get("noise_scale") is not None:
        sampler["noise_scale"] = preset["noise_scale"]
    if alphas is not None:
        sampler["alphas_cumprod"] = [float(np.float32(a)) for a in alphas]
    files = sorted(fn for fn in os.listdir(out) if fn != "manifest.json")
    manifest = {
        "schema_version": 1,
        "name": bundle_name or f"vlad-{preset_name}",
        "version": version,
        "created_at": created_at,
        "description": (f"{preset['description'].replace(', random init', '')}; trained by train.py "
                        f"(step {ckpt['step']}; training.json; build_bundle.py --preset {preset_name} "
                        f"--weights {os.path.basename(weights)})" if ckpt else
                        f"{preset['description']} (seed {seed}; "
                        f"build_bundle.py --preset {preset_name} --seed {seed})"),
        "io": {"cameras": CAMERAS, "state_dim": Sd, "action_dim": A, "chunk_length": H,
               "control_dt": 0.02, "state_names": JOINT_NAMES, "action_names": JOINT_NAMES},
        "model": {"width": D, "heads": cfg.heads, "layers": L, "mlp": cfg.mlp,
                  "expert_width": cfg.e_width, "expert_mlp": cfg.e_mlp,
                  "tokens_per_camera": cfg.tokens_per_camera,
                  **({"vision": cfg.vision, "keypoints": cfg.keypoints} if cfg.vision != "patches" else {}),
                  "max_tokens": T, "prefix_tokens": P,
                  "param_count": {"prefix": M.param_count(policy.prefix),
                                  "expert": M.param_count(policy.expert),
                                  "energy": M.param_count(policy.energy)}},
        "expert": {"kind": kind, "sampler": sampler},
        "graphs": graphs,
        "normalization": {"mode": preset["norm"], "file": "norm_stats.json"},
        "tokenizer": {"file": "tokenizer.json", "max_tokens": T, "pad_id": 0},
        "lora": {"rank": cfg.lora_rank, "alpha": cfg.lora_alpha, "size": n_lora, "targets": M.LORA_TARGETS,
                 "layout": [{"name": e.name, "offset": e.offset, "shape": list(e.shape)}
                            for e in M.lora_layout(cfg)]},
    }
    if preset["training"]:
        manifest["training"] = {"batch": 8, "optimizer": {
            "name": "adamw", "beta1": opt.beta1, "beta2": opt.beta2, "eps": opt.eps,
            "weight_decay": opt.weight_decay, "grad_clip": opt.grad_clip}, "loss_weights": {"flow": 1.0}}
    manifest["files"] = {fn: sha256(os.path.join(out, fn)) for fn in files}
    manifest["golden"] = {"file": "golden.bin", "tolerance": TOLERANCE, "instruction": GOLDEN_INSTRUCTION,
                          "instruction_tokens": tokens_list, "tensors": g.tensors, "cases": g.cases}
    manifest["signature"] = None
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out, fn)) for fn in os.listdir(out))
    log(f"wrote {len(files) + 1} files, {total / 1e6:.2f} MB, {len(g.cases)} golden cases")
    return {"parity": parity, "bytes": total}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--created-at", default=None, help="ISO-8601 UTC timestamp for the manifest")
    ap.add_argument("--weights", default=None, help="train.py checkpoint (best.pt / last.pt) instead of seeded init")
    ap.add_argument("--name", default=None, help="manifest name (default vlad-PRESET)")
    ap.add_argument("--version", default="0.1.0", help="manifest version (semver)")
    args = ap.parse_args(argv)
    created = args.created_at
    if created is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        when = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc) if epoch else dt.datetime.now(dt.timezone.utc)
        created = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    build(args.preset, args.seed, args.out, created, args.weights, args.name, args.version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
