"""Four stand-in source systems of a fictional company, generated so tests know the truth.

HR (REST, OAuth2), CRM (REST, API key), ERP (SQL) and finance (GBK CSV exports), all derived
deterministically from (seed, scale, day).
"""

from demo_enterprise.demo import DemoEnterprise
from demo_enterprise.erp import write_erp
from demo_enterprise.generate import (
    NOW0,
    STATUSES,
    Enterprise,
    Truth,
    generate,
    now,
    round_half_up,
)
from demo_enterprise.servers import CRMServer, HRServer

__all__ = [
    "NOW0",
    "STATUSES",
    "CRMServer",
    "DemoEnterprise",
    "Enterprise",
    "HRServer",
    "Truth",
    "generate",
    "now",
    "round_half_up",
    "write_erp",
]
