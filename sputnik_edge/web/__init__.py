"""Web pages of the device and the office: templates, static files, translations."""
