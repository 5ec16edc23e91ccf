"""Throughput of the churn model in Python onnxruntime, for comparison with
the Rust figures of `churn bench`: the same model file, the same batch sizes,
features read ready-made from the export (so this is the model alone)."""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--model-dir", type=Path, required=True)
    args.add_argument("--features", type=Path, required=True)
    opts = args.parse_args()
    card = json.loads((opts.model_dir / "model-card.json").read_text())
    header = opts.features.open().readline().strip().split(",")
    columns = [header.index(f) for f in card["features"]]
    rows = np.loadtxt(opts.features, delimiter=",", skiprows=1, usecols=columns,
                      dtype=np.float32, max_rows=23_570)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(opts.model_dir / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    print(f"Python onnxruntime {ort.__version__}, model {card['version']}, {len(rows)} rows:")
    for size in (1, 32, 1024):
        started = time.perf_counter()
        for start in range(0, len(rows), size):
            session.run([card["onnx"]["output"]], {card["onnx"]["input"]: rows[start:start + size]})
        rate = len(rows) / (time.perf_counter() - started)
        print(f"  batch {size:>5}: {rate:>10.0f} rows/s (model only)")


if __name__ == "__main__":
    main()
