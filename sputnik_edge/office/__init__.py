"""The office server's pure core: timesheets, exports and security helpers (no database, no HTTP)."""
