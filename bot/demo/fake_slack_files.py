"""Two corners of the fake Slack Web API (bot/demo/fake_slack.py): files.uploadV2's steps and
files.delete, and the user-group methods. Kept apart so the fake's core (serving, recording,
scripted failures) and its message methods (bot/demo/fake_slack_methods.py) read on their own."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any


class FilesAndGroups:
    """Mixed into `FakeSlack`, which holds the state these methods read and write."""

    files: dict[str, dict[str, Any]]  # file ID -> what was uploaded, its title and channels
    next_file_ids: list[str]  # IDs step 1 hands out before its own (a test's odd ones)
    usergroups: dict[str, dict[str, Any]]
    _lock: threading.Lock
    _ts: Iterator[int]

    def _note(self, method: str, params: dict[str, Any]) -> None:
        """Record a call (FakeSlack keeps the record)."""

    def _upload_url(self, file_id: str) -> str:
        """Where step 2 of an upload POSTs the bytes (FakeSlack knows its address)."""
        return f"/upload/{file_id}"

    def _receive_file(self, request: BaseHTTPRequestHandler, file_id: str) -> None:
        """Step 2 of files.uploadV2: the bytes, POSTed to the URL step 1 handed out."""
        data = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        with self._lock:
            known = file_id in self.files
            if known:
                self.files[file_id]["content"] = data
            self._note("file_upload", {"id": file_id, "bytes": len(data)})
        request.send_response(200 if known else 404)
        request.send_header("Content-Type", "text/plain")
        request.end_headers()
        request.wfile.write(f"OK - {len(data)}".encode())

    def _api_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            file_id = self.next_file_ids.pop(0) if self.next_file_ids else f"F{next(self._ts):08d}"
            self.files[file_id] = {
                "id": file_id,
                "name": params.get("filename"),
                "alt_txt": params.get("alt_txt"),
                "content": None,
                "channels": [],
            }
        return {"ok": True, "upload_url": self._upload_url(file_id), "file_id": file_id}

    def _api_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files")
        files = json.loads(files) if isinstance(files, str) else files or []
        done = []
        with self._lock:
            for entry in files:
                found = self.files.get(entry.get("id", ""))
                if found is None or found["content"] is None:
                    return {"ok": False, "error": "file_not_found"}
                found["title"] = entry.get("title")
                if params.get("channel_id"):
                    found["channels"].append(params["channel_id"])
                done.append({"id": found["id"], "title": found["title"]})
        return {"ok": True, "files": done}

    def _api_files_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = self.files.pop(params.get("file", ""), None)
        return {"ok": True} if found else {"ok": False, "error": "file_not_found"}

    def _api_usergroups_list(self, params: dict[str, Any]) -> dict[str, Any]:
        disabled = str(params.get("include_disabled", "")).lower() in ("1", "true")
        with self._lock:
            groups = [
                {k: v for k, v in g.items() if k != "users"}
                for g in self.usergroups.values()
                if disabled or not g["date_delete"]
            ]
        return {"ok": True, "usergroups": groups}

    def _api_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(params.get("usergroup", ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group["users"])}
