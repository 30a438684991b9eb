"""`/_emulator/...`: the control endpoint through which a test in another process sets faults,
latency, exec scripts and objects."""

from __future__ import annotations

from aiohttp import web


class ControlMixin:
    """Maps control actions to the emulator's own methods."""

    async def _control(self, request: web.Request) -> web.Response:
        action = request.path[len("/_emulator/") :].strip("/")
        try:
            body = {}
            if request.method == "POST" and request.can_read_body:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
            if action == "exec_log" and request.method == "GET":
                return web.json_response(self.exec_log)
            if action == "snapshots" and request.method == "GET":
                return web.json_response(self.snapshots.settings())
            if action == "requests" and request.method == "GET":
                return web.json_response(
                    [
                        {"verb": v, "resource": r, "count": c}
                        for (v, r), c in sorted(self.requests.items(), key=str)
                    ]
                )
            if request.method != "POST":
                return web.json_response({"error": "method not allowed"}, status=405)
            if action == "latency":
                self.set_latency(body.get("seconds", 0), body.get("resource"))
            elif action == "fail":
                keys = ("status", "resource", "namespace", "times", "verb", "skip")
                self.fail(**{k: body[k] for k in keys if k in body})
            elif action == "snapshots":
                self.set_snapshot_behaviour(
                    **{k: body[k] for k in ("delay", "fail", "never_ready") if k in body}
                )
                return web.json_response(self.snapshots.settings())
            elif action == "clear":
                self.clear_faults()
            elif action == "script_exec":
                self.script_exec(**body)
            elif action == "clear_exec_scripts":
                self.clear_exec_scripts()
            elif action == "add":
                return web.json_response(self.add(body))
            elif action == "delete":
                self.delete(body["group_resource"], body.get("namespace"), body["name"])
            else:
                return web.json_response({"error": f"unknown control action {action!r}"}, status=404)
        except (ValueError, TypeError, KeyError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"ok": True})
