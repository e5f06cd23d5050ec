"""Runs PyPI scim2-tester's checks against a SCIM base; prints one JSON line per check and
a summary line. Usage: check.py BASE_URL TOKEN"""

import json
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, token = sys.argv[1], sys.argv[2]
http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
client = SyncSCIMClient(http)
results = check_server(client)
counts = {}
for r in results:
    status = r.status.name if isinstance(r.status, Status) else str(r.status)
    counts[status] = counts.get(status, 0) + 1
    print(json.dumps({"status": status, "title": r.title, "description": r.description,
                      "reason": str(r.reason)[:300] if r.reason else None}))
print(json.dumps({"summary": counts}))
