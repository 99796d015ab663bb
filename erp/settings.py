"""The ERP data layer's variables, declared once (docs/configuration.md is generated from them).

erp/ is a library: the action server, the gateway's reports and the setup all read the ERP
through it. Its engines, stores and secret are built once per process, on first use (or at
the action server's warm-up), and read their variable then, through the declarations below.
"""

from __future__ import annotations

from envvars import ROOT, Variables, integer, path, secret, text

DEFAULT_MAPPING = ROOT / "erp" / "mappings" / "demo.yml"
MIN_SECRET_CHARS = 16


ERP = Variables(
    "erp", "The ERP data layer (read by the action server, the gateway's reports and the setup)"
)

DATABASE_URL = ERP.add(
    "ERP_DATABASE_URL",
    "",
    "SQLAlchemy URL of the ERP database the assistant reads (read-only connections)",
    text(),
    shown_default="sqlite:///var/erp.db",
    secret=True,
)
WRITE_DATABASE_URL = ERP.add(
    "ERP_WRITE_DATABASE_URL",
    "",
    "SQLAlchemy URL for the changes the assistant makes; unset: the demo ERP's own database, "
    "and no changes in another company's ERP",
    text(),
    secret=True,
)
STATEMENT_TIMEOUT_MS = ERP.add(
    "ERP_STATEMENT_TIMEOUT_MS",
    5000,
    "how long one ERP query may run, in ms",
    integer(100, 600_000),
)
POOL_SIZE = ERP.add(
    "ERP_POOL_SIZE",
    10,
    "read-only connections kept open (as many again at peaks)",
    integer(1, 200),
)
MAPPING = ERP.add(
    "ERP_MAPPING",
    DEFAULT_MAPPING,
    "the mapping of the company's ERP schema (erp/mappings/, docs/erp-mapping.md)",
    path(),
)
STATE_DATABASE_URL = ERP.add(
    "ACTIONS_STATE_DATABASE_URL",
    "",
    "postgresql://user@host:port/database shared by every action server for the lockout "
    "counts and the audit trail; unset: SQLite files (ACTIONS_STATE_DB, AUDIT_DB)",
    text(),
    secret=True,
)
STATE_DATABASE_PASSWORD = ERP.add(
    "ACTIONS_STATE_DATABASE_PASSWORD",
    "",
    "the password of ACTIONS_STATE_DATABASE_URL, kept apart from it",
    text(),
    secret=True,
)
AUDIT_DB = ERP.add(
    "AUDIT_DB",
    ROOT / "var" / "audit.db",
    "SQLite file of the audit trail (unless ACTIONS_STATE_DATABASE_URL is set)",
    path(),
)
VERIFICATION_SECRET = ERP.add(
    "VERIFICATION_SECRET",
    "",
    "signs customers' verification, shared by the action server and the gateway; unset: "
    "a random one per process (verification then lasts as long as the process)",
    secret(MIN_SECRET_CHARS),
    secret=True,
    shown_default="(random per process)",
)
COMPANY_FACTS_FILE = ERP.add(
    "COMPANY_FACTS_FILE",
    ROOT / "data" / "company.yml",
    "the company facts (return window, RMA validity, reasons) the returns are made by; "
    "the documents state the same file (retrieval)",
    path(),
)
BENCHMARKS_DIR = ERP.add(
    "BENCHMARKS_DIR",
    ROOT.parent / "shared" / "benchmarks",
    "where the sample ERPs (Northwind, classicmodels) are found by `python -m erp load-sample`",
    path(),
    shown_default="../shared/benchmarks",
)
