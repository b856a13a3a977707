#!/usr/bin/env python3
"""Compile a QAPI schema: see scripts/qapi/ and --help."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from qapi.main import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
