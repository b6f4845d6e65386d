"""Four stand-in source systems of a fictional company, simulated so tests know the truth.

HR (REST, OAuth2), CRM (REST, API key), ERP (SQL) and finance (GBK CSV exports), all derived
deterministically from (seed, scale, day).
"""

from demo_enterprise.clock import NOW0, now
from demo_enterprise.enterprise import DemoEnterprise
from demo_enterprise.erp import write_erp
from demo_enterprise.sales import STATUSES, round_half_up
from demo_enterprise.servers import CRMServer, HRServer
from demo_enterprise.simulation import Enterprise, Truth, simulate

__all__ = [
    "NOW0",
    "STATUSES",
    "CRMServer",
    "DemoEnterprise",
    "Enterprise",
    "HRServer",
    "Truth",
    "now",
    "round_half_up",
    "simulate",
    "write_erp",
]
