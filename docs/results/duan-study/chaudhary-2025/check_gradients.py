"""Whether a task gradient reaches the plasticity parameters of Chaudhary (2025)'s model: alpha and beta
(per-synapse plasticity), the head's row that sets eta (the neuromodulator) and, for the gradient rule,
internal_proj (the inner loss). One trial of 16 steps with their default sizes, a loss on every step's
output, backward, as their training loops do (``loss.backward()`` on the task loss alone).

    git clone https://github.com/sidcraftscode/hebbian-transformer && git -C hebbian-transformer checkout ca667ad
    .venv/bin/python docs/results/duan-study/chaudhary-2025/check_gradients.py hebbian-transformer
"""

import sys

import torch

sys.path.insert(0, sys.argv[1])  # their repository: its modules import as src.*
from src.models.plastic_transformer import PlasticTransformerModel  # noqa: E402

torch.manual_seed(0)
for rule in ("hebbian", "gradient"):
    model = PlasticTransformerModel(input_dim=21, output_dim=1, rule=rule)
    state = model.init_state(torch.device("cpu"))
    loss = sum(model.forward_step(torch.randn(21), state)["logits"].pow(2).sum() for _ in range(16))
    loss.backward()
    plastic = {name: p.grad for name, p in model.named_parameters()
               if name.endswith((".alpha", ".beta")) or name.startswith("internal_proj")}
    reached = [name for name, g in plastic.items() if g is not None and g.abs().sum() > 0]
    eta_row = model.head.weight.grad[model.output_dim].abs().sum().item()
    slow = sum(p.grad.abs().sum().item() for name, p in model.named_parameters()
               if p.grad is not None and name.startswith("blocks") and name.endswith("weight"))
    print(f"{rule}: {len(plastic)} plasticity parameters, a gradient reaches {len(reached)}; "
          f"the eta row of the head: |grad| {eta_row:g}; the blocks' slow weights: |grad| {slow:.1f}")
