from unitrack.cli import main

raise SystemExit(main())
