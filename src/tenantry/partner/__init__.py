"""The partner program: its operators, the Collaboration agreement, publisher names."""
