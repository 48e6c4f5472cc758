"""Reports: the session store, the terminal table, the JSON file. No pytest import."""
