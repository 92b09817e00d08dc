"""Runs an octrain TorchScript export in PyTorch for tests/deploy/pytorch_export_test.cpp.

usage: run_exported_model.py MODEL.pt INPUTS.pt OUTPUTS.pt [STATE_DICT.pt]

INPUTS.pt holds {"x": raw inputs, "x_standardised": the inputs octrain's network sees}. OUTPUTS.pt
gets forward(x), network(x_standardised), predict_class(x), the module's attributes and, with a
state dict, the largest difference between its tensors and the module's (-1 on differing keys).
"""
import json
import sys

import torch


def main():
    model_path, inputs_path, outputs_path = sys.argv[1:4]
    extra = {"octrain.json": ""}
    model = torch.jit.load(model_path, _extra_files=extra)
    model.eval()
    inputs = torch.load(inputs_path)
    with torch.no_grad():
        out = {
            "forward": model(inputs["x"]),
            "network": model.network(inputs["x_standardised"]),
            "predict_class": model.predict_class(inputs["x"]),
            "input_standardised": torch.tensor(int(model.input_standardised)),
            "num_classes": torch.tensor(model.num_classes),
            "metadata_keys": torch.tensor(len(json.loads(extra["octrain.json"]))),
        }
        if len(sys.argv) > 4:
            state = torch.load(sys.argv[4])
            mine = dict(model.state_dict())
            if sorted(state) != sorted(mine) or not all(
                isinstance(v, torch.Tensor) for v in state.values()
            ):
                out["state_dict_difference"] = torch.tensor(-1.0)
            else:
                out["state_dict_difference"] = torch.tensor(
                    max(float((state[k].double() - mine[k].double()).abs().max()) for k in state)
                )
    torch.save(out, outputs_path)


if __name__ == "__main__":
    main()
