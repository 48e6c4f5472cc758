"""Repository root: enables pytester for the plugin's own tests, nothing else."""

pytest_plugins = ["pytester"]
