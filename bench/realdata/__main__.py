"""python -m bench.realdata: see the package's docstring."""
from . import main

raise SystemExit(main())
