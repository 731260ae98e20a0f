from sputnik_edge.cli import main

raise SystemExit(main())
