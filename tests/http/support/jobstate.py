"""Prints the storage of every background job's Durable Object (`UploadJob`) of a
`wrangler dev --persist-to DIR` as JSON: one list per object of the keys its storage API
holds (`job`, and `part:NNNNNN` for each part stored while the transfer runs), read
straight from miniflare's SQLite files (read-only)."""
import glob
import json
import os
import sqlite3
import sys

objects = []
pattern = os.path.join(sys.argv[1], "v3", "do", "*-UploadJob", "*.sqlite")
for path in sorted(glob.glob(pattern)):
    if os.path.basename(path).startswith("metadata"):
        continue
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    objects.append([key for (key,) in db.execute("SELECT key FROM _cf_KV ORDER BY key")])
    db.close()
json.dump(objects, sys.stdout)
