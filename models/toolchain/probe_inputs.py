#!/usr/bin/python3
"""Does the trained policy use its inputs? Offline probe on validation episodes:

  /usr/bin/python3 models/toolchain/probe_inputs.py --ckpt runs/ki-flow/best.pt --data DATA [--batches 4]

Normalized MSE of the flow expert's 10-step sample and of the L1 expert against the demonstrated
chunk, with (a) the real inputs, (b) both cameras blanked (uniform gray), (c) the instruction's
colour word swapped to another colour of the same object kind (the demonstration still shows the
original target, so a policy that reads the instruction should get *worse*), (d) the state zeroed
(the normalized mean). Larger error than (a) = the input matters.

Then the grounding probe, on the approach phase where the instruction decides everything: at step
5 of each validation episode (the arm has not moved towards anything yet), how much the L1
expert's chunk changes when the target's colour is swapped to *another object in the scene* of
the same kind (red -> green cube, yellow -> orange ball), next to its error against the
demonstration; and, for the keypoint stem, how far the instruction-query keypoints move on the
image under the same swap and how peaked their spatial softmax is (a grounded keypoint sits on
the named object: low entropy, and it jumps to the other object when the colour is swapped).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fast_tokens as FT  # noqa: E402
import model as M  # noqa: E402
import rlds_data as R  # noqa: E402
import tokenizer as TK  # noqa: E402
import train as T  # noqa: E402

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "white", "black", "gray", "pink", "brown"]


def swap_colour(instr: str, rng) -> str:
    words = instr.split()
    for i, w in enumerate(words):
        if w in COLOURS:
            words[i] = rng.choice([c for c in ("red", "green", "blue", "yellow") if c != w])
            break
    return " ".join(words)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.ckpt, map_location="cpu")
    conf = ck["config"]
    cfg = T.model_config(conf["model"])
    fc = conf["fast"]
    net = T.Trainable(cfg, FT.FastTokenizer(cfg.chunk_length, cfg.action_dim, fc["n_freq"], fc.get("scale", 4.0),
                                            fc.get("max_abs", 127)),
                      fc["head_layers"], T.uses_goal_heads(T.merge(T.DEFAULT_CONFIG, conf)))
    net.load_state_dict(ck["model"])
    net.eval()
    eps = R.load_vlad_dataset(args.data, only_success=conf["data"]["only_success"])
    _, val = R.split_episodes(eps, conf["data"]["val_fraction"], conf["data"]["split_seed"])
    vs = R.SampleSet(val, ck["norm_stats"], cfg.chunk_length, ck["norm_mode"])
    rng = np.random.default_rng(0)
    idx = [rng.integers(0, len(vs), args.batch) for _ in range(args.batches)]
    zero = torch.zeros(M.lora_size(cfg))
    results = {}
    for variant in ("real", "cameras_blank", "colour_swapped", "state_mean"):
        flow, l1 = [], []
        for bi, ix in enumerate(idx):
            b = vs.batch(ix)
            if variant == "cameras_blank":
                b["images"] = np.full_like(b["images"], 128)
            if variant == "colour_swapped":
                b["tokens"] = np.stack([np.asarray(TK.encode(swap_colour(vs.eps[e].instruction, rng), cfg.max_tokens))
                                        for e in b["episode"]])
            if variant == "state_mean":
                b["state"] = np.zeros_like(b["state"])
            tb = T.to_torch(b, "cpu")
            g = torch.Generator().manual_seed(bi)
            flow.append(T.sample_mse(net, tb, 10, g))
            with torch.no_grad():
                kv, pm, _ = M.prefix_encode_batch(net.prefix, tb["images"], tb["tokens"], tb["state"])
                out = net.l1_expert.run(torch.zeros_like(tb["actions"]), None, kv, pm, zero)
            l1.append(float(((out - tb["actions"]) ** 2).mean()))
        results[variant] = (float(np.mean(flow)), float(np.mean(l1)))
        print(f"{variant:15s} flow 10-step sample MSE {results[variant][0]:.4f}   L1 expert MSE {results[variant][1]:.4f}",
              flush=True)
    grounding(net, cfg, val, ck["norm_stats"], ck["norm_mode"])
    return 0


IN_SCENE_SWAP = {"red": "green", "green": "blue", "blue": "red", "yellow": "orange", "orange": "yellow"}


def swap_target(instr: str) -> str:
    """The target's colour -> another object of the same kind that is in every scene."""
    w = instr.split()
    for i, x in enumerate(w[:-1]):
        if x in IN_SCENE_SWAP and w[i + 1] in ("cube", "ball"):
            w[i] = IN_SCENE_SWAP[x]
            break
    return " ".join(w)


def text_keypoints(vision: M.KeypointVision, images: torch.Tensor, tok_emb: torch.Tensor, tokens: torch.Tensor):
    """Expected positions [N, Kt, 2] and softmax entropies [N, Kt] of the instruction-query keypoints."""
    x = images.reshape(-1, *images.shape[2:]).permute(0, 3, 1, 2).to(torch.float32) * (2.0 / 255.0) - 1.0
    logits = vision.keypoint_logits(x, tok_emb, tokens)[1]
    p = torch.softmax(logits, dim=-1)
    return torch.matmul(p, vision.text_grid()), -(p * torch.log_softmax(logits, dim=-1)).sum(-1)


@torch.no_grad()
def grounding(net, cfg, val, stats, mode, step: int = 5, n: int = 40) -> None:
    vs = R.SampleSet(val, stats, cfg.chunk_length, mode)
    zero = torch.zeros(M.lora_size(net.l1_expert.cfg))
    change, err, moved, ent = [], [], [], []
    first = np.concatenate([[0], np.cumsum([e.length for e in val])])
    for i, e in enumerate(val[:n]):
        s = vs.get(int(first[i]) + min(step, e.length - 1))
        toks = torch.from_numpy(np.stack([e.tokens, np.asarray(TK.encode(swap_target(e.instruction), cfg.max_tokens), np.int64)]))
        images = torch.from_numpy(np.stack([s["images"]] * 2))
        state = torch.from_numpy(np.stack([s["state"]] * 2))
        kv, pm, _ = M.prefix_encode_batch(net.prefix, images, toks, state)
        out = net.l1_expert.run(torch.zeros(2, cfg.chunk_length, cfg.action_dim), None, kv, pm, zero)
        change.append(float(((out[0] - out[1]) ** 2).mean()))
        err.append(float(((out[0] - torch.from_numpy(s["actions"])) ** 2).mean()))
        if cfg.vision == "keypoints" and cfg.text_keypoints:
            pos, h = text_keypoints(net.prefix.vision, images, net.prefix.token_emb(toks), toks)
            c = cfg.n_cameras
            moved.append(float((pos[:c] - pos[c:]).norm(dim=-1).mean()))
            ent.append(float(h[:c].mean()))
    print(f"grounding (step {step} of {len(change)} val episodes): L1 expert MSE vs demo {np.mean(err):.4f}; "
          f"mean squared change of its chunk when the target colour is swapped {np.mean(change):.4f}", flush=True)
    if moved:
        hw = cfg.image_hw[0] // 4 * cfg.image_hw[1] // 4 * (4 if cfg.text_keypoint_res == "half" else 1)
        print(f"instruction keypoints: move {np.mean(moved):.3f} image half-widths under the swap; softmax entropy "
              f"{np.mean(ent):.2f} nats (uniform {np.log(hw):.2f})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
