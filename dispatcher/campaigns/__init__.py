"""Campaign files: the model and its checks, the schedule, the send window, TOML line
numbers, and stored versions read back."""
