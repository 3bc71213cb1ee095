"""The staff dashboard: the link-worker queue, the escalation log, rule checks, users and rota.

Server-rendered (Jinja2), no build step and no scripts. Mounted at `/` of the handoff app by
`handoff.api.create_app`; see docs/dashboard.md.
"""

from handoff.dashboard.app import create_dashboard
from handoff.dashboard.config import DashboardConfig

__all__ = ["DashboardConfig", "create_dashboard"]
