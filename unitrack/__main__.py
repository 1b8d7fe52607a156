from unitrack.app.cli import main

raise SystemExit(main())
