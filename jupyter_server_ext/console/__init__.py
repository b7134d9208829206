"""The sessions console (GET /lean/console): a page listing Lean sessions, with their live
JSON-RPC traffic, served by the extension itself (no CDN)."""
