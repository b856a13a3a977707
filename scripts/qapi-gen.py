#!/usr/bin/env python3
"""Compile a QAPI schema: see scripts/qapi/ and --help."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Keep the source tree free of __pycache__ directories.
sys.dont_write_bytecode = True

from qapi.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
