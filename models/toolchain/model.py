"""vlad policy architecture (models/BUNDLE_FORMAT.md): prefix, action expert, energy head.

Everything here is plain torch ops that torch.onnx (opset 17, torch 1.13) exports, and that
functorch can differentiate for the exported train step. Shapes follow the bundle contract:
  prefix : images u8 [1,C,H,W,3], tokens i64 [1,T], state f32 [1,S]
           -> prefix_kv [L,2,1,P,D], prefix_mask [1,P]
  expert : x_t [B,H,A], t [B], prefix_kv, prefix_mask, lora [n] -> out [B,H,A]
           (residual width expert_width E, attention width D: q/k/v project E -> D, o D -> E)
  energy : prefix_kv, prefix_mask, actions [B,H,A] -> energy [B]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# Large negative logit for masked keys; finite so softmax stays NaN-free in float32.
MASK_NEG = -1e9
LORA_TARGETS = ["attn.q", "attn.k", "attn.v", "attn.o", "mlp.up", "mlp.down"]


@dataclass
class ModelConfig:
    width: int = 128
    heads: int = 4
    layers: int = 4
    mlp: int = 256
    n_cameras: int = 2
    image_hw: Tuple[int, int] = (96, 96)
    stem_channels: Tuple[int, int, int] = (16, 32, 64)
    max_tokens: int = 16
    vocab_size: int = 64
    state_dim: int = 7
    action_dim: int = 7
    chunk_length: int = 50
    lora_rank: int = 8
    lora_alpha: float = 16.0
    expert_kind: str = "flow_matching"  # flow_matching | ddim | l1_regression
    energy: bool = False
    # pi0-style decoupled expert: a narrower residual stream (E, MLP) with the prefix's attention
    # geometry (heads x head_dim = width), so its q/k/v join the prefix K/V in one attention.
    # 0 = same as width / mlp.
    expert_width: int = 0
    expert_mlp: int = 0
    # Image tokens: "patches" (conv stem + 2x2 patchify, 36 tokens per 96x96 camera) or
    # "keypoints" (instruction-FiLMed conv stem + spatial softmax: `keypoints` expected (x, y)
    # image positions per camera plus one pooled-feature token). Keypoints give the transformer
    # sub-pixel object positions in a few tokens, which is what a 2-core training budget can learn.
    vision: str = "patches"
    keypoints: int = 16
    # keypoints whose spatial-softmax logits are the dot product of each pixel's features with a
    # query made from the instruction's words: "where is the thing the instruction names"
    text_keypoints: int = 0
    # feature map the instruction-query keypoints read: "quarter" = the FiLMed last conv at 1/4
    # resolution (24x24 for 96x96); "half" = the first conv's features and the RGB at 1/2 (48x48).
    # The scene camera's objects are 2-4 px wide: at 1/4 they blur into their neighbours.
    text_keypoint_res: str = "quarter"
    # the instruction-query keypoints' query from the instruction's mean word embedding as is
    # ("mean"), or centred and scaled over instructions first ("centred", a BatchNorm without
    # affine): the words every instruction shares cancel, so a query cannot settle into a fixed
    # colour detector that ignores the instruction (what "mean" did under the waypoint loss)
    text_query: str = "mean"

    @property
    def e_width(self) -> int:
        return self.expert_width or self.width

    @property
    def e_mlp(self) -> int:
        return self.expert_mlp or self.mlp

    @property
    def tokens_per_camera(self) -> int:
        if self.vision == "keypoints":
            return self.keypoints + self.text_keypoints + 1
        # three stride-2 convs then a 2x2 patchify: 96 -> 48 -> 24 -> 12 -> 6
        h, w = self.image_hw
        return (h // 16) * (w // 16)

    @property
    def prefix_tokens(self) -> int:
        return self.n_cameras * self.tokens_per_camera + self.max_tokens + 1


# The shipped model's sizes (train.py preset "kp-text-hr", build_bundle.py presets kp-flow / kp-l1):
# keypoint vision with 16 free + 4 instruction-query keypoints per camera (those on the
# half-resolution features, centred instruction query), 3 layers.
SHIPPED_SIZE = dict(width=128, heads=4, layers=3, mlp=256, expert_width=64, expert_mlp=128, vision="keypoints",
                    keypoints=16, text_keypoints=4, text_keypoint_res="half", text_query="centred",
                    stem_channels=(16, 32, 32), lora_rank=8, lora_alpha=16.0)


# ---------------------------------------------------------------------------------------------
# LoRA layout: one flat float32 vector. A [r, in] and B [out, r] per expert layer and target,
# ordered part-major, then target, then layer: all A's (q of layers 0..L-1, then k, v, o, up, down),
# then all B's in the same order. Each (part, target) run is then one [L, *, *] block, so the
# graph merges every layer's adapters with one batched matmul per target group.

@dataclass
class LoraEntry:
    name: str
    offset: int
    shape: Tuple[int, int]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]


def lora_dims(cfg: ModelConfig) -> dict:
    """(fan_in, fan_out) per target: q/k/v map the expert width E to the attention width D."""
    d, e, m = cfg.width, cfg.e_width, cfg.e_mlp
    return {"attn.q": (e, d), "attn.k": (e, d), "attn.v": (e, d), "attn.o": (d, e),
            "mlp.up": (e, m), "mlp.down": (m, e)}


def lora_layout(cfg: ModelConfig) -> List[LoraEntry]:
    dims, r = lora_dims(cfg), cfg.lora_rank
    out: List[LoraEntry] = []
    off = 0
    for part in ("A", "B"):
        for target in LORA_TARGETS:
            fan_in, fan_out = dims[target]
            shape = (r, fan_in) if part == "A" else (fan_out, r)
            for layer in range(cfg.layers):
                e = LoraEntry(f"expert.layers.{layer}.{target}.{part}", off, shape)
                out.append(e)
                off += e.size
    return out


def lora_size(cfg: ModelConfig) -> int:
    return sum(e.size for e in lora_layout(cfg))


# Target groups merged by one batched matmul each (q, k, v share their shapes).
LORA_GROUPS = [("attn.q", "attn.k", "attn.v"), ("attn.o",), ("mlp.up",), ("mlp.down",)]


def merged_weights(cfg: ModelConfig, layers, lora: torch.Tensor):
    """Per layer (W_qkv [3D, E], W_o [E, D], W_up [M, E], W_down [E, M]), each W + (alpha/r) B A.

    Merging costs O(out * r * in) per call whatever the batch, and leaves one matmul per
    projection on the activations. The zero vector adds exact zeros: the base model bit for bit.
    """
    L, r, dims = cfg.layers, cfg.lora_rank, lora_dims(cfg)
    scale = cfg.lora_alpha / cfg.lora_rank
    sizes = [len(g) * L * r * dims[g[0]][0] for g in LORA_GROUPS] + \
            [len(g) * L * r * dims[g[0]][1] for g in LORA_GROUPS]
    # torch.split, not slicing: its backward is a concat, which the ONNX exporter supports
    # (slice_backward is not exportable in torch 1.13).
    chunks = torch.split(lora, sizes)
    base = {  # stacked like the layout (target-major, then layer); constant-folded at export
        "attn.q": [blk.qkv.weight[: cfg.width] for blk in layers],
        "attn.k": [blk.qkv.weight[cfg.width: 2 * cfg.width] for blk in layers],
        "attn.v": [blk.qkv.weight[2 * cfg.width:] for blk in layers],
        "attn.o": [blk.o.weight for blk in layers], "mlp.up": [blk.up.weight for blk in layers],
        "mlp.down": [blk.down.weight for blk in layers]}
    out = []
    for gi, group in enumerate(LORA_GROUPS):
        fan_in, fan_out = dims[group[0]]
        n = len(group) * L
        a = chunks[gi].reshape(n, r, fan_in)
        b = chunks[len(LORA_GROUPS) + gi].reshape(n, fan_out, r)
        w = torch.stack([w for t in group for w in base[t]]) + scale * torch.matmul(b, a)
        if len(group) == 3:  # [3L, D, E] (target-major) -> per layer [3D, E] = q ++ k ++ v rows
            w = w.reshape(3, L, fan_out, fan_in).transpose(0, 1).reshape(L, 3 * fan_out, fan_in)
        out.append(torch.unbind(w))
    return list(zip(*out))


# ---------------------------------------------------------------------------------------------
# Attention helpers. K/V are kept with heads concatenated along D (the prefix_kv layout).

def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = x.shape[0], x.shape[1], x.shape[2]
    return x.reshape(b, n, heads, d // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, n, dh = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    return x.transpose(1, 2).reshape(b, n, h * dh)


def key_bias(mask: torch.Tensor) -> torch.Tensor:
    """[Bm, P] 1/0 mask -> additive logits bias [Bm, 1, 1, P]."""
    return ((1.0 - mask) * MASK_NEG).unsqueeze(1).unsqueeze(1)


def joint_attention(q, k_self, v_self, k_pre, v_pre, pre_mask, heads):
    """pi0 joint attention: queries attend to (masked prefix keys) ++ (own keys).

    q/k_self/v_self: [B, N, D]; k_pre/v_pre: [Bp, P, D] with Bp in {1, B} (MatMul broadcasts
    a batch-1 prefix over B candidates without copying); pre_mask: [Bp, P].
    """
    qh, ksh, vsh = split_heads(q, heads), split_heads(k_self, heads), split_heads(v_self, heads)
    kph, vph = split_heads(k_pre, heads), split_heads(v_pre, heads)
    scale = 1.0 / math.sqrt(qh.shape[-1])
    s_pre = torch.matmul(qh, kph.transpose(-1, -2)) * scale + key_bias(pre_mask)
    s_self = torch.matmul(qh, ksh.transpose(-1, -2)) * scale
    p_len = k_pre.shape[1]
    attn = torch.softmax(torch.cat([s_pre, s_self], dim=-1), dim=-1)
    a_pre, a_self = torch.split(attn, [p_len, attn.shape[-1] - p_len], dim=-1)
    out = torch.matmul(a_pre, vph) + torch.matmul(a_self, vsh)
    return merge_heads(out)


def init_linear(lin: nn.Linear, gain: float = 1.0) -> nn.Linear:
    # Order-1 activations through random layers: std 1/sqrt(fan_in), small random bias.
    nn.init.normal_(lin.weight, 0.0, gain / math.sqrt(lin.in_features))
    if lin.bias is not None:
        nn.init.normal_(lin.bias, 0.0, 0.02)
    return lin


class Block(nn.Module):
    """Pre-norm transformer block parameters (q,k,v,o + 2-layer GELU MLP)."""

    def __init__(self, d: int, mlp: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.q = init_linear(nn.Linear(d, d))
        self.k = init_linear(nn.Linear(d, d))
        self.v = init_linear(nn.Linear(d, d))
        self.o = init_linear(nn.Linear(d, d), 0.5)
        self.ln2 = nn.LayerNorm(d)
        self.up = init_linear(nn.Linear(d, mlp))
        self.down = init_linear(nn.Linear(mlp, d), 0.5)
        for ln in (self.ln1, self.ln2):  # non-trivial affine so the golden checks exercise it
            nn.init.normal_(ln.weight, 1.0, 0.1)
            nn.init.normal_(ln.bias, 0.0, 0.05)


class ExpertBlock(nn.Module):
    """Pre-norm block on the expert's residual width E with attention width D (pi0's expert):
    fused qkv E -> 3D, o D -> E, GELU MLP E -> M -> E."""

    def __init__(self, e: int, d: int, mlp: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(e)
        self.qkv = init_linear(nn.Linear(e, 3 * d))
        self.o = init_linear(nn.Linear(d, e), 0.5)
        self.ln2 = nn.LayerNorm(e)
        self.up = init_linear(nn.Linear(e, mlp))
        self.down = init_linear(nn.Linear(mlp, e), 0.5)
        for ln in (self.ln1, self.ln2):
            nn.init.normal_(ln.weight, 1.0, 0.1)
            nn.init.normal_(ln.bias, 0.0, 0.05)


# ---------------------------------------------------------------------------------------------

class Prefix(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        c1, c2, c3 = cfg.stem_channels
        if cfg.vision == "keypoints":
            self.vision = KeypointVision(cfg)
        elif cfg.vision != "patches":
            raise ValueError(f"unknown vision {cfg.vision!r} (patches | keypoints)")
        self.stem = nn.ModuleList([] if cfg.vision == "keypoints" else [
            nn.Conv2d(3, c1, 3, stride=2, padding=1),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),
        ])
        self.patchify = nn.Conv2d(c3, d, 2, stride=2) if cfg.vision == "patches" else None
        for conv in list(self.stem) + ([self.patchify] if self.patchify is not None else []):
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / fan_in))
            nn.init.normal_(conv.bias, 0.0, 0.02)
        self.camera_emb = nn.Parameter(torch.randn(cfg.n_cameras, 1, d) * 0.5)
        self.patch_pos = nn.Parameter(torch.randn(1, cfg.tokens_per_camera, d) * 0.5) if cfg.vision == "patches" else None
        self.token_emb = nn.Embedding(cfg.vocab_size, d)
        nn.init.normal_(self.token_emb.weight, 0.0, 1.0)
        self.token_pos = nn.Parameter(torch.randn(1, cfg.max_tokens, d) * 0.5)
        self.state_proj = init_linear(nn.Linear(cfg.state_dim, d))
        self.layers = nn.ModuleList([Block(d, cfg.mlp) for _ in range(cfg.layers)])

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, state: torch.Tensor):
        cfg = self.cfg
        if cfg.vision == "keypoints":  # one code path for export (batch 1) and training
            kv, mask, _ = prefix_encode_batch(self, images, tokens, state)
            return kv, mask
        c = cfg.n_cameras
        h, w = cfg.image_hw
        # uint8 HWC -> float CHW in [-1, 1]; the cameras share the stem as one batch.
        x = images.reshape(c, h, w, 3).permute(0, 3, 1, 2).to(torch.float32) * (2.0 / 255.0) - 1.0
        for conv in self.stem:
            x = F.gelu(conv(x))
        x = self.patchify(x)  # [C, D, h/16, w/16]
        x = x.flatten(2).transpose(1, 2) + self.camera_emb + self.patch_pos  # [C, Tc, D]
        img_tokens = x.reshape(1, c * cfg.tokens_per_camera, cfg.width)
        txt_tokens = self.token_emb(tokens) + self.token_pos
        state_token = self.state_proj(state).unsqueeze(1)
        x = torch.cat([img_tokens, txt_tokens, state_token], dim=1)  # [1, P, D]

        txt_mask = (tokens != 0).to(torch.float32)
        ones_img = torch.ones(1, c * cfg.tokens_per_camera, dtype=torch.float32)
        ones_state = torch.ones(1, 1, dtype=torch.float32)
        mask = torch.cat([ones_img, txt_mask, ones_state], dim=1)  # [1, P]

        kvs = []
        for blk in self.layers:
            hn = blk.ln1(x)
            k, v = blk.k(hn), blk.v(hn)
            kvs.append(torch.stack([k, v], dim=0))
            q = blk.q(hn)
            att = self_attention(q, k, v, mask, cfg.heads)
            x = x + blk.o(att)
            x = x + blk.down(F.gelu(blk.up(blk.ln2(x))))
        return torch.stack(kvs, dim=0), mask  # [L, 2, 1, P, D], [1, P]


def prefix_encode_batch(prefix: "Prefix", images: torch.Tensor, tokens: torch.Tensor, state: torch.Tensor,
                        aux: dict | None = None):
    """Training-side batched prefix (the exported graph is Prefix.forward at batch 1; the same ops).

    images [B, C, H, W, 3] (uint8 or float in 0..255), tokens [B, T], state [B, S]
    -> prefix_kv [L, 2, B, P, D], prefix_mask [B, P], and the last layer's output x [B, P, D]
    (what the FAST token head reads). With `aux` (a dict) and keypoint vision, aux["keypoints"]
    gets every keypoint's expected image position [B, C, K + Kt, 2] (training's waypoint head) and
    aux["text_logits"] the instruction keypoints' logits [B, C, Kt, hw] (its locate loss)."""
    cfg = prefix.cfg
    b, c = images.shape[0], cfg.n_cameras
    h, w = cfg.image_hw
    x = images.reshape(b * c, h, w, 3).permute(0, 3, 1, 2).to(torch.float32) * (2.0 / 255.0) - 1.0
    if cfg.vision == "keypoints":
        x, pos = prefix.vision.encode(x, prefix.token_emb(tokens), tokens, aux)  # [B*C, Tc, D]
        if aux is not None:
            aux["keypoints"] = pos.reshape(b, c, pos.shape[1], 2)
            if "text_logits" in aux:
                aux["text_logits"] = aux["text_logits"].reshape(b, c, *aux["text_logits"].shape[1:])
        x = x.reshape(b, c, cfg.tokens_per_camera, cfg.width) + prefix.camera_emb.unsqueeze(0)
    else:
        for conv in prefix.stem:
            x = F.gelu(conv(x))
        x = prefix.patchify(x)
        x = x.flatten(2).transpose(1, 2).reshape(b, c, cfg.tokens_per_camera, cfg.width)
        x = x + prefix.camera_emb.unsqueeze(0) + prefix.patch_pos.unsqueeze(0)
    x = x.reshape(b, c * cfg.tokens_per_camera, cfg.width)
    txt = prefix.token_emb(tokens) + prefix.token_pos
    x = torch.cat([x, txt, prefix.state_proj(state).unsqueeze(1)], dim=1)
    mask = torch.cat([torch.ones(b, c * cfg.tokens_per_camera, device=x.device), (tokens != 0).to(torch.float32),
                      torch.ones(b, 1, device=x.device)], dim=1)
    kvs = []
    for blk in prefix.layers:
        hn = blk.ln1(x)
        k, v = blk.k(hn), blk.v(hn)
        kvs.append(torch.stack([k, v], dim=0))
        x = x + blk.o(self_attention(blk.q(hn), k, v, mask, cfg.heads))
        x = x + blk.down(F.gelu(blk.up(blk.ln2(x))))
    return torch.stack(kvs, dim=0), mask, x


class KeypointVision(nn.Module):
    """Instruction-conditioned conv stem -> spatial-softmax keypoints (Levine et al. 2016), FiLM
    as in RT-1: the instruction's mean token embedding scales and shifts the mid-level feature
    maps, so the keypoint channels can follow the named object.

    x [N, 3, H, W] in [-1, 1] (N = B * cameras, camera-major within a sample), token embeddings
    [B, T, D], tokens [B, T] -> [N, K + 1, D]: one token per keypoint (Fourier features of its
    expected (x, y) plus a learned keypoint embedding) and one pooled-feature token.
    With `text_keypoints` > 0, that many more keypoints whose logits are <query, pixel features>
    for queries linear in the instruction's words (mean over its tokens): the instruction points
    straight at the pixels of the object it names, a short gradient path that the FiLM route
    alone did not learn within a CPU budget.
    """

    FREQS = (1.0, 2.0, 4.0, 8.0)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c1, c2, c3 = cfg.stem_channels
        d, k = cfg.width, cfg.keypoints
        self.n_cameras = cfg.n_cameras
        # half resolution first: 96 -> 48 keeps every object a few pixels wide at a quarter the cost
        self.conv1 = nn.Conv2d(3, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.kp = nn.Conv2d(c3, k, 1)
        for conv in (self.conv1, self.conv2, self.conv3, self.kp):
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / fan_in))
            nn.init.normal_(conv.bias, 0.0, 0.02)
        self.film = init_linear(nn.Linear(d, 2 * c2), 0.1)
        h, w = cfg.image_hw[0] // 4, cfg.image_hw[1] // 4
        ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, h), torch.linspace(-1.0, 1.0, w), indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))  # [HW, 2]
        self.register_buffer("freqs", torch.tensor(self.FREQS) * math.pi)
        self.kp_proj = init_linear(nn.Linear(4 * len(self.FREQS), d))
        self.kp_emb = nn.Parameter(torch.randn(1, k, d) * 0.5)
        self.pool_proj = init_linear(nn.Linear(c3, d))
        self.n_text = cfg.text_keypoints
        self.text_half = cfg.text_keypoint_res == "half"
        if cfg.text_keypoint_res not in ("quarter", "half"):
            raise ValueError(f"unknown text_keypoint_res {cfg.text_keypoint_res!r} (quarter | half)")
        if cfg.text_query not in ("mean", "centred"):
            raise ValueError(f"unknown text_query {cfg.text_query!r} (mean | centred)")
        if self.n_text:
            centred = cfg.text_query == "centred"
            self.text_centre = nn.BatchNorm1d(d, affine=False, momentum=0.02) if centred else None
            self.text_query = init_linear(nn.Linear(d, self.n_text * (c1 + 3 if self.text_half else c3), bias=not centred))
            self.text_kp_emb = nn.Parameter(torch.randn(1, self.n_text, d) * 0.5)
            if self.text_half:
                ys, xs = torch.meshgrid(torch.linspace(-1.0, 1.0, 2 * h), torch.linspace(-1.0, 1.0, 2 * w), indexing="ij")
                self.register_buffer("grid_text", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1))

    def _per_image(self, v: torch.Tensor) -> torch.Tensor:
        """[B, n] per sample -> [B * cameras, n], one row per camera image (camera-major)."""
        return v.unsqueeze(1).expand(v.shape[0], self.n_cameras, v.shape[1]).reshape(-1, v.shape[1])

    def text_grid(self) -> torch.Tensor:
        return self.grid_text if self.text_half else self.grid

    def keypoint_logits(self, x: torch.Tensor, tok_emb: torch.Tensor, tokens: torch.Tensor):
        """Spatial-softmax logits of the free keypoints [N, K, hw], of the instruction-query ones
        [N, Kt, hw or 4hw] (None without them; positions on `text_grid()`), and the last feature
        maps [N, c3, h, w]."""
        rgb = F.avg_pool2d(x, 2)
        x = F.gelu(self.conv1(rgb))
        early = torch.cat([x, rgb], dim=1)
        x = self.conv2(x)
        valid = (tokens != 0).to(torch.float32).unsqueeze(-1)
        text = (tok_emb * valid).sum(1) / valid.sum(1).clamp(min=1.0)  # [B, D]
        gamma, beta = torch.chunk(self._per_image(self.film(text)), 2, dim=-1)
        x = F.gelu(x * (1.0 + gamma.unsqueeze(-1).unsqueeze(-1)) + beta.unsqueeze(-1).unsqueeze(-1))
        x = F.gelu(self.conv3(x))
        logits = self.kp(x).flatten(2)  # [N, K, HW]
        text_logits = None
        if self.n_text:
            feats = (early if self.text_half else x).flatten(2)  # [N, c, HW]
            qt = self.text_centre(text) if self.text_centre is not None else text
            q = self._per_image(self.text_query(qt)).reshape(-1, self.n_text, feats.shape[1])  # [N, Kt, c]
            text_logits = torch.matmul(q, feats)
        return logits, text_logits, x

    def forward(self, x: torch.Tensor, tok_emb: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self.encode(x, tok_emb, tokens)[0]

    def encode(self, x: torch.Tensor, tok_emb: torch.Tensor, tokens: torch.Tensor, aux: dict | None = None):
        """-> tokens [N, K(+Kt) + 1, D] and the keypoints' expected (x, y) in [-1, 1] [N, K(+Kt), 2].
        With `aux`, aux["text_logits"] gets the instruction keypoints' logits [N, Kt, hw] (training's
        locate loss)."""
        logits, text_logits, x = self.keypoint_logits(x, tok_emb, tokens)
        if aux is not None and text_logits is not None:
            aux["text_logits"] = text_logits
        emb = torch.cat([self.kp_emb, self.text_kp_emb], dim=1) if self.n_text else self.kp_emb
        pos = torch.matmul(torch.softmax(logits, dim=-1), self.grid)  # [N, K, 2] expected (x, y)
        if text_logits is not None:
            pos = torch.cat([pos, torch.matmul(torch.softmax(text_logits, dim=-1), self.text_grid())], dim=1)
        arg = pos.unsqueeze(-1) * self.freqs  # [N, K, 2, F]
        four = torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1).flatten(2)  # [N, K, 4F]
        kp_tokens = self.kp_proj(four) + emb
        pooled = self.pool_proj(x.mean(dim=(2, 3))).unsqueeze(1)  # [N, 1, D]
        return torch.cat([kp_tokens, pooled], dim=1), pos


def self_attention(q, k, v, mask, heads):
    qh, kh, vh = split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)
    s = torch.matmul(qh, kh.transpose(-1, -2)) * (1.0 / math.sqrt(qh.shape[-1])) + key_bias(mask)
    return merge_heads(torch.matmul(torch.softmax(s, dim=-1), vh))


def time_frequencies(dim: int, min_period: float = 4e-3, max_period: float = 4.0) -> torch.Tensor:
    """pi0's sinusoidal time embedding frequencies (2*pi/period), [dim/2]."""
    frac = torch.linspace(0.0, 1.0, dim // 2, dtype=torch.float64)
    return (2.0 * math.pi / (min_period * (max_period / min_period) ** frac)).to(torch.float32)


def sinusoidal(t: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """t in [0, 1], [B] -> [B, 2 * len(freqs)]."""
    arg = t.unsqueeze(-1) * freqs.unsqueeze(0)
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class Expert(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        e = cfg.e_width
        self.action_in = init_linear(nn.Linear(cfg.action_dim, e))
        self.pos = nn.Parameter(torch.randn(1, cfg.chunk_length, e) * 0.5)
        if cfg.expert_kind == "l1_regression":
            self.queries = nn.Parameter(torch.randn(1, cfg.chunk_length, e))
        else:
            self.register_buffer("time_freqs", time_frequencies(e))
            self.time_mlp1 = init_linear(nn.Linear(e, e))
            self.time_mlp2 = init_linear(nn.Linear(e, e))
        self.layers = nn.ModuleList([ExpertBlock(e, cfg.width, cfg.e_mlp) for _ in range(cfg.layers)])
        self.ln_out = nn.LayerNorm(e)
        self.action_out = init_linear(nn.Linear(e, cfg.action_dim))

    def tokens(self, x_t: torch.Tensor, t: torch.Tensor | None) -> torch.Tensor:
        x = self.action_in(x_t) + self.pos
        if self.cfg.expert_kind == "l1_regression":
            return x + self.queries
        temb = self.time_mlp2(F.silu(self.time_mlp1(sinusoidal(t, self.time_freqs))))
        return x + temb.unsqueeze(1)

    def run(self, x_t, t, prefix_kv, prefix_mask, lora):
        cfg = self.cfg
        L, heads, d, n, e = cfg.layers, cfg.heads, cfg.width, cfg.chunk_length, cfg.e_width
        hd = d // heads
        weights = merged_weights(cfg, self.layers, lora)
        x = self.tokens(x_t, t)
        b = x.shape[0]
        # The residual stream stays 2-D [B*N, E] so every projection is one Gemm with its bias.
        x = x.reshape(-1, e)
        # Once per call, not per layer: every layer's prefix K/V split into heads (one Transpose),
        # broadcast to the B candidates, and the additive mask over prefix ++ own keys.
        bp, p_len = prefix_kv.shape[2], prefix_kv.shape[3]
        pkv = prefix_kv.reshape(L * 2 * bp, p_len, heads, hd).transpose(1, 2)
        pkv = pkv.reshape(L, 2, bp, heads, p_len, hd).expand(L, 2, b, heads, p_len, hd)
        bias = torch.cat([key_bias(prefix_mask), torch.zeros(bp, 1, 1, n)], dim=-1)
        scale = 1.0 / math.sqrt(hd)
        for l, blk in enumerate(self.layers):
            w_qkv, w_o, w_up, w_down = weights[l]
            qkv = F.linear(blk.ln1(x), w_qkv, blk.qkv.bias)  # [B*N, 3D]
            qkv = qkv.reshape(-1, n, 3 * heads, hd).transpose(1, 2)  # [B, 3h, N, hd]
            q, k, v = torch.split(qkv, [heads, heads, heads], dim=1)
            # pi0 joint attention: the action queries see prefix layer l's (masked) keys ++ their own.
            k_all = torch.cat([pkv[l, 0], k], dim=2)
            v_all = torch.cat([pkv[l, 1], v], dim=2)
            s = torch.matmul(q, k_all.transpose(-1, -2)) * scale + bias
            att = torch.matmul(torch.softmax(s, dim=-1), v_all)  # [B, h, N, hd]
            att = att.transpose(1, 2).reshape(-1, d)
            x = x + F.linear(att, w_o, blk.o.bias)
            up = F.linear(blk.ln2(x), w_up, blk.up.bias)
            x = x + F.linear(F.gelu(up), w_down, blk.down.bias)
        return self.action_out(self.ln_out(x)).reshape(-1, n, cfg.action_dim)

    def flow_loss(self, lora, prefix_kv, prefix_mask, actions, noise, t):
        """Flow-matching MSE: x_t = t*noise + (1-t)*a, target v = noise - a."""
        tt = t.reshape(-1, 1, 1)
        x_t = tt * noise + (1.0 - tt) * actions
        v = self.run(x_t, t, prefix_kv, prefix_mask, lora)
        return torch.mean((v - (noise - actions)) ** 2)


class Energy(nn.Module):
    """One joint-attention block over the chunk and the last prefix layer's K/V -> scalar."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.action_in = init_linear(nn.Linear(cfg.action_dim, d))
        self.pos = nn.Parameter(torch.randn(1, cfg.chunk_length, d) * 0.5)
        self.block = Block(d, cfg.mlp)
        self.ln_out = nn.LayerNorm(d)
        self.head = init_linear(nn.Linear(d, 1))

    def forward(self, prefix_kv, prefix_mask, actions):
        blk = self.block
        x = self.action_in(actions) + self.pos
        hn = blk.ln1(x)
        att = joint_attention(blk.q(hn), blk.k(hn), blk.v(hn), prefix_kv[-1, 0], prefix_kv[-1, 1],
                              prefix_mask, self.cfg.heads)
        x = x + blk.o(att)
        x = x + blk.down(F.gelu(blk.up(blk.ln2(x))))
        return self.head(self.ln_out(x).mean(dim=1)).squeeze(-1)  # [B]


# ---------------------------------------------------------------------------------------------
# Export wrappers: fixed argument order = the graph's input order in the manifest.

class ExpertGraph(nn.Module):
    def __init__(self, expert: Expert):
        super().__init__()
        self.expert = expert

    def forward(self, x_t, t, prefix_kv, prefix_mask, lora):
        return self.expert.run(x_t, t, prefix_kv, prefix_mask, lora)


class L1ExpertGraph(nn.Module):
    def __init__(self, expert: Expert):
        super().__init__()
        self.expert = expert

    def forward(self, x_t, prefix_kv, prefix_mask, lora):
        return self.expert.run(x_t, None, prefix_kv, prefix_mask, lora)


class LossGraph(nn.Module):
    def __init__(self, expert: Expert):
        super().__init__()
        self.expert = expert

    def forward(self, lora, prefix_kv, prefix_mask, actions, noise, t):
        return self.expert.flow_loss(lora, prefix_kv, prefix_mask, actions, noise, t)


@dataclass
class Policy:
    cfg: ModelConfig
    prefix: Prefix
    expert: Expert
    energy: Energy | None = None


def build_policy(cfg: ModelConfig, seed: int) -> Policy:
    torch.manual_seed(seed)
    prefix = Prefix(cfg).eval()
    expert = Expert(cfg).eval()
    energy = Energy(cfg).eval() if cfg.energy else None
    for m in (prefix, expert, energy):
        if m is not None:
            for p in m.parameters():
                p.requires_grad_(False)
                # fp16-representable values: the bundle stores them as fp16 losslessly (compact.py).
                p.copy_(p.half().float())
    return Policy(cfg, prefix, expert, energy)


def param_count(m: nn.Module | None) -> int:
    return 0 if m is None else sum(p.numel() for p in m.parameters())
