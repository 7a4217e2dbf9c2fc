"""How large Chaudhary (2025)'s plastic weights can get against its slow weights. Each token's
write is e * alpha * Delta with e = 0.2 sigmoid(tilde_eta) * min(1, 1 / ||Delta||) and alpha = 0.02
(never trained), so it adds at most 0.2 * 0.02 = 0.004 to the norm of the weights' plastic part
over the whole network (||Delta|| is taken over every plastic layer's weights), whatever the
inputs: after t tokens that norm is at most 0.004 t. Measured here on its model with its default
sizes at initialisation, one trial of random inputs (as check_gradients.py): each plastic
layer's ||w_plastic|| against its ||weight||, after 10, 25 and 40 tokens.

    git clone https://github.com/sidcraftscode/hebbian-transformer && git -C hebbian-transformer checkout ca667ad
    .venv/bin/python docs/results/duan-study/chaudhary-2025/fast_weight_size.py hebbian-transformer
"""

import sys

import torch

sys.path.insert(0, sys.argv[1])  # their repository: its modules import as src.*
from src.models.plastic_transformer import PlasticTransformerModel  # noqa: E402

torch.manual_seed(0)
CHECKPOINTS = (10, 25, 40)
for rule in ("hebbian", "gradient"):
    model = PlasticTransformerModel(input_dim=21, output_dim=1, rule=rule)
    state = model.init_state(torch.device("cpu"))
    layers = [(f"block {b} {name}", block.feed_forward.__getattr__(name), state["blocks"][b]["ff"][name])
              for b, block in enumerate(model.blocks) for name in ("fc1", "fc2")]
    sizes = {label: [] for label, _, _ in layers}
    total = []
    for t in range(1, max(CHECKPOINTS) + 1):
        model.forward_step(torch.randn(21), state)
        if t in CHECKPOINTS:
            for label, _, s in layers:
                sizes[label].append(s["w_plastic"].norm().item())
            total.append(sum(s["w_plastic"].square().sum() for _, _, s in layers).sqrt().item())
    print(f"{rule}: ||w_plastic|| of all layers after {' / '.join(map(str, CHECKPOINTS))} tokens: "
          + " / ".join(f"{v:.4f}" for v in total) + f" (bound 0.004 t: {' / '.join(f'{0.004 * t:.2f}' for t in CHECKPOINTS)})")
    for label, layer, _ in layers:
        print(f"  {label}: ||weight|| {layer.weight.norm().item():.2f}, ||w_plastic|| "
              + " / ".join(f"{v:.4f}" for v in sizes[label]))
