"""The PyTorch reference for `vlad bench train`: the same LoRA train step as the bundle's
train_step.onnx (flow-matching loss of the expert over cached prefix outputs, gradient w.r.t. the
LoRA vector, global-norm clipping, AdamW), on the same machine, at the same batch and thread count,
timed in steps/s. Two ways PyTorch users would run it:

  eager     autograd + torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW (export.eager_adamw_step's
            recipe, the optimizer kept across steps)
  functorch the functional step the ONNX graph is traced from (export.make_train_step), eager

    /usr/bin/python3 models/toolchain/bench_train_step.py [--weights models/weights/vlad-base.pt]
        [--batch 8] [--steps 200] [--threads 1]

Prints one JSON object. Inputs are real prefix outputs (the trained prefix on random images and
instructions), random actions, noise and t: the step's cost does not depend on their values.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_bundle as BB  # noqa: E402
import export as X  # noqa: E402
import model as M  # noqa: E402
import tokenizer as TK  # noqa: E402


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(here, "..", "weights", "vlad-base.pt"))
    ap.add_argument("--preset", default="kp-flow", choices=[k for k, p in BB.PRESETS.items() if p["training"]])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (vlad's trainer runs ORT at 1)")
    args = ap.parse_args(argv)
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--batch, --steps and --threads must be >= 1, --warmup >= 0")
    torch.set_num_threads(args.threads)
    preset = BB.PRESETS[args.preset]
    vocab = TK.vocab()
    cfg = M.ModelConfig(vocab_size=len(vocab), **preset["model"])
    policy = M.build_policy(cfg, 0)
    if args.weights:
        BB.load_weights(policy, args.weights)
    gen = torch.Generator().manual_seed(0)
    B, H, A = args.batch, cfg.chunk_length, cfg.action_dim
    kv, mask = BB.prefix_batch(policy, len(vocab), B, gen)
    loss_inputs = [kv, mask, torch.randn(B, H, A, generator=gen),
                   torch.randn(B, H, A, generator=gen), torch.rand(B, generator=gen)]
    n_lora = M.lora_size(cfg)
    opt_cfg = X.AdamW()
    lr = 3e-4

    def timed(step_fn) -> dict:
        ms = []
        for k in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            step_fn()
            if k >= args.warmup:
                ms.append((time.perf_counter() - t0) * 1e3)
        return {"steps_per_s": round(1e3 * len(ms) / sum(ms), 2), "ms_per_step_p50": round(statistics.median(ms), 3),
                "ms_per_step_min": round(min(ms), 3)}

    # eager: the LoRA vector as a Parameter, autograd, clip, torch.optim.AdamW
    p = torch.nn.Parameter(torch.zeros(n_lora))
    opt = torch.optim.AdamW([p], lr=lr, betas=(opt_cfg.beta1, opt_cfg.beta2), eps=opt_cfg.eps,
                            weight_decay=opt_cfg.weight_decay)
    policy.expert.requires_grad_(False)

    def eager_step():
        opt.zero_grad(set_to_none=True)
        loss = policy.expert.flow_loss(p, *loss_inputs)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p], opt_cfg.grad_clip)
        opt.step()

    # functorch: the function train_step.onnx is traced from, with its explicit state
    step_fn = X.make_train_step(policy.expert, opt_cfg)
    state = {"lora": torch.zeros(n_lora), "m": torch.zeros(n_lora), "v": torch.zeros(n_lora), "step": torch.zeros(1)}
    lr_t = torch.tensor([lr])

    def functorch_step():
        lo, m, v, st, _ = step_fn(state["lora"], state["m"], state["v"], state["step"], lr_t, *loss_inputs)
        state.update(lora=lo, m=m, v=v, step=st)

    report = {
        "torch": torch.__version__, "preset": args.preset, "weights": os.path.relpath(args.weights) if args.weights else None,
        "batch": B, "threads": args.threads, "steps": args.steps, "lora_values": n_lora,
        "eager": timed(eager_step), "functorch": timed(functorch_step),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
