"""Train a model: python train.py --config FILE [--set KEY=VALUE ...] [--out DIR]"""

import sys

from textgnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
