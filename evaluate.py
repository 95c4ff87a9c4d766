"""Evaluate a saved model: python evaluate.py --model DIR --data NAME_OR_PATH [--split test]"""

import sys

from textgnn.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
