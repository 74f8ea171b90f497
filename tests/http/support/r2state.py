"""Prints the local R2 state of a `wrangler dev --persist-to DIR` as JSON: objects (the
Worker keeps each upload's bytes at `o/{file_id}`, with custom metadata owner,
original_name, upload_ms, expires_ms, and `parts`: the sizes of the parts of an object
completed from a multipart upload, by part number, empty for one put) and multipart uploads
(state 0 in progress, 1 completed, 2 aborted), read straight from miniflare's SQLite files
(read-only)."""
import glob
import json
import os
import sqlite3
import sys

state = {"objects": [], "multipart": []}
pattern = os.path.join(sys.argv[1], "v3", "r2", "miniflare-R2BucketObject", "*.sqlite")
for path in glob.glob(pattern):
    if os.path.basename(path).startswith("metadata"):
        continue
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    parts = {}
    for key, size in db.execute(
        "SELECT object_key, size FROM _mf_multipart_parts WHERE object_key IS NOT NULL ORDER BY object_key, part_number"
    ):
        parts.setdefault(key, []).append(size)
    for key, size, custom in db.execute("SELECT key, size, custom_metadata FROM _mf_objects"):
        state["objects"].append(
            {"key": key, "size": size, "custom": json.loads(custom) if custom else {}, "parts": parts.get(key, [])}
        )
    for upload_id, key, st in db.execute("SELECT upload_id, key, state FROM _mf_multipart_uploads"):
        state["multipart"].append({"upload_id": upload_id, "key": key, "state": st})
    db.close()
json.dump(state, sys.stdout)
