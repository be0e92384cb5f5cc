"""The YAML front end: a spec file, read without torch (`spec`, `expr`), bound to torch
(`bind`), and run to a report (`run`)."""
