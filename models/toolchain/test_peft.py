"""vlad's PEFT adapters load into the toolchain's PyTorch model and reproduce vlad's chunk.

  npx tsc -p tsconfig.json && /usr/bin/python3 models/toolchain/test_peft.py

vlad (node, dist/test/train/peft-fixture.js) writes a PEFT adapter directory for the base bundle
(the golden random LoRA) and plans a chunk with it, read back from disk, through PolicyEngine (ORT
in its worker) for the golden observation and a fixed noise seed; it also plans the base chunk.
Here the bundle's PyTorch weights (models/weights/vlad-base.pt, build_bundle.py --preset kp-flow)
run the same observation and noise through model.py with the adapter loaded two ways:
load_peft_adapter (PEFT names -> model.py's lora vector) and merge_peft_adapter (PEFT's own
semantics on the named modules). Both must give vlad's chunk. Where Hugging Face's peft is installed
(not in Debian; the GPU machine's image has it), a third way: PeftModel.from_pretrained and
merge_and_unload (measured with peft 0.21.0 and torch 2.11: 1.32e-7). VLAD_PEFT_FIXTURE=DIR uses a fixture
already written (node dist/test/train/peft-fixture.js DIR) instead of running node.
"""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import build_bundle as BB  # noqa: E402
import model as M  # noqa: E402
import peft_adapter as P  # noqa: E402
import sampler as S  # noqa: E402
import tokenizer as TK  # noqa: E402

WEIGHTS = os.path.join(ROOT, "models", "weights", "vlad-base.pt")
# ORT and torch differ by float32 rounding (measured: 2e-7 after ten flow steps); the adapter
# moves the chunk by ~0.13, four orders of magnitude more than the tolerance.
ACTION_TOL = 1e-5


def golden(bundle: str, manifest: dict, name: str) -> torch.Tensor:
    t = manifest["golden"]["tensors"][name]
    with open(os.path.join(bundle, manifest["golden"]["file"]), "rb") as f:
        f.seek(t["offset"])
        raw = bytearray(f.read(t["length"]))
    dtype = {"float32": torch.float32, "uint8": torch.uint8, "int64": torch.int64}[t["dtype"]]
    return torch.frombuffer(raw, dtype=dtype).reshape(t["shape"])


class PeftTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = None
        out = os.environ.get("VLAD_PEFT_FIXTURE")
        if not out:
            script = os.path.join(ROOT, "dist", "test", "train", "peft-fixture.js")
            if not os.path.exists(script):
                raise unittest.SkipTest(f"{script} is missing: build vlad first (npx tsc -p tsconfig.json)")
            cls.tmp = tempfile.TemporaryDirectory(prefix="vlad-peft-")
            out = cls.tmp.name
            subprocess.run(["node", script, out], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "chunk.json")) as f:
            cls.fx = json.load(f)
        cls.adapter = os.path.join(out, "adapter")
        cls.bundle = cls.fx["bundle"]
        with open(os.path.join(cls.bundle, "manifest.json")) as f:
            cls.manifest = json.load(f)
        with open(os.path.join(cls.bundle, "norm_stats.json")) as f:
            cls.norm = json.load(f)
        preset = BB.PRESETS["kp-flow"]
        cls.cfg = M.ModelConfig(vocab_size=len(TK.vocab()), **preset["model"])
        cls.policy = M.build_policy(cls.cfg, 0)
        BB.load_weights(cls.policy, WEIGHTS)
        torch.set_num_threads(1)

    @classmethod
    def tearDownClass(cls):
        if cls.tmp is not None:
            cls.tmp.cleanup()

    def prefix(self):
        m = self.manifest
        s = self.norm["state"]
        # vlad's Normalizer (mean_std): (x - mean) / (std + 1e-6), in float64
        state = torch.tensor([(x - mu) / (sd + 1e-6) for x, mu, sd in zip(self.fx["state"], s["mean"], s["std"])],
                             dtype=torch.float64).to(torch.float32).reshape(1, -1)
        tokens = torch.tensor([TK.encode(self.fx["instruction"], self.cfg.max_tokens)])
        self.assertEqual(tokens.tolist()[0], m["golden"]["instruction_tokens"])
        with torch.no_grad():
            return self.policy.prefix(golden(self.bundle, m, "prefix.images"), tokens, state)

    def chunk(self, expert, lora: torch.Tensor) -> torch.Tensor:
        """model.py's flow sampler from vlad's initial noise, unnormalized as vlad does."""
        kv, mask = self.prefix()
        H, A = self.fx["horizon"], self.fx["action_dim"]
        noise = torch.tensor(self.fx["noise"], dtype=torch.float32).reshape(1, H, A)
        x = S.sample(expert, "flow_matching", kv, mask, noise, lora, self.fx["steps"]).reshape(-1).double()
        a = self.norm["actions"]
        mean = torch.tensor(a["mean"], dtype=torch.float64).repeat(H)
        std = torch.tensor(a["std"], dtype=torch.float64).repeat(H) + 1e-6
        return x * std + mean

    def test_config_names_model_modules(self):
        cfg, tensors = P.read_adapter(self.adapter)
        self.assertEqual(cfg["base_model_name_or_path"], f"{self.manifest['name']}@{self.manifest['version']}")
        self.assertEqual((cfg["r"], cfg["lora_alpha"]), (self.cfg.lora_rank, self.cfg.lora_alpha))
        root = torch.nn.ModuleDict({"prefix": self.policy.prefix, "expert": self.policy.expert})
        for key, t in tensors.items():
            self.assertTrue(key.startswith(P.KEY_PREFIX), key)
            path, part = key[len(P.KEY_PREFIX):].rsplit(".lora_", 1)
            lin = root.get_submodule(path)  # a real nn.Linear of the model, found by its PEFT name
            self.assertIsInstance(lin, torch.nn.Linear)
            want = (cfg["rank_pattern"].get(path.rsplit(".", 1)[1], cfg["r"]), lin.in_features) if part == "A.weight" \
                else (lin.out_features, cfg["rank_pattern"].get(path.rsplit(".", 1)[1], cfg["r"]))
            self.assertEqual(tuple(t.shape), want, key)
        # target_modules selects exactly the adapted expert modules, none of the prefix's or energy's
        names = [n for n, mod in root.named_modules() if isinstance(mod, torch.nn.Linear)]
        selected = sorted(n for n in names if re.fullmatch(cfg["target_modules"], n))
        self.assertEqual(selected, sorted({k[len(P.KEY_PREFIX):].rsplit(".lora_", 1)[0] for k in tensors}))

    def test_loader_gives_the_packed_vector_vlad_wrote(self):
        lora = P.load_peft_adapter(self.adapter, self.cfg)
        self.assertTrue(torch.equal(lora, golden(self.bundle, self.manifest, "expert_lora.lora")))

    def test_reproduces_vlads_chunk(self):
        lora = P.load_peft_adapter(self.adapter, self.cfg)
        got = self.chunk(self.policy.expert, lora)
        want = torch.tensor(self.fx["actions"], dtype=torch.float64)
        base = torch.tensor(self.fx["base_actions"], dtype=torch.float64)
        err = (got - want).abs().max().item()
        moved = (want - base).abs().max().item()
        base_err = (self.chunk(self.policy.expert, torch.zeros_like(lora)) - base).abs().max().item()
        print(f"\n# adapter chunk: max |torch - vlad| = {err:.2e}; base chunk: {base_err:.2e}; the adapter moves the chunk by {moved:.3f}", file=sys.stderr)
        self.assertLess(err, ACTION_TOL)
        self.assertLess(base_err, ACTION_TOL)
        self.assertGreater(moved, 100 * ACTION_TOL)

    def test_peft_semantics_merged_into_the_modules_match(self):
        """PEFT's W += (alpha / r) B A on the named modules (qkv's block-diagonal rank-3r included)
        gives the same chunk as model.py's merged_weights with the packed vector."""
        expert = copy.deepcopy(self.policy.expert)
        root = torch.nn.ModuleDict({"expert": expert})
        self.assertEqual(P.merge_peft_adapter(root, self.adapter), 4 * self.cfg.layers)
        lora0 = torch.zeros(M.lora_size(self.cfg))
        merged = self.chunk(expert, lora0)
        err = (merged - torch.tensor(self.fx["actions"], dtype=torch.float64)).abs().max().item()
        print(f"\n# PEFT-merged modules: max |torch - vlad| = {err:.2e}", file=sys.stderr)
        self.assertLess(err, ACTION_TOL)

    def test_hugging_face_peft_loads_and_merges_it(self):
        """The real PEFT library (where it is installed; Debian has no package of it) reads vlad's
        directory with PeftModel.from_pretrained, puts LoRA layers on exactly the named modules,
        loads every tensor, and merge_and_unload gives vlad's chunk."""
        try:
            import peft
        except ImportError:
            self.skipTest("Hugging Face peft is not installed here")
        expert = copy.deepcopy(self.policy.expert)
        root = torch.nn.ModuleDict({"expert": expert})
        model = peft.PeftModel.from_pretrained(root, self.adapter)
        adapted = sorted(n for n, m in model.named_modules() if isinstance(m, peft.tuners.lora.LoraLayer))
        _, tensors = P.read_adapter(self.adapter)
        want = sorted({"base_model.model." + k[len(P.KEY_PREFIX):].rsplit(".lora_", 1)[0] for k in tensors})
        self.assertEqual(adapted, want)
        # Every tensor of the file landed in a LoRA layer: PEFT's own state dict gives them back unchanged.
        back = peft.get_peft_model_state_dict(model)
        self.assertEqual(sorted(back), sorted(tensors))
        for k, t in tensors.items():
            self.assertTrue(torch.equal(back[k], t), k)
        merged = model.merge_and_unload()
        got = self.chunk(merged["expert"], torch.zeros(M.lora_size(self.cfg)))
        err = (got - torch.tensor(self.fx["actions"], dtype=torch.float64)).abs().max().item()
        print(f"\n# Hugging Face peft {peft.__version__} merge_and_unload: max |torch - vlad| = {err:.2e}", file=sys.stderr)
        self.assertLess(err, ACTION_TOL)


if __name__ == "__main__":
    unittest.main(verbosity=2)
