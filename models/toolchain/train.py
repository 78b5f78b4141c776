#!/usr/bin/python3
"""Train vlad's policy from RLDS demonstrations: pi0.5 + knowledge insulation (KI) recipe.

  /usr/bin/python3 models/toolchain/train.py --config models/toolchain/configs/ki-flow.json \
      --data DATA_DIR --out runs/ki-flow [--device auto|cpu|cuda] [--time-limit-min M]

One run trains, on the same batches:
  * prefix (vision + instruction + state) + FAST token head, cross-entropy on the DCT action
    tokens of the chunk (fast_tokens.py). The head is *parallel*: n_freq * A learned query
    tokens attend (bidirectionally, among themselves) to the prefix's last-layer output and each
    predicts its token's class. One pass instead of an autoregressive decode of 84 tokens keeps
    CPU training cheap; the prefix still has to encode the whole chunk's coarse shape.
  * flow-matching action expert (the shipped default) on stop-gradient prefix K/V: its loss
    never reaches the prefix (KI; `ki_stop_gradient`, true by default). Each observation is
    used with `flow_samples` (noise, t) draws: the expert is cheap next to the prefix.
  * energy head, in-batch swap InfoNCE: for `energy_contexts` observations, every chunk of the
    others is a negative; logits = -energy (lower = better, as the runtime ranks), on
    stop-gradient K/V.
  * one-step L1-regression expert (OpenVLA-OFT style), its own expert on the same stop-gradient
    prefix K/V, exported as the comparison bundle.
  * optional L1 on the flow expert's one-step estimate a_hat = x_t - t v (lambda `l1`, 0 default).
Total loss = sum_i lambda_i L_i with lambdas from the config (see models/README.md "Training").

AdamW, linear warm-up then step decay, global grad-norm clipping at 1.0, image augmentation
(random shift, brightness/contrast/saturation; no hue jitter, which would change the object
colours that the instructions name). Checkpoints: <out>/last.pt every `ckpt_every` steps and on
SIGINT/SIGTERM or the time limit, <out>/best.pt when the validation loss improves. Rerunning the
same command resumes from last.pt; batches and noise are a function of (seed, step), so a
resumed run takes exactly the steps an uninterrupted one would.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from typing import Dict, List


# torch's own intra-op threads and OpenBLAS's threads on the same cores oversubscribe them: on
# 2 cores, torch x2 + OpenBLAS x1 trains ~2x faster than x2 + x2 (measured, models/README.md).
# Set before numpy, which loads OpenBLAS first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_tokens as FT  # noqa: E402
import model as M  # noqa: E402
import rlds_data as R  # noqa: E402
import tokenizer as TK  # noqa: E402

PRESET_MODELS = {
    # the base-flow bundle's sizes (build_bundle.py PRESETS["base-flow"])
    "base": dict(width=128, heads=4, layers=4, mlp=256, expert_width=64, expert_mlp=128,
                 stem_channels=(16, 32, 64), lora_rank=8, lora_alpha=16.0),
    # the shipped model (model.SHIPPED_SIZE, from stage 6 on); for stage 1 the same without its 4
    # instruction-query keypoints per camera; for stages 2-5 those keypoints on the quarter-
    # resolution features with the plain mean-embedding query
    "kp": dict(M.SHIPPED_SIZE, text_keypoints=0),
    "kp-text": dict(M.SHIPPED_SIZE, text_keypoint_res="quarter", text_query="mean"),
    "kp-text-hr": M.SHIPPED_SIZE,
    # small, for tests
    "tiny": dict(width=32, heads=2, layers=2, mlp=64, stem_channels=(8, 16, 32), lora_rank=4, lora_alpha=8.0),
}
PRESET_MODELS["tiny-kp"] = dict(PRESET_MODELS["tiny"], vision="keypoints", keypoints=4, text_keypoints=2,
                                text_keypoint_res="half", text_query="centred")

DEFAULT_CONFIG = {
    "model": "base",
    "seed": 0,
    "data": {"val_fraction": 0.1, "split_seed": 0, "norm": "mean_std", "only_success": True, "cache_images": False,
             "early_weight": 1.0, "early_fraction": 0.4, "gripper_closed_below": 0.03,
             "grasp_weight": 1.0, "grasp_window": [30, 5]},
    "batch": 32,
    "flow_samples": 4,
    "energy_contexts": 8,
    "steps": 6000,
    "lambdas": {"fast": 1.0, "flow": 1.0, "energy": 0.1, "l1_expert": 1.0, "l1": 0.0, "goal_kp": 0.0, "locate": 0.0,
                "goal_ctx": 0.0},
    "ki_stop_gradient": True,
    # Parameter-name prefixes that train (e.g. ["prefix.layers.", "expert."]); [] = all. The others
    # keep their (warm-started) values: which part of the model must adapt to a new condition.
    "trainable": [],
    "l1_trains_prefix": False,
    "pad_weight": 1.0,
    "optimizer": {"lr": 5e-4, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 1e-4, "warmup_steps": 200,
                  "decay_at": [0.6, 0.85], "decay_factor": 0.3, "grad_clip": 1.0},
    "augment": {"shift": 6, "brightness": 0.2, "contrast": 0.2, "saturation": 0.1},
    "fast": {"n_freq": 12, "scale": 4.0, "max_abs": 127, "head_layers": 2, "hl_sigma": 0.0},
    "eval_every": 250, "ckpt_every": 250, "log_every": 10, "val_batches": 6, "keep_best_on": "total",
    "threads": 2,
}


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Modules that exist only in training (the FAST head) and the whole trainable set.

class FastHead(nn.Module):
    """Parallel FAST token decoder over the prefix's last-layer output."""

    def __init__(self, cfg: M.ModelConfig, n_tokens: int, vocab: int, layers: int):
        super().__init__()
        d = cfg.width
        self.heads = cfg.heads
        self.ln_ctx = nn.LayerNorm(d)
        self.queries = nn.Parameter(torch.randn(1, n_tokens, d) * 0.5)
        self.blocks = nn.ModuleList([M.Block(d, cfg.mlp) for _ in range(layers)])
        self.ln_out = nn.LayerNorm(d)
        self.out = M.init_linear(nn.Linear(d, vocab))

    def forward(self, ctx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        c = self.ln_ctx(ctx)
        x = self.queries.expand(ctx.shape[0], -1, -1)
        for blk in self.blocks:
            hn = blk.ln1(x)
            att = M.joint_attention(blk.q(hn), blk.k(hn), blk.v(hn), blk.k(c), blk.v(c), mask, self.heads)
            x = x + blk.o(att)
            x = x + blk.down(F.gelu(blk.up(blk.ln2(x))))
        return self.out(self.ln_out(x))  # [B, n_tokens, vocab]


class GoalHeads(nn.Module):
    """Hindsight waypoint regression (rlds_data.gripper_waypoints): predict the state at the next
    grasp/release (or the episode's end) from the current one and
      * kp: the instruction-query keypoints' image positions alone (every camera), so those
        keypoints must land on the object the instruction names: a short gradient path to the
        grounding that FAST and L1 did not give within a CPU budget;
      * ctx: the prefix's last-layer output (masked mean), so the K/V the experts read carry it.
    Training only; not exported."""

    def __init__(self, cfg: M.ModelConfig, hidden: int = 256):
        super().__init__()
        self.n_text = cfg.text_keypoints
        n_in = cfg.n_cameras * cfg.text_keypoints * 2 + cfg.state_dim
        self.kp = nn.Sequential(nn.Linear(n_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                nn.Linear(hidden, cfg.state_dim))
        self.ctx = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, hidden), nn.GELU(),
                                 nn.Linear(hidden, cfg.state_dim))

    def forward(self, keypoints: torch.Tensor, state: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor):
        text_kp = keypoints[:, :, -self.n_text:].flatten(1)  # [B, C * Kt * 2]
        pooled = (ctx * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return self.kp(torch.cat([text_kp, state], dim=-1)), self.ctx(pooled)


class Trainable(nn.Module):
    def __init__(self, cfg: M.ModelConfig, tok: FT.FastTokenizer, head_layers: int, goal_heads: bool = False):
        super().__init__()
        self.cfg = cfg
        self.prefix = M.Prefix(cfg)
        self.expert = M.Expert(cfg)
        self.energy = M.Energy(cfg)
        self.l1_expert = M.Expert(M.ModelConfig(**{**cfg.__dict__, "expert_kind": "l1_regression"}))
        self.fast_head = FastHead(cfg, tok.n_tokens, tok.vocab_size, head_layers)
        if goal_heads and not (cfg.vision == "keypoints" and cfg.text_keypoints):
            raise ValueError("lambdas goal_kp / goal_ctx need a model with instruction-query keypoints (kp-text, kp-text-hr)")
        self.goal = GoalHeads(cfg) if goal_heads else None


def sampling_weights(eps, index: np.ndarray, dc: dict, closed_below: float, log=print):
    """Per-sample draw probabilities (None = uniform).

    Approach phase: steps in the first `early_fraction` of an episode (the arm has yet to reach the
    named object, so only the instruction + cameras say where to go) are drawn `early_weight` times
    as often; later steps mostly continue what the state already shows. Measured from the first
    trained step, so a recovery episode's re-approach is its approach.
    Grasp phase: the `grasp_window` = [before, after] steps around the first commanded gripper
    close are drawn `grasp_weight` times as often (multiplying the approach weight): the last
    centimetres and the wrist roll decide whether the fingers meet the cube's faces or pinch an
    edge that slips out in transit.
    """
    early_w, grasp_w = float(dc.get("early_weight", 1.0)), float(dc.get("grasp_weight", 1.0))
    if early_w == 1.0 and grasp_w == 1.0:
        return None
    ep_i, step = index[:, 0], index[:, 1]
    first = np.array([eps[i].first_clean for i in range(len(eps))], np.int64)
    length = np.array([eps[i].length for i in range(len(eps))], np.int64)
    w = np.ones(len(index), np.float64)
    early = step - first[ep_i] < float(dc.get("early_fraction", 0.4)) * (length - first)[ep_i]
    w[early] *= early_w
    grasp = np.zeros(len(index), bool)
    if grasp_w != 1.0:
        before, after = (int(v) for v in dc.get("grasp_window", [30, 5]))
        close = np.full(len(eps), -10**9, np.int64)  # episodes that never close: no grasp window
        for i, e in enumerate(eps):
            shut = np.nonzero(e.actions[e.first_clean:, 6] < closed_below)[0]
            if len(shut):
                close[i] = e.first_clean + int(shut[0])
        grasp = (step >= close[ep_i] - before) & (step <= close[ep_i] + after)
        w[grasp] *= grasp_w
    p = w / w.sum()
    log(f"sampling: {early.mean():.0%} of samples are approach-phase (x{early_w}, {p[early].sum():.0%} of draws), "
        f"{grasp.mean():.0%} grasp-phase (x{grasp_w}, {p[grasp].sum():.0%} of draws)")
    return p


def uses_goal_heads(conf: dict) -> bool:
    return any(conf["lambdas"].get(k, 0.0) > 0 for k in ("goal_kp", "goal_ctx"))


def model_config(name: str) -> M.ModelConfig:
    return M.ModelConfig(vocab_size=len(TK.vocab()), expert_kind="flow_matching", energy=True, **PRESET_MODELS[name])


# ---------------------------------------------------------------------------------------------
# Augmentation (uint8 images -> float 0..255, rounded so the prefix sees what a camera could send)

def augment(images: torch.Tensor, aug: dict, gen: torch.Generator, shifts: list | None = None) -> torch.Tensor:
    """`shifts` (a list) receives how far each image's content moved, [B, C, 2] pixels (x, y)."""
    b, c, h, w, _ = images.shape
    x = images.to(torch.float32).reshape(b * c, h, w, 3).permute(0, 3, 1, 2)  # [N, 3, H, W]
    n = x.shape[0]
    s = int(aug.get("shift", 0))
    if s > 0:
        padded = F.pad(x, (s, s, s, s), mode="replicate")
        offs = torch.randint(0, 2 * s + 1, (n, 2), generator=gen)
        x = torch.stack([padded[i, :, oy:oy + h, ox:ox + w] for i, (oy, ox) in enumerate(offs.tolist())])
        if shifts is not None:
            shifts.append((s - offs.flip(1)).to(torch.float32).reshape(b, c, 2))
    elif shifts is not None:
        shifts.append(torch.zeros(b, c, 2))

    def factor(r):
        return (1.0 + (torch.rand(n, 1, 1, 1, generator=gen) * 2 - 1) * r).to(x.dtype)
    if aug.get("brightness"):
        x = x * factor(aug["brightness"])
    if aug.get("contrast"):
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * factor(aug["contrast"]) + mean
    if aug.get("saturation"):
        gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
        x = (x - gray) * factor(aug["saturation"]) + gray
    x = x.clamp(0, 255).round()
    return x.permute(0, 2, 3, 1).reshape(b, c, h, w, 3)


# ---------------------------------------------------------------------------------------------
# Losses

def locate_losses(text_logits: torch.Tensor, uv: torch.Tensor, valid: torch.Tensor, image_size: int):
    """Cross-entropy of instruction keypoint j (j = 0: the named object, 1: the place pad) against
    its hindsight image position (rlds_data.locate_labels), the target spread bilinearly over the 4
    nearest cells of the keypoint grid so the softmax's expectation can be sub-pixel; and the mean
    distance (pixels of the image) from the keypoint's expected position to the label (a metric).
    text_logits [B, C, Kt, r*r], uv [B, C, 2, 2] continuous pixels, valid [B, C, 2]."""
    r = int(round(text_logits.shape[-1] ** 0.5))
    cell = image_size / r
    n = uv.shape[2]
    logp = F.log_softmax(text_logits[:, :, :n], dim=-1)  # [B, C, n, r*r]
    k = (uv / cell - 0.5).clamp(0, r - 1)  # continuous cell coordinates
    k0 = k.floor().clamp(max=r - 2)
    f = k - k0
    x0, y0 = k0[..., 0].long(), k0[..., 1].long()
    fx, fy = f[..., 0], f[..., 1]
    ce = torch.zeros_like(fx)
    for dy, dx, wgt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        idx = ((y0 + dy) * r + x0 + dx).unsqueeze(-1)
        ce = ce - wgt * logp.gather(-1, idx).squeeze(-1)
    denom = valid.sum().clamp(min=1.0)
    with torch.no_grad():
        centres = (torch.arange(r, dtype=torch.float32, device=uv.device) + 0.5) * cell
        p = logp.exp().reshape(*logp.shape[:-1], r, r)
        ex = (p.sum(-2) * centres).sum(-1)
        ey = (p.sum(-1) * centres).sum(-1)
        px = torch.hypot(ex - uv[..., 0], ey - uv[..., 1])
    return (ce * valid).sum() / denom, (px * valid).sum() / denom


def flow_t(n: int, gen: torch.Generator) -> torch.Tensor:
    """pi0's time distribution: Beta(1.5, 1) towards the noisy end (t = 1 is noise here)."""
    # Beta(1.5, 1) by its inverse CDF (F(x) = x^1.5), so the seeded generator drives it.
    r = torch.rand(n, generator=gen)
    return 0.001 + 0.998 * r.pow(1.0 / 1.5)


def compute_losses(net: Trainable, batch: Dict[str, torch.Tensor], conf: dict, tok_targets: torch.Tensor,
                   gen: torch.Generator, train: bool, soft_targets: torch.Tensor | None = None) -> Dict[str, torch.Tensor]:
    cfg = net.cfg
    lam = conf["lambdas"]
    images, tokens, state = batch["images"], batch["tokens"], batch["state"]
    actions, mask = batch["actions"], batch["mask"]
    B = actions.shape[0]
    aux: dict = {}
    kv, pmask, ctx = M.prefix_encode_batch(net.prefix, images, tokens, state, aux)
    losses: Dict[str, torch.Tensor] = {}
    if "locate_uv" in batch:
        losses["locate"], losses["locate_px"] = locate_losses(aux["text_logits"], batch["locate_uv"],
                                                              batch["locate_valid"], cfg.image_hw[1])
    if net.goal is not None:
        g_kp, g_ctx = net.goal(aux["keypoints"], state, ctx, pmask)
        losses["goal_kp"] = F.mse_loss(g_kp, batch["goal"])
        losses["goal_ctx"] = F.mse_loss(g_ctx, batch["goal"])

    logits = net.fast_head(ctx, pmask)
    if soft_targets is not None:  # HL-Gauss: ordinal soft labels (fast.hl_sigma > 0)
        losses["fast"] = -(soft_targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    else:
        losses["fast"] = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tok_targets.reshape(-1))
    with torch.no_grad():
        losses["fast_acc"] = (logits.argmax(-1) == tok_targets).float().mean()

    kv_x = kv.detach() if conf["ki_stop_gradient"] else kv
    w = mask + (1.0 - mask) * conf["pad_weight"]  # [B, H] per-step weight
    wsum = w.sum() * cfg.action_dim

    k = conf["flow_samples"]
    kv_k = kv_x.repeat_interleave(k, dim=2)
    mask_k = pmask.repeat_interleave(k, dim=0)
    a_k = actions.repeat_interleave(k, dim=0)
    w_k = w.repeat_interleave(k, dim=0).unsqueeze(-1)
    noise = torch.randn(a_k.shape, generator=gen).to(a_k.device)
    t = flow_t(B * k, gen).to(a_k.device)
    tt = t.reshape(-1, 1, 1)
    x_t = tt * noise + (1.0 - tt) * a_k
    v = net.expert.run(x_t, t, kv_k, mask_k, torch.zeros(M.lora_size(cfg), device=a_k.device))
    losses["flow"] = (((v - (noise - a_k)) ** 2) * w_k).sum() / (wsum * k)
    if lam.get("l1", 0) > 0:
        a_hat = x_t - tt * v
        losses["l1"] = ((a_hat - a_k).abs() * w_k).sum() / (wsum * k)

    # `l1_trains_prefix`: the one-step L1 head's loss also reaches the prefix (a second backbone
    # objective next to FAST, continuous instead of discrete); the flow expert stays insulated.
    kv_l1 = kv if conf.get("l1_trains_prefix", False) else kv_x
    l1_out = net.l1_expert.run(torch.zeros_like(actions), None, kv_l1, pmask,
                               torch.zeros(M.lora_size(net.l1_expert.cfg), device=actions.device))
    losses["l1_expert"] = ((l1_out - actions).abs() * w.unsqueeze(-1)).sum() / wsum

    ne = min(conf["energy_contexts"], B)
    if ne >= 2:
        # E(context i, chunk j) for all i, j < ne: row i's positive is j = i (in-batch swap InfoNCE)
        last = kv_x[-1:, :, :ne]  # [1, 2, ne, P, D]; the energy head reads the last layer only
        kv_pairs = last.repeat_interleave(ne, dim=2)
        m_pairs = pmask[:ne].repeat_interleave(ne, dim=0)
        a_pairs = actions[:ne].repeat(ne, 1, 1)
        e = net.energy(kv_pairs, m_pairs, a_pairs).reshape(ne, ne)
        target = torch.arange(ne, device=e.device)
        losses["energy"] = F.cross_entropy(-e, target)
        with torch.no_grad():
            losses["energy_acc"] = ((-e).argmax(-1) == target).float().mean()

    losses["total"] = sum(lam.get(name, 0.0) * losses[name]
                          for name in ("fast", "flow", "energy", "l1_expert", "l1", "goal_kp", "goal_ctx", "locate")
                          if name in losses)
    return losses


@torch.no_grad()
def sample_mse(net: Trainable, batch, steps: int, gen) -> float:
    """Normalized-space MSE of a 10-step flow sample (the bundle's sampler) against the demo chunk."""
    cfg = net.cfg
    kv, pmask, _ = M.prefix_encode_batch(net.prefix, batch["images"], batch["tokens"], batch["state"])
    x = torch.randn(batch["actions"].shape, generator=gen).to(kv.device)
    zero = torch.zeros(M.lora_size(cfg), device=kv.device)
    for i in range(steps):
        t = torch.full((x.shape[0],), 1.0 - i / steps, device=kv.device)
        x = x - (1.0 / steps) * net.expert.run(x, t, kv, pmask, zero)
    return float(((x - batch["actions"]) ** 2).mean())


# ---------------------------------------------------------------------------------------------

def lr_at(step: int, total: int, opt: dict) -> float:
    lr = opt["lr"]
    if step < opt["warmup_steps"]:
        return lr * (step + 1) / opt["warmup_steps"]
    for frac in opt["decay_at"]:
        if step >= int(frac * total):
            lr *= opt["decay_factor"]
    return lr


def to_torch(b: dict, device) -> Dict[str, torch.Tensor]:
    keys = ("images", "tokens", "state", "actions", "mask", "goal", "locate_uv", "locate_valid")
    return {k: torch.from_numpy(b[k]).to(device) for k in keys if k in b}


def atomic_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


class Stop(Exception):
    pass


def train(conf: dict, data_dir: str, out: str, device: str = "auto", time_limit_min: float = 0.0,
          max_steps: int = 0, episodes=None, init: str | None = None) -> dict:
    """Returns a summary dict. `episodes` (already loaded) skips reading data_dir (tests)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(int(conf["threads"]))
    os.makedirs(out, exist_ok=True)
    seed = int(conf["seed"])
    cfg = model_config(conf["model"])
    fc = conf["fast"]
    tok = FT.FastTokenizer(cfg.chunk_length, cfg.action_dim, fc["n_freq"], fc["scale"], fc["max_abs"])
    hl_sigma = float(fc.get("hl_sigma", 0.0))

    def soft(actions: np.ndarray):
        return torch.from_numpy(tok.soft_targets(actions, hl_sigma)).to(device) if hl_sigma > 0 else None

    eps = episodes if episodes is not None else R.load_vlad_dataset(
        data_dir, only_success=conf["data"]["only_success"], log=log)
    train_eps, val_eps = R.split_episodes(eps, conf["data"]["val_fraction"], conf["data"]["split_seed"])
    last_path, best_path = os.path.join(out, "last.pt"), os.path.join(out, "best.pt")
    resume = torch.load(last_path, map_location="cpu") if os.path.exists(last_path) else None
    warm = torch.load(init, map_location="cpu") if init and not resume else None
    stats = (resume or warm)["norm_stats"] if (resume or warm) else R.norm_stats(train_eps, cfg.chunk_length)
    mode = conf["data"]["norm"]
    closed_below = float(conf["data"]["gripper_closed_below"])
    # the locate loss's labels: images are square, image_hw[1] pixels wide
    locate_size = cfg.image_hw[1] if conf["lambdas"].get("locate", 0.0) > 0 else 0
    if locate_size and not (cfg.vision == "keypoints" and cfg.text_keypoints >= 2):
        raise ValueError("lambda locate needs a model with >= 2 instruction-query keypoints (kp-text, kp-text-hr)")
    train_set = R.SampleSet(train_eps, stats, cfg.chunk_length, mode, cache_images=conf["data"]["cache_images"],
                            closed_below=closed_below, locate_size=locate_size)
    val_set = (R.SampleSet(val_eps, stats, cfg.chunk_length, mode, closed_below=closed_below, locate_size=locate_size)
               if val_eps else None)
    log(f"data: {len(train_eps)} train episodes ({len(train_set)} samples), {len(val_eps)} val episodes "
        f"({len(val_set) if val_set else 0} samples); device {device}, {torch.get_num_threads()} threads")

    sample_p = sampling_weights(train_eps, train_set.index, conf["data"], closed_below, log)

    torch.manual_seed(seed)
    net = Trainable(cfg, tok, fc["head_layers"], uses_goal_heads(conf)).to(device)
    oc = conf["optimizer"]
    decay, no_decay = [], []
    trainable = list(conf.get("trainable") or [])
    for name, p in net.named_parameters():
        if trainable and not any(name.startswith(t) for t in trainable):
            p.requires_grad_(False)
            continue
        (no_decay if p.ndim < 2 or "ln" in name or name.endswith("pos") or "emb" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": oc["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=oc["lr"], betas=tuple(oc["betas"]),
                            eps=oc["eps"])
    total = int(conf["steps"])
    step, best, history = 0, math.inf, []
    if resume:
        net.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        step, best, history = resume["step"], resume["best_val"], resume["history"]
        log(f"resumed from {last_path} at step {step} (best val {best:.4f})")
    elif warm:
        # Warm start (a grown architecture): every tensor whose name and shape match is copied;
        # the rest keep their fresh init. New optimizer, schedule from step 0.
        own = net.state_dict()
        same = {k: v for k, v in warm["model"].items() if k in own and own[k].shape == v.shape}
        net.load_state_dict(same, strict=False)
        fresh = sorted(set(own) - set(same))
        log(f"warm start from {init} (step {warm['step']}): {len(same)} tensors copied, {len(fresh)} fresh: "
            + ", ".join(fresh))
    n_params = sum(p.numel() for p in net.parameters())
    log(f"model {conf['model']}: {n_params} parameters (prefix {M.param_count(net.prefix)}, expert "
        f"{M.param_count(net.expert)}, l1 expert {M.param_count(net.l1_expert)}, energy {M.param_count(net.energy)}, "
        f"fast head {M.param_count(net.fast_head)}); {tok.n_tokens} FAST tokens, vocab {tok.vocab_size}")

    def checkpoint(path: str) -> None:
        atomic_save({"step": step, "model": net.state_dict(), "optimizer": opt.state_dict(), "best_val": best,
                     "history": history, "norm_stats": stats, "norm_mode": mode, "config": conf,
                     "model_config": cfg.__dict__}, path)

    # Fixed validation batches (indices and noise from the seed, the same at every evaluation)
    val_idx = []
    if val_set:
        vr = np.random.default_rng([seed, 7])
        val_idx = [vr.integers(0, len(val_set), conf["batch"]) for _ in range(conf["val_batches"])]

    def evaluate() -> Dict[str, float]:
        net.eval()
        sums: Dict[str, float] = {}
        with torch.no_grad():
            for bi, idx in enumerate(val_idx):
                b = val_set.batch(idx)
                targets = torch.from_numpy(tok.encode(b["actions"])).to(device)
                g = torch.Generator().manual_seed(seed * 7919 + bi)
                tb = to_torch(b, device)
                ls = compute_losses(net, tb, conf, targets, g, False, soft(b["actions"]))
                ls["sample_mse"] = torch.tensor(sample_mse(net, tb, 10, g))
                for k_, v_ in ls.items():
                    sums[k_] = sums.get(k_, 0.0) + float(v_) / len(val_idx)
        net.train()
        return sums

    stop = {"flag": False}

    def on_signal(signum, _frame):
        stop["flag"] = True
        log(f"signal {signum}: checkpointing at the end of this step")
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    t_start = time.time()
    end_step = min(total, max_steps) if max_steps else total
    net.train()
    run_avg: Dict[str, float] = {}
    t_log = time.time()
    try:
        while step < end_step:
            rng = np.random.default_rng([seed, step])
            idx = (rng.choice(len(train_set), conf["batch"], p=sample_p) if sample_p is not None
                   else rng.integers(0, len(train_set), conf["batch"]))
            b = train_set.batch(idx)
            targets = torch.from_numpy(tok.encode(b["actions"])).to(device)
            gen = torch.Generator().manual_seed(seed * 1000003 + step)
            tb = to_torch(b, device)
            shifts: list = []
            tb["images"] = augment(tb["images"].cpu(), conf["augment"], gen, shifts).to(device)
            if "locate_uv" in tb:  # the labels move with the shifted image content
                tb["locate_uv"] = tb["locate_uv"] + shifts[0].to(device).unsqueeze(2)
            lr = lr_at(step, total, oc)
            for grp in opt.param_groups:
                grp["lr"] = lr
            losses = compute_losses(net, tb, conf, targets, gen, True, soft(b["actions"]))
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            gnorm = float(torch.nn.utils.clip_grad_norm_(net.parameters(), oc["grad_clip"]))
            opt.step()
            step += 1
            for k_, v_ in losses.items():
                run_avg[k_] = run_avg.get(k_, 0.0) + float(v_)
            run_avg["gnorm"] = run_avg.get("gnorm", 0.0) + gnorm
            run_avg["n"] = run_avg.get("n", 0) + 1
            if step % conf["log_every"] == 0 or step == end_step:
                n = run_avg.pop("n")
                dt = (time.time() - t_log) / n
                log(f"step {step}/{total} lr {lr:.2e} " + " ".join(f"{k_} {v_ / n:.4f}" for k_, v_ in run_avg.items())
                    + f" | {dt:.2f} s/step")
                history.append({"step": step, "lr": lr, **{k_: v_ / n for k_, v_ in run_avg.items()}})
                run_avg, t_log = {}, time.time()
            if val_set and (step % conf["eval_every"] == 0 or step == end_step):
                ev = evaluate()
                key = ev[conf["keep_best_on"]]
                history.append({"step": step, **{f"val_{k_}": v_ for k_, v_ in ev.items()}})
                improved = key < best
                log(f"val step {step}: " + " ".join(f"{k_} {v_:.4f}" for k_, v_ in ev.items())
                    + (" (best)" if improved else f" (best {best:.4f})"))
                if improved:
                    best = key
                    checkpoint(best_path)
            if step % conf["ckpt_every"] == 0:
                checkpoint(last_path)
            if stop["flag"] or (time_limit_min and time.time() - t_start > time_limit_min * 60):
                raise Stop()
    except Stop:
        log(f"stopping at step {step} (signal or time limit); rerun the same command to resume")
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    checkpoint(last_path)
    if not os.path.exists(best_path):
        checkpoint(best_path)
    log(f"checkpoint {last_path} at step {step}; best val {best:.4f}")
    return {"step": step, "best_val": best, "history": history}


def load_config(path: str | None) -> dict:
    conf = DEFAULT_CONFIG
    if path:
        with open(path) as f:
            conf = merge(DEFAULT_CONFIG, json.load(f))
    return conf


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=None, help="JSON overriding DEFAULT_CONFIG")
    ap.add_argument("--data", required=True, help="RLDS dataset (data_dir, dataset dir or version dir); "
                    "several joined by commas")
    ap.add_argument("--out", required=True, help="run directory (checkpoints; resumes if last.pt exists)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--time-limit-min", type=float, default=0.0, help="stop (with a checkpoint) after M minutes")
    ap.add_argument("--max-steps", type=int, default=0, help="stop at this step in this invocation (schedule unchanged)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--init", default=None, help="warm start: copy matching weights from this checkpoint "
                    "(ignored when --out already has last.pt to resume)")
    args = ap.parse_args(argv)
    conf = load_config(args.config)
    if args.threads:
        conf["threads"] = args.threads
    with open(os.path.join(os.makedirs(args.out, exist_ok=True) or args.out, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    train(conf, args.data, args.out, args.device, args.time_limit_min, args.max_steps, init=args.init)
    return 0


if __name__ == "__main__":
    sys.exit(main())
