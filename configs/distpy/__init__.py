"""distpy-format example configs."""
