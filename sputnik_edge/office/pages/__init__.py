"""The office's web pages (server-rendered Jinja2 from ``sputnik_edge/web``, a little plain JS):
``routes`` (login, Today, Timesheet, Devices, Unknown visitors, ``install``), ``people``
(Employees), ``audit_page``, with ``access`` (roles, login redirect) and ``context`` (language,
menu, CSRF token for the scripts)."""
