#!/usr/bin/python3
"""Tests of the training recipe on the tiny model with synthetic episodes (~1 min on 2 cores):
knowledge insulation, resume after interruption (bit-exact), export from saved weights.
Run: /usr/bin/python3 models/toolchain/test_train.py"""
from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_bundle as BB  # noqa: E402
import fast_tokens as FT  # noqa: E402
import model as M  # noqa: E402
import pack_weights as PW  # noqa: E402
import rlds_data as R  # noqa: E402
import tokenizer as TK  # noqa: E402
import train as T  # noqa: E402


def png(arr: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def synthetic_episodes(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        T_ = int(rng.integers(20, 40))
        colour = ["red", "green", "blue"][i % 3]
        imgs = {c: [png(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)) for _ in range(T_)] for c in ("scene", "wrist")}
        state = np.cumsum(rng.normal(0, 0.02, (T_, 7)), 0).astype(np.float32)
        eps.append(R.Episode(f"ep{i}", f"pick up the {colour} cube",
                             np.asarray(TK.encode(f"pick up the {colour} cube", 16), np.int64), imgs, state,
                             np.roll(state, -1, 0), True))
    return eps


TINY_CONF = T.merge(T.DEFAULT_CONFIG, {
    "model": "tiny", "batch": 4, "flow_samples": 2, "energy_contexts": 3, "steps": 6, "eval_every": 3,
    "ckpt_every": 2, "log_every": 2, "val_batches": 1, "data": {"val_fraction": 0.25},
    "optimizer": {"warmup_steps": 2}, "fast": {"head_layers": 1}})


class KnowledgeInsulation(unittest.TestCase):
    def grads(self, lambdas: dict, stop: bool):
        torch.manual_seed(0)
        cfg = T.model_config("tiny")
        tok = FT.FastTokenizer()
        net = T.Trainable(cfg, tok, 1)
        eps = synthetic_episodes(2)
        ss = R.SampleSet(eps, R.norm_stats(eps, 50), 50)
        b = ss.batch([0, 5, 30, 40])
        conf = T.merge(TINY_CONF, {"lambdas": lambdas, "ki_stop_gradient": stop})
        ls = T.compute_losses(net, T.to_torch(b, "cpu"), conf, torch.from_numpy(tok.encode(b["actions"])),
                              torch.Generator().manual_seed(0), True)
        ls["total"].backward()
        norm = lambda m: sum(float(p.grad.abs().sum()) for p in m.parameters() if p.grad is not None)
        return norm(net.prefix), norm(net.expert), norm(net.fast_head), ls

    def test_expert_losses_never_reach_the_prefix(self):
        zero = {"fast": 0.0, "flow": 1.0, "energy": 1.0, "l1_expert": 1.0, "l1": 1.0}
        pre, exp, _, ls = self.grads(zero, stop=True)
        self.assertEqual(pre, 0.0)
        self.assertGreater(exp, 0.0)
        for k in ("flow", "energy", "l1_expert", "l1"):
            self.assertTrue(torch.isfinite(ls[k]))
        pre_open, _, _, _ = self.grads(zero, stop=False)  # without KI the same losses do reach it
        self.assertGreater(pre_open, 0.0)

    def test_fast_loss_trains_the_prefix_not_the_expert(self):
        pre, exp, head, ls = self.grads({"fast": 1.0, "flow": 0.0, "energy": 0.0, "l1_expert": 0.0}, stop=True)
        self.assertGreater(pre, 0.0)
        self.assertGreater(head, 0.0)
        self.assertEqual(exp, 0.0)
        self.assertAlmostEqual(float(ls["fast"]), np.log(255), delta=2.0)  # ~uniform at init

    def test_waypoint_heads_train_the_instruction_keypoints_not_the_experts(self):
        torch.manual_seed(0)
        cfg = T.model_config("tiny-kp")
        tok = FT.FastTokenizer()
        net = T.Trainable(cfg, tok, 1, goal_heads=True)
        eps = synthetic_episodes(2)
        ss = R.SampleSet(eps, R.norm_stats(eps, 50), 50)
        b = ss.batch([0, 5, 30, 40])
        lam = {"fast": 0.0, "flow": 0.0, "energy": 0.0, "l1_expert": 0.0, "goal_kp": 1.0, "goal_ctx": 0.0}
        conf = T.merge(TINY_CONF, {"model": "tiny-kp", "lambdas": lam})
        ls = T.compute_losses(net, T.to_torch(b, "cpu"), conf, torch.from_numpy(tok.encode(b["actions"])),
                              torch.Generator().manual_seed(0), True)
        self.assertGreater(float(ls["goal_kp"]), 0.0)
        ls["total"].backward()
        grad = lambda m: sum(float(p.grad.abs().sum()) for p in m.parameters() if p.grad is not None)
        self.assertGreater(grad(net.prefix.vision.text_query), 0.0)  # through the keypoints' positions
        self.assertEqual(grad(net.prefix.vision.kp), 0.0)  # the free keypoints are not its input
        self.assertEqual(grad(net.expert) + grad(net.l1_expert), 0.0)
        with self.assertRaisesRegex(ValueError, "instruction-query keypoints"):
            T.Trainable(T.model_config("tiny"), tok, 1, goal_heads=True)

    def test_locate_loss_is_minimal_on_the_label_and_trains_only_the_instruction_keypoints(self):
        r, size = 48, 96
        uv = torch.tensor([[[[37.0, 51.0], [11.0, 81.0]]]])  # [B=1, C=1, 2 labels, (x, y)] pixels, at cell centres
        valid = torch.ones(1, 1, 2)
        logits = torch.zeros(1, 1, 3, r * r)
        for j, (x, y) in enumerate(uv[0, 0].tolist()):  # peak on the cell whose centre is the label
            logits[0, 0, j, int(y // 2) * r + int(x // 2)] = 40.0
        ce, px = T.locate_losses(logits, uv, valid, size)
        self.assertLess(float(px), 1.0)
        self.assertLess(float(ce), 1.0)
        ce_off, px_off = T.locate_losses(logits.roll(5, dims=-1), uv, valid, size)  # 5 cells to the right
        self.assertGreater(float(ce_off), 10.0)
        self.assertAlmostEqual(float(px_off), 10.0, delta=1.0)
        self.assertEqual(float(T.locate_losses(logits, uv, torch.zeros(1, 1, 2), size)[0]), 0.0)  # no label
        # through the model: reaches the instruction keypoints' query, no expert, no free keypoint
        torch.manual_seed(0)
        cfg = T.model_config("tiny-kp")
        tok = FT.FastTokenizer()
        net = T.Trainable(cfg, tok, 1)
        eps = synthetic_episodes(2)
        b = T.to_torch(R.SampleSet(eps, R.norm_stats(eps, 50), 50).batch([0, 5, 30, 40]), "cpu")
        b["locate_uv"] = torch.full((4, 2, 2, 2), 40.0)
        b["locate_valid"] = torch.ones(4, 2, 2)
        lam = {"fast": 0.0, "flow": 0.0, "energy": 0.0, "l1_expert": 0.0, "locate": 1.0}
        ls = T.compute_losses(net, b, T.merge(TINY_CONF, {"model": "tiny-kp", "lambdas": lam}),
                              torch.from_numpy(tok.encode(b["actions"].numpy())), torch.Generator().manual_seed(0), True)
        ls["total"].backward()
        grad = lambda m: sum(float(p.grad.abs().sum()) for p in m.parameters() if p.grad is not None)
        self.assertGreater(grad(net.prefix.vision.text_query), 0.0)
        self.assertEqual(grad(net.prefix.vision.kp) + grad(net.expert) + grad(net.l1_expert), 0.0)

    def test_shift_augmentation_reports_how_far_the_content_moved(self):
        img = torch.zeros(3, 2, 96, 96, 3, dtype=torch.uint8)
        img[:, :, 40, 30] = 255  # one bright pixel at (x 30, y 40) in every image
        shifts: list = []
        out = T.augment(img, {"shift": 4}, torch.Generator().manual_seed(3), shifts)
        for bi in range(3):
            for ci in range(2):
                ys, xs = torch.nonzero(out[bi, ci, :, :, 0] > 128, as_tuple=True)
                dx, dy = shifts[0][bi, ci].tolist()
                self.assertEqual((int(xs[0]), int(ys[0])), (30 + int(dx), 40 + int(dy)))
        self.assertTrue(bool((shifts[0] != 0).any()))

    def test_batched_prefix_matches_the_exported_forward(self):
        for preset in ("tiny", "tiny-kp"):
            with self.subTest(preset=preset):
                self.batched_matches_exported(preset)

    def batched_matches_exported(self, preset: str):
        torch.manual_seed(1)
        cfg = T.model_config(preset)
        prefix = M.Prefix(cfg).eval()
        imgs = torch.randint(0, 256, (3, 2, 96, 96, 3), dtype=torch.uint8)
        toks = torch.tensor([TK.encode(s, 16) for s in ("touch the red ball", "pick up the blue cube", "go")])
        state = torch.randn(3, 7)
        with torch.no_grad():
            kv, mask, _ = M.prefix_encode_batch(prefix, imgs, toks, state)
            for i in range(3):
                kv_i, m_i = prefix(imgs[i:i + 1], toks[i:i + 1], state[i:i + 1])
                torch.testing.assert_close(kv[:, :, i:i + 1], kv_i, rtol=1e-5, atol=1e-5)
                torch.testing.assert_close(mask[i:i + 1], m_i)


class ResumeAndExport(unittest.TestCase):
    def test_resume_is_bit_exact_and_export_uses_the_weights(self):
        eps = synthetic_episodes(8)
        with tempfile.TemporaryDirectory() as tmp:
            straight, parts = os.path.join(tmp, "straight"), os.path.join(tmp, "parts")
            T.train(TINY_CONF, "", straight, "cpu", episodes=eps)
            r1 = T.train(TINY_CONF, "", parts, "cpu", max_steps=3, episodes=eps)  # "interrupted" at step 3
            self.assertEqual(r1["step"], 3)
            r2 = T.train(TINY_CONF, "", parts, "cpu", episodes=eps)
            self.assertEqual(r2["step"], 6)
            a = torch.load(os.path.join(straight, "last.pt"))
            b = torch.load(os.path.join(parts, "last.pt"))
            for k in a["model"]:
                self.assertTrue(torch.equal(a["model"][k], b["model"][k]), k)
            self.assertEqual(a["best_val"], b["best_val"])
            self.assertTrue(os.path.exists(os.path.join(parts, "best.pt")))

            out = os.path.join(tmp, "bundle")
            BB.build("tiny-l1", 0, out, "2026-11-22T00:00:00Z", os.path.join(parts, "last.pt"), "vlad-test-l1")
            man = json.load(open(os.path.join(out, "manifest.json")))
            self.assertEqual(man["name"], "vlad-test-l1")
            stats = json.load(open(os.path.join(out, "norm_stats.json")))
            self.assertEqual(stats, b["norm_stats"])
            # the golden prefix/expert outputs are those of the checkpoint's weights
            gold = open(os.path.join(out, "golden.bin"), "rb").read()
            tens = lambda n: np.frombuffer(gold[man["golden"]["tensors"][n]["offset"]:][:man["golden"]["tensors"][n]["length"]],
                                           dtype=man["golden"]["tensors"][n]["dtype"]).reshape(man["golden"]["tensors"][n]["shape"])
            cfg = T.model_config("tiny")
            net = T.Trainable(cfg, FT.FastTokenizer(), 1)
            net.load_state_dict(b["model"])
            with torch.no_grad():
                for p in net.parameters():  # the export stores fp16-representable weights
                    p.copy_(p.half().float())
                kv, pm = net.prefix(torch.from_numpy(tens("prefix.images").copy()),
                                   torch.from_numpy(tens("prefix.tokens").copy()), torch.from_numpy(tens("prefix.state").copy()))
                o = net.l1_expert.run(torch.zeros(1, 50, 7), None, kv, pm,
                                      torch.zeros(M.lora_size(cfg)))
            np.testing.assert_allclose(tens("prefix.prefix_kv"), kv.numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(tens("expert.out"), o.numpy(), rtol=1e-4, atol=1e-5)


    def test_trainable_prefixes_train_only_those_parameters(self):
        with tempfile.TemporaryDirectory() as tmp:
            base, run = os.path.join(tmp, "base"), os.path.join(tmp, "run")
            T.train(T.merge(TINY_CONF, {"steps": 2}), "", base, "cpu", episodes=synthetic_episodes(4))
            conf = T.merge(TINY_CONF, {"steps": 3, "trainable": ["prefix.layers.", "expert."]})
            T.train(conf, "", run, "cpu", episodes=synthetic_episodes(4), init=os.path.join(base, "last.pt"))
            a = torch.load(os.path.join(base, "last.pt"))["model"]
            b = torch.load(os.path.join(run, "last.pt"))["model"]
            moved = {k for k in a if a[k].is_floating_point() and not torch.equal(a[k], b[k])}
            self.assertTrue(moved, "something trained")
            self.assertTrue(all(k.startswith(("prefix.layers.", "expert.")) for k in moved), sorted(moved))
            self.assertTrue(any(k.startswith("prefix.layers.") for k in moved) and any(k.startswith("expert.") for k in moved))

    def test_packed_weights_build_the_same_policy_as_the_checkpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            run, packed = os.path.join(tmp, "run"), os.path.join(tmp, "packed.pt")
            T.train(T.merge(TINY_CONF, {"steps": 2}), "", run, "cpu", episodes=synthetic_episodes(4))
            PW.pack(os.path.join(run, "last.pt"), packed)
            cfg = T.model_config("tiny")
            full, small = M.build_policy(cfg, 0), M.build_policy(cfg, 1)
            BB.load_weights(full, os.path.join(run, "last.pt"))
            BB.load_weights(small, packed)
            inexact = 0
            for name in ("prefix", "expert", "energy"):
                a, b = getattr(full, name).state_dict(), getattr(small, name).state_dict()
                self.assertEqual(a.keys(), b.keys())
                for k in a:
                    self.assertTrue(torch.equal(a[k], b[k]), f"{name}.{k}")
                    inexact += bool(a[k].is_floating_point() and not torch.equal(a[k], a[k].half().float()))
            self.assertGreater(inexact, 0)  # buffers that fp16 would round (e.g. the time frequencies) stayed fp32

class SamplingWeights(unittest.TestCase):
    @staticmethod
    def episode(length: int, close_at: int | None, perturbed_until: int = 0) -> R.Episode:
        actions = np.zeros((length, 7), np.float32)
        actions[:, 6] = 0.08
        if close_at is not None:
            actions[close_at:, 6] = 0.0
        pert = np.arange(length) < perturbed_until if perturbed_until else None
        return R.Episode("e", "pick up the red cube", np.zeros(16, np.int64), {}, np.zeros((length, 7), np.float32),
                         actions, True, 0, pert)

    def test_grasp_window_is_drawn_more_often_from_the_first_clean_close(self):
        eps = [self.episode(100, 60), self.episode(100, None), self.episode(100, 80, perturbed_until=20)]
        index = np.array([(e, t) for e in range(3) for t in range(100)])
        dc = {"early_weight": 1.0, "grasp_weight": 4.0, "grasp_window": [10, 2]}
        self.assertIsNone(T.sampling_weights(eps, index, {"early_weight": 1.0}, 0.03, log=lambda _: None))
        p = T.sampling_weights(eps, index, dc, 0.03, log=lambda _: None).reshape(3, 100)
        self.assertAlmostEqual(p.sum(), 1.0)
        base = p[1, 0]
        np.testing.assert_allclose(p[1], base)                      # never closes: no grasp window
        np.testing.assert_allclose(p[0, 50:63], 4 * base)           # 10 before the close .. 2 after
        np.testing.assert_allclose(p[0, :50], base)
        np.testing.assert_allclose(p[0, 63:], base)
        # a deliberate close during the perturbation does not count: the window is around the retry's close
        eps[2].actions[5:15, 6] = 0.0
        p = T.sampling_weights(eps, index, dc, 0.03, log=lambda _: None).reshape(3, 100)
        np.testing.assert_allclose(p[2, 70:83], 4 * p[1, 0])
        np.testing.assert_allclose(p[2, :70], p[1, 0])

    def test_approach_and_grasp_weights_multiply(self):
        eps = [self.episode(100, 30)]
        index = np.array([(0, t) for t in range(100)])
        p = T.sampling_weights(eps, index, {"early_weight": 2.0, "early_fraction": 0.4, "grasp_weight": 3.0,
                                            "grasp_window": [5, 0]}, 0.03, log=lambda _: None)
        np.testing.assert_allclose(p[25:31] / p[99], 6.0)   # approach and grasp
        np.testing.assert_allclose(p[:25] / p[99], 2.0)     # approach only
        np.testing.assert_allclose(p[31:40] / p[99], 2.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
