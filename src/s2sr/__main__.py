import sys

from s2sr.cli.main import main

sys.exit(main())
